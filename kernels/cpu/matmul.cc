// kernels/cpu/matmul.cc — Matmul: out = x · wᵀ (+ bias), AVX2/FMA: fp32 x and
// out, w in fp32, bf16 or fp16 (widened in registers, simd::Elem).
//
// Register-blocked micro-kernel: a tile of kMr rows of x by kNr rows of w
// (output columns) keeps kMr*kNr 8-lane accumulators vectorised along k, so
// neither operand needs packing and w is read straight from its [n, k] layout.
//
// The weight type W is a template parameter of every level below; widening is
// exact, so a bf16/fp16 w gives the bits of the fp32 instance on the widened
// values (tests compare the two bit for bit).
//
// Batch invariance: every out[i, j] is simd::Dot's order — lane l accumulates
// k = 8t + l with one FMA per t in increasing t, the k tail through a masked
// load, then the fixed lane tree of simd::Reduce4, then + bias[j]. Edge tiles
// are the same template with fewer rows/columns, so an element's arithmetic
// does not depend on m, n, which tile holds it, or which thread runs it.
//
// Threading: the pool splits output columns (tiles of kNr); each thread sweeps
// its columns in L2-sized panels and, inside a panel, rows in L1-sized blocks.
//
// Paths (kernels/cpu_isa.h picks the instruction set), all with the
// arithmetic above (so the same bits) except the last: m = 1 (decode at
// batch 1, memory-bound) reads each thread's columns as 8 long sequential
// streams (Gemv8); m >= kWidenMinRows goes to matmul_avx512.h's zmm tiles on
// the avx512 path; elsewhere a 16-bit w with m >= kWidenMinRows is widened
// into an fp32 panel for the AVX2 tiles, and everything else uses the AVX2
// tiles directly. A bf16 w on the avx512 path of a CPU with AVX512_BF16 goes
// to matmul_bf16_dot.h (vdpbf16ps, x rounded to bf16: its own bits) for
// every m.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "common/thread_pool.h"
#include "kernels/cpu/matmul_avx512.h"
#include "kernels/cpu/matmul_bf16_dot.h"
#include "kernels/cpu/matmul_panel.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu_isa.h"
#include "kernels/ops.h"

namespace inferd::kernels {
namespace {

// 4 x 3 tiles: 12 accumulators, 3 w vectors and the x vector fill the 16
// ymm registers exactly; each k step is 12 FMAs (6 cycles on 2 ports)
// against 7 loads. (3 x 4 tiles needed 17 registers, and the compiler
// re-read one w vector from memory for every row: 9 loads a step; 4 x 3
// measured 15-25% faster on the 1B shapes at M = 64 and 512, avx2 path.)
constexpr int kMr = 4;    // rows of x per tile
constexpr int kNr = 3;    // rows of w (output columns) per tile
constexpr int kWide = 8;  // columns per tile for a lone leftover row
// Bytes of w per panel (kept in L2 while every row block passes over it) and
// of x per row block (kept in L1 while the panel's columns pass over it).
constexpr int64_t kPanelBytes = cpu_internal::kMatmulPanelBytes;
constexpr int64_t kRowBlockBytes = 16 * 1024;
// A 16-bit w is widened panel by panel once at least this many rows share it.
constexpr int64_t kWidenMinRows = 4;
// The zmm tiles' k block: past it, a panel's columns are computed block by
// block with the accumulators parked, so the m x kZmmKBlock slice of x
// each panel sweeps stays in L2 (64 rows: 512 KiB) beside the panel's w,
// instead of all of x streaming from L3 for every panel. Down projection of
// the 1B shapes (k = 8192, fp32 w, M = 64/512), alternating runs: 261-314 ->
// 330-368 GFLOP/s; blocks of 512 or 1024, or also blocking rows by 32-128,
// measured no better or slower, and k <= 2048 gains nothing. (The same
// blocking of the bf16 vdpbf16ps tiles measured slower: 642-713 -> 607-640
// GFLOP/s on that shape.)
constexpr int64_t kZmmKBlock = 2048;
// Rows per block of the zmm tiles when k is blocked: bounds the parked
// accumulators (512 rows x a panel: 480 KiB a thread for fp32 w, 960 KiB
// for fp16, whose panels hold twice the columns). Unblocked k keeps all m
// rows in one block, so each panel's w is read once.
constexpr int64_t kZmmBlockRows = 512;

// Whether m rows go to matmul_avx512.h's zmm tiles (which alone take x rows
// ldx != k apart: Matmul pads x for them, MatmulColumns dispatches to them).
bool UsesZmmTiles(int64_t m) { return m >= kWidenMinRows && ActiveCpuIsa() == CpuIsa::kAvx512; }

// out[i, j] for i < MR, j < NR of one tile. x rows are ldx apart, w rows k
// apart, out rows ldo apart. kTail = (k % 8 != 0); the kTail = false
// instantiation only drops a branch that would not run (it keeps the
// accumulators in registers), so both give the same bits.
template <int MR, int NR, bool kTail, typename W>
inline void Tile(const float* x, int64_t ldx, const W* w, int64_t k, const float* bias, float* out,
                 int64_t ldo) {
  using E = simd::Elem<W>;
  __m256 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  }
  int64_t t = 0;
  for (; t + 8 <= k; t += 8) {
    __m256 wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) wv[j] = E::Load(w + j * k + t);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 xv = _mm256_loadu_ps(x + i * ldx + t);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (kTail && t < k) {
    const __m256i mask = simd::TailMask(k - t);
    __m256 wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) wv[j] = E::LoadPartial(w + j * k + t, k - t);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 xv = simd::LoadPartial(x + i * ldx + t, mask);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int j0 = 0; j0 < NR; j0 += 4) {
      const __m128 s =
          simd::Reduce4(acc[i][j0], j0 + 1 < NR ? acc[i][j0 + 1] : zero,
                        j0 + 2 < NR ? acc[i][j0 + 2] : zero, j0 + 3 < NR ? acc[i][j0 + 3] : zero);
      float* o = out + i * ldo + j0;
      if (NR - j0 >= 4) {
        _mm_storeu_ps(o, bias != nullptr ? _mm_add_ps(s, _mm_loadu_ps(bias + j0)) : s);
        continue;
      }
      alignas(16) float sums[4];
      _mm_store_ps(sums, s);
      const int cols = NR - j0;
      if (bias != nullptr) {
#pragma GCC unroll 8
        for (int j = 0; j < cols; ++j) o[j] = sums[j] + bias[j0 + j];
      } else {
#pragma GCC unroll 8
        for (int j = 0; j < cols; ++j) o[j] = sums[j];
      }
    }
  }
}

// A tile of `rows` (1..MR) rows and `cols` (1..NR) columns: the same
// template as a full tile, so the same arithmetic per element.
template <bool kTail, int NR, int MR = kMr, typename W>
inline void TileRows(int64_t rows, const float* x, int64_t ldx, const W* w, int64_t k,
                     const float* bias, float* out, int64_t ldo) {
  if (rows == MR) {
    Tile<MR, NR, kTail>(x, ldx, w, k, bias, out, ldo);
  } else if constexpr (MR > 1) {
    TileRows<kTail, NR, MR - 1>(rows, x, ldx, w, k, bias, out, ldo);
  }
}

template <bool kTail, int NR = kNr, typename W>
inline void AnyTile(int64_t rows, int64_t cols, const float* x, int64_t ldx, const W* w, int64_t k,
                    const float* bias, float* out, int64_t ldo) {
  if (cols == NR) {
    TileRows<kTail, NR>(rows, x, ldx, w, k, bias, out, ldo);
  } else if constexpr (NR > 1) {
    AnyTile<kTail, NR - 1>(rows, cols, x, ldx, w, k, bias, out, ldo);
  }
}

// ---- One row of x (decode at batch 1): memory-bound, w read once. ----
// Eight accumulators as in Tile<1, 8>, but for columns c + s * stride
// (s = 0..7) rather than eight adjacent ones, so a thread's columns are read
// as 8 long sequential streams (each row of w follows the previous one in
// memory) instead of restarting 8 short ones every 8 rows, which keeps the
// hardware prefetchers trained. Per element the arithmetic is Tile<1, 8>'s.
constexpr int kStreams = 8;
// Software prefetch distance ahead of each stream, in bytes (1B shapes, bf16:
// 0 B 36 GB/s, 512 B 46, 1 KiB 48, 2 KiB 47, 4 KiB 41).
constexpr int64_t kGemvPrefetchBytes = 1024;

template <bool kTail, typename W>
inline void Gemv8(const float* x, const W* w, int64_t k, int64_t stride, const float* bias,
                  float* out) {
  using E = simd::Elem<W>;
  constexpr int64_t kLine = 64 / static_cast<int64_t>(sizeof(W));  // elements per cache line
  const int64_t seg = stride * k;                                  // elements between streams
  __m256 acc[kStreams];
#pragma GCC unroll 8
  for (int s = 0; s < kStreams; ++s) acc[s] = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + kLine <= k; t += kLine) {
#pragma GCC unroll 8
    for (int s = 0; s < kStreams; ++s) {
      _mm_prefetch(reinterpret_cast<const char*>(w + s * seg + t) + kGemvPrefetchBytes,
                   _MM_HINT_T0);
    }
#pragma GCC unroll 8
    for (int64_t u = 0; u < kLine; u += 8) {
      const __m256 xv = _mm256_loadu_ps(x + t + u);
#pragma GCC unroll 8
      for (int s = 0; s < kStreams; ++s) {
        acc[s] = _mm256_fmadd_ps(xv, E::Load(w + s * seg + t + u), acc[s]);
      }
    }
  }
  for (; t + 8 <= k; t += 8) {
    const __m256 xv = _mm256_loadu_ps(x + t);
#pragma GCC unroll 8
    for (int s = 0; s < kStreams; ++s)
      acc[s] = _mm256_fmadd_ps(xv, E::Load(w + s * seg + t), acc[s]);
  }
  if (kTail && t < k) {
    const __m256 xv = simd::LoadPartial(x + t, simd::TailMask(k - t));
#pragma GCC unroll 8
    for (int s = 0; s < kStreams; ++s) {
      acc[s] = _mm256_fmadd_ps(xv, E::LoadPartial(w + s * seg + t, k - t), acc[s]);
    }
  }
  alignas(16) float sums[kStreams];
  _mm_store_ps(sums, simd::Reduce4(acc[0], acc[1], acc[2], acc[3]));
  _mm_store_ps(sums + 4, simd::Reduce4(acc[4], acc[5], acc[6], acc[7]));
#pragma GCC unroll 8
  for (int s = 0; s < kStreams; ++s) {
    out[s * stride] = bias != nullptr ? sums[s] + bias[s * stride] : sums[s];
  }
}

// Output columns [j_begin, j_end) of one x row: 8 streams of `stride`
// consecutive columns, then the leftover columns with the ordinary tiles.
template <bool kTail, typename W>
void GemvColumns(const float* x, const W* w, const float* bias, int64_t k, float* out,
                 int64_t j_begin, int64_t j_end) {
  const int64_t stride = (j_end - j_begin) / kStreams;
  for (int64_t r = 0; r < stride; ++r) {
    const int64_t j = j_begin + r;
    Gemv8<kTail>(x, w + j * k, k, stride, bias != nullptr ? bias + j : nullptr, out + j);
  }
  for (int64_t j = j_begin + kStreams * stride; j < j_end; j += kNr) {
    AnyTile<kTail>(1, std::min<int64_t>(kNr, j_end - j), x, k, w + j * k, k,
                   bias != nullptr ? bias + j : nullptr, out + j, 0);
  }
}

// Output columns [jp, jp_end) (one panel) for all m rows. `w` points at w's
// row jp; out and bias are indexed by absolute column.
template <bool kTail, typename W>
void MatmulPanel(const float* x, const W* w, const float* bias, int64_t m, int64_t n, int64_t k,
                 float* out, int64_t jp, int64_t jp_end, int64_t block_rows) {
  const int64_t w_row_bytes = k * static_cast<int64_t>(sizeof(W));
  for (int64_t ib = 0; ib < m; ib += block_rows) {
    const int64_t ib_end = std::min(m, ib + block_rows);
    // (Fewer than kMr rows: no full row tile, straight to the leftovers.)
    for (int64_t j = jp; ib_end - ib >= kMr && j < jp_end; j += kNr) {
      const int64_t cols = std::min<int64_t>(kNr, jp_end - j);
      const W* wj = w + (j - jp) * k;
      const float* bj = bias != nullptr ? bias + j : nullptr;
      if (j + 2 * kNr <= jp_end) {
        // Pull the next column tile of w towards L1 while this one computes
        // (w streams from L3 for large n).
        const char* next = reinterpret_cast<const char*>(wj + kNr * k);
        for (int64_t b = 0; b < kNr * w_row_bytes; b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
      }
      if (cols == kNr) {
        for (int64_t i = ib; i + kMr <= ib_end; i += kMr) {
          Tile<kMr, kNr, kTail>(x + i * k, k, wj, k, bj, out + i * n + j, n);
        }
      } else {
        for (int64_t i = ib; i + kMr <= ib_end; i += kMr) {
          AnyTile<kTail>(kMr, cols, x + i * k, k, wj, k, bj, out + i * n + j, n);
        }
      }
    }
    // Leftover rows (< kMr): a single row takes kWide columns at a time so
    // it still has enough independent FMA chains (this is all of M = 1).
    const int64_t i = ib + (ib_end - ib) / kMr * kMr;
    const int64_t rows = ib_end - i;
    if (rows == 0) continue;
    int64_t j = jp;
    if (rows == 1) {
      for (; j + kWide <= jp_end; j += kWide) {
        Tile<1, kWide, kTail>(x + i * k, k, w + (j - jp) * k, k,
                              bias != nullptr ? bias + j : nullptr, out + i * n + j, n);
      }
    }
    for (; j < jp_end; j += kNr) {
      AnyTile<kTail>(rows, std::min<int64_t>(kNr, jp_end - j), x + i * k, k, w + (j - jp) * k, k,
                     bias != nullptr ? bias + j : nullptr, out + i * n + j, n);
    }
  }
}

// Output columns [j_begin, j_end) for all m rows, panel by panel. With a
// 16-bit w and enough rows to share it, each panel is first widened into a
// per-thread fp32 copy (exact), so the widening is paid once per panel, not
// once per row tile; the arithmetic, and so every bit, is the same as the
// direct path's.
template <bool kTail, typename W>
void MatmulColumns(const float* x, int64_t ldx, const W* w, const float* bias, int64_t m, int64_t n,
                   int64_t k, float* out, int64_t j_begin, int64_t j_end) {
  // A widened panel is fp32: size panels by the bytes the tiles will read.
  const bool widen = !std::is_same_v<W, float> && m >= kWidenMinRows;
  if (UsesZmmTiles(m)) {
    // The zmm tiles read w as stored (widened in registers): panels sized by
    // w's own bytes over one k block (all of k up to kZmmKBlock).
    const int64_t kb = k > kZmmKBlock ? kZmmKBlock : std::max<int64_t>(k, 1);
    const int64_t row_bytes = kb * static_cast<int64_t>(sizeof(W));
    const int64_t panel_cols =
        std::max<int64_t>(avx512::kNr, kPanelBytes / row_bytes / avx512::kNr * avx512::kNr);
    avx512::Columns<kTail>(x, ldx, w, bias, m, n, k, out, j_begin, j_end,
                           avx512::Blocking{panel_cols, kb, k > kb ? kZmmBlockRows : m});
    return;
  }
  const int64_t w_row_bytes =
      std::max<int64_t>(1, k * (widen ? 4 : static_cast<int64_t>(sizeof(W))));
  const int64_t x_row_bytes = std::max<int64_t>(1, k * 4);
  const int64_t panel_cols = std::max<int64_t>(kNr, (kPanelBytes / w_row_bytes) / kNr * kNr);
  const int64_t block_rows = std::max<int64_t>(kMr, (kRowBlockBytes / x_row_bytes) / kMr * kMr);
  for (int64_t jp = j_begin; jp < j_end; jp += panel_cols) {
    const int64_t jp_end = std::min(j_end, jp + panel_cols);
    if constexpr (!std::is_same_v<W, float>) {
      if (widen) {
        thread_local std::vector<float> wide;
        const int64_t need = (jp_end - jp) * k;
        if (static_cast<int64_t>(wide.size()) < need) wide.resize(static_cast<size_t>(need));
        ConvertToF32(w + jp * k, simd::Elem<W>::kDType, need, wide.data());
        MatmulPanel<kTail, float>(x, wide.data(), bias, m, n, k, out, jp, jp_end, block_rows);
        continue;
      }
    }
    MatmulPanel<kTail, W>(x, w + jp * k, bias, m, n, k, out, jp, jp_end, block_rows);
  }
}

}  // namespace

namespace cpu_internal {

void MatmulF32Panel(const float* x, const float* w_panel, const float* bias, int64_t m, int64_t n,
                    int64_t k, float* out, int64_t j_begin, int64_t j_end) {
  const int64_t x_row_bytes = std::max<int64_t>(1, k * 4);
  const int64_t block_rows = std::max<int64_t>(kMr, (kRowBlockBytes / x_row_bytes) / kMr * kMr);
  if (k % 8 == 0) {
    MatmulPanel<false, float>(x, w_panel, bias, m, n, k, out, j_begin, j_end, block_rows);
  } else {
    MatmulPanel<true, float>(x, w_panel, bias, m, n, k, out, j_begin, j_end, block_rows);
  }
}

}  // namespace cpu_internal

namespace {

// Matmul for a bf16 w on a path with vdpbf16ps (matmul_bf16_dot.h): x
// rounded to bf16 once per call, on the pool; then the pool splits output
// columns as the other paths do.
void MatmulBf16Dot(const float* x, const uint16_t* w, const float* bias, int64_t m, int64_t n,
                   int64_t k, float* out) {
  thread_local std::vector<uint16_t> xb;
  const int64_t kp = bf16_dot::PaddedK(k);
  if (static_cast<int64_t>(xb.size()) < m * kp) xb.resize(static_cast<size_t>(m * kp));
  uint16_t* xr = xb.data();
  ParallelFor(m, GrainFor(8 * k),
              [&](int64_t i0, int64_t i1) { bf16_dot::RoundRows(x, k, i0, i1, xr); });
  constexpr int64_t kCols = bf16_dot::kNr;
  const int64_t panel_cols =
      std::max<int64_t>(kCols, kPanelBytes / std::max<int64_t>(1, 2 * k) / kCols * kCols);
  const int64_t col_tiles = (n + kCols - 1) / kCols;
  ParallelFor(col_tiles, GrainFor(2 * m * std::max<int64_t>(k, 1) * kCols),
              [&](int64_t b, int64_t e) {
                const int64_t j0 = b * kCols, j1 = std::min(n, e * kCols);
                if (m == 1) {
                  bf16_dot::GemvColumns(xr, w, bias, k, out, j0, j1);
                } else {
                  bf16_dot::Columns(xr, w, bias, m, n, k, out, j0, j1, panel_cols);
                }
              });
}

}  // namespace

void Matmul(const float* x, const void* w, const float* bias, int64_t m, int64_t n, int64_t k,
            float* out, DType w_dtype) {
  if (m <= 0 || n <= 0) return;
  if (IsQuantized(w_dtype) && k == 0) {  // no blocks: out = bias (the fp32 tiles' k == 0)
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) out[i * n + j] = bias != nullptr ? bias[j] : 0.0f;
    }
    return;
  }
  if (IsKQuant(w_dtype)) {
    cpu_internal::MatmulKQuant(x, w, bias, m, n, k, out, w_dtype);
    return;
  }
  if (IsQuantized(w_dtype)) {
    cpu_internal::MatmulQuantized(x, w, bias, m, n, k, out, w_dtype);
    return;
  }
  if (w_dtype == DType::kBF16 && MatmulBf16UsesDotProduct()) {
    MatmulBf16Dot(x, static_cast<const uint16_t*>(w), bias, m, n, k, out);
    return;
  }
  // The zmm tiles stream 8 rows of x and 6 of w at once; with fp32 w and k a
  // multiple of 1024 all 14 sit at the same offset modulo 4 KiB, one L1 set
  // (12 ways), and evict each other (measured: 31% of the zmm FMA peak). x
  // is then copied once with its rows 64 bytes further apart, which spreads
  // them over 8 sets (70%); same values, same bits.
  const float* xs = x;
  int64_t ldx = k;
  if (w_dtype == DType::kF32 && k % 1024 == 0 && UsesZmmTiles(m)) {
    thread_local std::vector<float> padded;
    ldx = k + 16;
    if (static_cast<int64_t>(padded.size()) < m * ldx) padded.resize(static_cast<size_t>(m * ldx));
    float* p = padded.data();
    ParallelFor(m, GrainFor(4 * k), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) std::copy(x + i * k, x + (i + 1) * k, p + i * ldx);
    });
    xs = p;
  }
  const int64_t col_tiles = (n + kNr - 1) / kNr;
  const int64_t cost_per_tile = 2 * m * std::max<int64_t>(k, 1) * kNr;
  simd::DispatchDType(w_dtype, [&](auto tag) {
    using W = decltype(tag);
    const W* wt = static_cast<const W*>(w);
    ParallelFor(col_tiles, GrainFor(cost_per_tile), [&](int64_t b, int64_t e) {
      if (m == 1) {
        if (k % 8 == 0) {
          GemvColumns<false>(x, wt, bias, k, out, b * kNr, std::min(n, e * kNr));
        } else {
          GemvColumns<true>(x, wt, bias, k, out, b * kNr, std::min(n, e * kNr));
        }
        return;
      }
      if (k % 8 == 0) {
        MatmulColumns<false>(xs, ldx, wt, bias, m, n, k, out, b * kNr, std::min(n, e * kNr));
      } else {
        MatmulColumns<true>(xs, ldx, wt, bias, m, n, k, out, b * kNr, std::min(n, e * kNr));
      }
    });
  });
}

}  // namespace inferd::kernels
