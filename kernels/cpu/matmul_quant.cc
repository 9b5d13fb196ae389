// kernels/cpu/matmul_quant.cc — Matmul (kernels/ops.h) for a block-quantized
// w (DType::kQ8_0, kQ4_0: kernels/quant_blocks.h): fp32 x and out, w's rows in
// blocks of 32 along k with an fp16 scale, integer dot products per block.
//
// Arithmetic (what llama.cpp's CPU backend does for these types, with an fp32
// activation scale): each x row is quantized per block of 32 to int8,
//   amax = max |x|, dx = amax / 127, id = dx != 0 ? 1 / dx : 0,
//   xq = nearbyint(x * id)        (round half to even; |xq| <= 127)
// and out[i, j] accumulates one fp32 sum over the blocks b in increasing
// order:
//   p = sum of wq[e] * xq[e] over the block's 32 elements   (exact int32)
//   acc = fma(float(p), f16(dw) * dx, acc)
// then + bias[j]. p is an integer below 2^24 whatever order its products are
// added in, so nothing depends on m, n, the tile holding the element, the
// thread computing it or the instruction set: batch invariance is bit-exact
// and every path gives the same bits (tests check all of it against a scalar
// reference). Quantizing the activations costs accuracy against the fp32
// path (docs/quantization.md has the measured agreement) and buys integer
// dot products: 32 products in 2 to 3 instructions instead of 4 FMAs after
// widening every weight to fp32, which is what keeps batch-1 decode
// memory-bound rather than compute-bound.
//
// The dot product of a block, unsigned x signed bytes summed in groups of 4
// into 8 int32 lanes, then the lanes added:
//   AVX2:       |w| and sign(x, w), vpmaddubsw (pairs to int16; at most
//               2 * 128 * 127, no saturation) then vpmaddwd by ones;
//   AVX-VNNI / AVX512-VNNI: the same |w| and sign(x, w), vpdpbusd (one
//               instruction, exact int32), chosen at run time by cpuid.
// The form follows kernels/cpu_isa.h's active path (--cpu-isa avx2 forces
// the AVX2 form); every form gives the same bits.
//
// Paths: one x row (decode at batch 1, memory-bound) reads each thread's
// columns as 8 long sequential streams with a software prefetch, as Matmul's
// Gemv8 does (matmul_quant_avx512.h: two columns per zmm with AVX512-VNNI);
// two rows or more run on w repacked per call into strips with one column
// per lane (no cross-lane adds): 16 columns wide with AVX512-VNNI
// (matmul_quant_packed_avx512.h), 8 on the ymm forms (below); the columns
// past the last strip take the one-row tile.
//
// Threading: like Matmul, the pool splits output columns in tiles of kCols;
// x is quantized first, rows split over the pool.
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "common/check.h"
#include "common/thread_pool.h"
#include "kernels/cpu/dword_transpose.h"
#include "kernels/cpu/int8_activations.h"
#include "kernels/cpu/lane_sums.h"
#include "kernels/cpu/matmul_panel.h"
#include "kernels/cpu/matmul_quant_avx512.h"
#include "kernels/cpu/matmul_quant_packed_avx512.h"
#include "kernels/cpu/simd.h"
#include "kernels/quant_blocks.h"

namespace inferd::kernels::cpu_internal {
namespace {

enum class DotIsa { kAvx2, kAvxVnni, kAvx512Vnni };

// The form kernels/cpu_isa.h's active path uses (cpu_isa.cc's
// QuantizedDotForm: 0, 1, 2 in this enum's order).
DotIsa ActiveDotIsa() { return static_cast<DotIsa>(QuantizedDotForm()); }

// Output columns per thread split unit.
constexpr int kCols = 8;
// Streams of the one-row path and their software prefetch distance (bytes).
constexpr int kStreams = 8;
constexpr int64_t kPrefetchBytes = 1024;

using quant_avx512::GatherScales;
using quant_avx512::XRows;

// Quantizes rows [i0, i1) of x [m, k] into q and d (XRows above).
void QuantizeRows(const float* x, int64_t k, int64_t i0, int64_t i1, int8_t* q, float* d) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const int64_t nb = k / kQuantBlockElems;
  for (int64_t i = i0; i < i1; ++i) {
    for (int64_t b = 0; b < nb; ++b) {
      const float* xb = x + i * k + b * kQuantBlockElems;
      __m256 v[4];
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) v[s] = _mm256_loadu_ps(xb + 8 * s);
      __m256 amax =
          _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                        _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
      const float dx = HorizontalMax(amax) / 127.0f;
      const float id = dx != 0.0f ? 1.0f / dx : 0.0f;
      d[i * nb + b] = dx;
      const __m256i q8 = ScaledToInt8(v, _mm256_set1_ps(id));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i * k + b * kQuantBlockElems), q8);
    }
  }
}

// Lane l (0..7) = acc_l + the sum over bytes 4l..4l+3 of a[e] * b[e], a
// unsigned, b signed, exact for |a| <= 128, |b| <= 127.
template <DotIsa I>
inline __m256i DotU8S8(__m256i acc, __m256i a, __m256i b) {
  if constexpr (I == DotIsa::kAvx2) {
    return _mm256_add_epi32(acc,
                            _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1)));
  } else {
    // vpdpbusd through inline assembly: the build's baseline is AVX2, and
    // the instruction is chosen at run time (no target attribute needed).
    if constexpr (I == DotIsa::kAvxVnni) {
      asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b));
    } else {
      asm("%{evex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b));
    }
    return acc;
  }
}

// A block of w made ready (W) once for all x rows, and its exact int32 lane
// dot products with a block of x (xv: 32 int8; xs: XSums of xv, made once
// per x block for all columns).
struct Q8_0 {
  using Block = BlockQ8_0;
  struct W {
    __m256i w, aw;  // the int8 weights and their magnitudes
  };
  static inline W Load(const BlockQ8_0& b) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
    return {w, _mm256_sign_epi8(w, w)};
  }
  template <DotIsa I>
  static inline __m256i XSums(__m256i /*xv*/) {
    return _mm256_setzero_si256();
  }
  // |w| . (x * sign(w)) = w . x
  template <DotIsa I>
  static inline __m256i Dot(const W& w, __m256i xv, __m256i /*xs*/) {
    return DotU8S8<I>(_mm256_setzero_si256(), w.aw, _mm256_sign_epi8(xv, w.w));
  }
};

struct Q4_0 {
  using Block = BlockQ4_0;
  struct W {
    __m256i codes;  // 0..15 in element order
  };
  static inline W Load(const BlockQ4_0& b) {
    // The 16 bytes in both halves (one broadcast load), the upper half
    // shifted right by 4, then the low nibbles: [low nibbles | high nibbles].
    const __m256i both =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
    const __m256i shifted = _mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4));
    return {_mm256_and_si256(shifted, _mm256_set1_epi8(0x0F))};
  }
  // -8 times the lane sums of x: -(8 . x), exact.
  template <DotIsa I>
  static inline __m256i XSums(__m256i xv) {
    return _mm256_sub_epi32(_mm256_setzero_si256(),
                            DotU8S8<I>(_mm256_setzero_si256(), _mm256_set1_epi8(8), xv));
  }
  // -8 * sum(x) + codes . x = (codes - 8) . x, the product accumulated onto
  // the correction.
  template <DotIsa I>
  static inline __m256i Dot(const W& w, __m256i xv, __m256i xs) {
    return DotU8S8<I>(xs, w.codes, xv);
  }
};

// One x row, NC (<= 8) columns whose blocks start col_step blocks apart
// (adjacent columns: nb; streams: stride * nb); out and bias step out_step.
template <typename Q, DotIsa I, int NC, bool kPrefetch>
inline void RowTile(const int8_t* xq, const float* xd, const typename Q::Block* w, int64_t nb,
                    int64_t col_step, const float* bias, int64_t out_step, float* out) {
  static_assert(NC >= 1 && NC <= 8);
  using Block = typename Q::Block;
  // Blocks per 64-byte line, at least 1: a prefetch every that many blocks.
  constexpr int64_t kEvery = std::max<int64_t>(1, 64 / static_cast<int64_t>(sizeof(Block)));
  __m256 acc = _mm256_setzero_ps();  // lane c: column c
  for (int64_t b = 0; b < nb; ++b) {
    if constexpr (kPrefetch) {
      if (b % kEvery == 0) {
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) {
          _mm_prefetch(reinterpret_cast<const char*>(w + c * col_step + b) + kPrefetchBytes,
                       _MM_HINT_T0);
        }
      }
    }
    const __m256i xv =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * kQuantBlockElems));
    const __m256i xs = Q::template XSums<I>(xv);
    __m256i p[8];
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
      p[c] = c < NC ? Q::template Dot<I>(Q::Load(w[(c < NC ? c : 0) * col_step + b]), xv, xs)
                    : _mm256_setzero_si256();
    }
    // The NC scales dw * dx: the fp16 scales gathered through two general
    // registers, one conversion and one multiply for all columns.
    const __m256 scales =
        _mm256_mul_ps(_mm256_cvtph_ps(GatherScales<NC>(w, col_step, b)), _mm256_set1_ps(xd[b]));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ColumnSums(p)), scales, acc);
  }
  alignas(32) float sums[8];
  _mm256_store_ps(sums, acc);
#pragma GCC unroll 8
  for (int c = 0; c < NC; ++c) {
    out[c * out_step] = bias != nullptr ? sums[c] + bias[c * out_step] : sums[c];
  }
}

// Columns [j_begin, j_end) of one x row: 8 streams of `stride` consecutive
// columns, then the leftover columns one by one.
template <typename Q, DotIsa I>
void RowColumns(XRows x, const typename Q::Block* w, const float* bias, float* out, int64_t j_begin,
                int64_t j_end) {
  const int64_t nb = x.k / kQuantBlockElems;
  const int64_t stride = (j_end - j_begin) / kStreams;
  for (int64_t r = 0; r < stride; ++r) {
    const int64_t j = j_begin + r;
    if constexpr (I == DotIsa::kAvx512Vnni) {
      quant_avx512::RowStreams(x.q, x.d, w + j * nb, nb, stride * nb,
                               bias != nullptr ? bias + j : nullptr, stride, out + j,
                               kPrefetchBytes);
      continue;
    }
    RowTile<Q, I, kStreams, true>(x.q, x.d, w + j * nb, nb, stride * nb,
                                  bias != nullptr ? bias + j : nullptr, stride, out + j);
  }
  for (int64_t j = j_begin + kStreams * stride; j < j_end; ++j) {
    RowTile<Q, I, 1, false>(x.q, x.d, w + j * nb, nb, nb, bias != nullptr ? bias + j : nullptr, 1,
                            out + j);
  }
}

// Columns [j_begin, j_end) (fewer than a strip: the last of a thread's
// range) of all m rows, row by row and column by column on the one-row tile.
template <typename Q, DotIsa I>
void LeftoverColumns(XRows x, int64_t m, const typename Q::Block* w, const float* bias, int64_t n,
                     float* out, int64_t j_begin, int64_t j_end) {
  const int64_t nb = x.k / kQuantBlockElems;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = j_begin; j < j_end; ++j) {
      RowTile<Q, I, 1, false>(x.q + i * x.k, x.d + i * nb, w + j * nb, nb, nb,
                              bias != nullptr ? bias + j : nullptr, 1, out + i * n + j);
    }
  }
}

// x rows per call from which the many-rows forms repack w into strips
// (matmul_quant_packed_avx512.h; the ymm strips below): one row streams w.
constexpr int64_t kPackedMinRows = 2;

// init [m, k / 32] int32 for rows [i0, i1) of q [m, k] int8: -(the block's
// sum of x) << shift, exact (|sum| <= 4064): where a packed strip's block
// dot product starts when its weights are offset to unsigned (Q4_0's codes
// are w + 8, the zmm strips' Q8_0 w + 128).
void BlockInits(const int8_t* q, int64_t k, int64_t i0, int64_t i1, int shift, int32_t* init) {
  const int64_t nb = k / kQuantBlockElems;
  const __m256i offset = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = i0; i < i1; ++i) {
    for (int64_t b = 0; b < nb; ++b) {
      // x + 128 as unsigned bytes, summed by vpsadbw in 4 groups of 8.
      const __m256i u = _mm256_xor_si256(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i * k + b * kQuantBlockElems)),
          offset);
      const __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256());
      const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      const int64_t sum = _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1) - 128 * kQuantBlockElems;
      init[i * nb + b] = -static_cast<int32_t>(sum * (int64_t{1} << shift));
    }
  }
}

// The ymm forms' strips: w repacked per call into strips of 8 columns, one
// column per lane (the zmm strips' layout at half width). Per block 9 lines
// of 32 bytes: line g (0..7) lane c = bytes 4g..4g+3 of column c's weights
// in element order (Q8_0 signed as stored, Q4_0 the codes 0..15), line 8
// the 8 scales as fp32. Each row then costs per block and 8 columns 8
// pair-sum steps into one int32 sum per column (Q8_0 adds the sign step of
// the one-row form), one conversion, one multiply and one FMA, instead of 8
// lane-sum reductions.
struct alignas(32) Line32 {
  uint8_t bytes[32];
};
constexpr int kYmmStripCols = 8;
constexpr int kYmmLinesPerBlock = 9;
// Rows per ymm strip tile: 2 int32 and 2 fp32 accumulators, with the
// weights, their magnitudes (Q8_0) and x in the 16 ymm registers (2 x 2
// strips measured about 5% slower: spills).
constexpr int kYmmRows = 2;

// Block b of the 8 columns whose blocks start col_step blocks apart, packed
// into 9 lines (an 8 x 8 transpose of dwords).
template <typename Q>
inline void PackBlock8(const typename Q::Block* w, int64_t col_step, int64_t b, Line32* out) {
  __m256i r[8];
#pragma GCC unroll 8
  for (int c = 0; c < 8; ++c) {
    if constexpr (std::is_same_v<Q, Q8_0>) {
      r[c] = Q::Load(w[c * col_step + b]).w;
    } else {
      r[c] = Q::Load(w[c * col_step + b]).codes;
    }
  }
  TransposeDwords8x8(r, reinterpret_cast<__m256i*>(out));
  _mm256_store_ps(reinterpret_cast<float*>(out + 8),
                  _mm256_cvtph_ps(GatherScales<8>(w, col_step, b)));
}

// NR rows from row i by one packed ymm strip (9 lines per block); out rows
// n apart. init: BlockInits with shift 3 for Q4_0; Q8_0 starts from zero.
template <typename Q, DotIsa I, int NR>
inline void YmmStripTile(XRows x, const int32_t* init, int64_t i, const Line32* strip,
                         const float* bias, float* out, int64_t n) {
  const int64_t k = x.k;
  const int64_t nb = k / kQuantBlockElems;
  const int8_t* xq = x.q + i * k;
  const float* xd = x.d + i * nb;
  __m256 acc[NR];
#pragma GCC unroll 4
  for (int r = 0; r < NR; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const auto* lines = reinterpret_cast<const __m256i*>(strip + b * kYmmLinesPerBlock);
    __m256i dot[NR];
#pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) {
      dot[r] = std::is_same_v<Q, Q8_0> ? _mm256_setzero_si256()
                                       : _mm256_set1_epi32(init[(i + r) * nb + b]);
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      const __m256i wv = _mm256_load_si256(lines + g);
      // Q8_0: |w| . (x * sign(w)); Q4_0: codes . x.
      const __m256i a = std::is_same_v<Q, Q8_0> ? _mm256_sign_epi8(wv, wv) : wv;
#pragma GCC unroll 4
      for (int r = 0; r < NR; ++r) {
        int32_t x4;
        __builtin_memcpy(&x4, xq + r * k + b * kQuantBlockElems + 4 * g, 4);
        const __m256i xb = _mm256_set1_epi32(x4);
        dot[r] = DotU8S8<I>(dot[r], a, std::is_same_v<Q, Q8_0> ? _mm256_sign_epi8(xb, wv) : xb);
      }
    }
    const __m256 dw = _mm256_load_ps(reinterpret_cast<const float*>(lines + 8));
#pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) {
      const __m256 scale = _mm256_mul_ps(dw, _mm256_broadcast_ss(xd + r * nb + b));
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[r]), scale, acc[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < NR; ++r) {
    _mm256_storeu_ps(out + r * n,
                     bias != nullptr ? _mm256_add_ps(acc[r], _mm256_loadu_ps(bias)) : acc[r]);
  }
}

// Columns [j_begin, j_begin + 8 * strips) of all m rows, strip by strip:
// packed once into this thread's buffer, then every row, kYmmRows at a time.
template <typename Q, DotIsa I>
void YmmStripColumns(XRows x, const int32_t* init, int64_t m, const typename Q::Block* w,
                     const float* bias, int64_t n, float* out, int64_t j_begin, int64_t strips) {
  static_assert(kYmmRows == 2, "one leftover row at most");
  const int64_t nb = x.k / kQuantBlockElems;
  thread_local std::vector<Line32> strip;
  if (static_cast<int64_t>(strip.size()) < nb * kYmmLinesPerBlock) {
    strip.resize(static_cast<size_t>(nb * kYmmLinesPerBlock));
  }
  for (int64_t s = 0; s < strips; ++s) {
    const int64_t j = j_begin + s * kYmmStripCols;
    for (int64_t b = 0; b < nb; ++b)
      PackBlock8<Q>(w + j * nb, nb, b, strip.data() + b * kYmmLinesPerBlock);
    const float* bj = bias != nullptr ? bias + j : nullptr;
    int64_t i = 0;
    for (; i + kYmmRows <= m; i += kYmmRows) {
      YmmStripTile<Q, I, kYmmRows>(x, init, i, strip.data(), bj, out + i * n + j, n);
    }
    if (i < m) YmmStripTile<Q, I, 1>(x, init, i, strip.data(), bj, out + i * n + j, n);
  }
}

// Many rows (m >= kPackedMinRows) run on packed strips: 16 columns wide on
// zmm, 8 on ymm, the last columns (fewer than a strip) on the one-row tile
// row by row. init: BlockInits of x for those strips (null for Q8_0 on ymm).
template <typename Q, DotIsa I>
void Run(XRows x, const int32_t* init, int64_t m, const void* w, const float* bias, int64_t n,
         float* out) {
  const auto* blocks = static_cast<const typename Q::Block*>(w);
  const int64_t col_tiles = (n + kCols - 1) / kCols;
  ParallelFor(col_tiles, GrainFor(2 * m * x.k * kCols), [&](int64_t b, int64_t e) {
    const int64_t j_begin = b * kCols;
    const int64_t j_end = std::min(n, e * kCols);
    if (m < kPackedMinRows) {
      RowColumns<Q, I>(x, blocks, bias, out, j_begin, j_end);
      return;
    }
    int64_t j = j_begin;
    if constexpr (I == DotIsa::kAvx512Vnni) {
      const int64_t strips = (j_end - j) / quant_avx512::kStripCols;
      quant_avx512::PackedColumns(x, init, m, blocks, bias, n, out, j, strips);
      j += strips * quant_avx512::kStripCols;
    }
    const int64_t strips = (j_end - j) / kYmmStripCols;
    YmmStripColumns<Q, I>(x, init, m, blocks, bias, n, out, j, strips);
    j += strips * kYmmStripCols;
    if (j < j_end) LeftoverColumns<Q, I>(x, m, blocks, bias, n, out, j, j_end);
  });
}

template <typename Q>
void RunIsa(XRows x, int64_t m, const void* w, const float* bias, int64_t n, float* out,
            DotIsa isa) {
  // The packed strips' dot-product starts, once per call for all columns:
  // the zmm strips offset both types' weights to unsigned, the ymm ones
  // only Q4_0's (Q8_0 keeps the one-row form's sign step there).
  constexpr bool kQ8 = std::is_same_v<Q, Q8_0>;
  thread_local std::vector<int32_t> inits;
  const int32_t* init = nullptr;
  if (m >= kPackedMinRows && (isa == DotIsa::kAvx512Vnni || !kQ8)) {
    const int shift = kQ8 ? 7 : 3;  // -128 or -8 times the block's sum of x
    const int64_t size = m * (x.k / kQuantBlockElems);
    if (static_cast<int64_t>(inits.size()) < size) inits.resize(static_cast<size_t>(size));
    int32_t* s = inits.data();
    ParallelFor(m, GrainFor(4 * x.k),
                [&](int64_t i0, int64_t i1) { BlockInits(x.q, x.k, i0, i1, shift, s); });
    init = s;
  }
  switch (isa) {
    case DotIsa::kAvx512Vnni:
      Run<Q, DotIsa::kAvx512Vnni>(x, init, m, w, bias, n, out);
      return;
    case DotIsa::kAvxVnni:
      Run<Q, DotIsa::kAvxVnni>(x, init, m, w, bias, n, out);
      return;
    case DotIsa::kAvx2:
      Run<Q, DotIsa::kAvx2>(x, init, m, w, bias, n, out);
      return;
  }
}

}  // namespace

}  // namespace inferd::kernels::cpu_internal

namespace inferd::kernels {

bool MatmulQuantUsesVnniStrips(int64_t m) {
  return cpu_internal::ActiveDotIsa() == cpu_internal::DotIsa::kAvx512Vnni &&
         m >= cpu_internal::kPackedMinRows;
}

const char* MatmulQuantizedDotIsa() {
  using cpu_internal::DotIsa;
  switch (cpu_internal::ActiveDotIsa()) {
    case DotIsa::kAvx512Vnni:
      return "avx512-vnni";
    case DotIsa::kAvxVnni:
      return "avx-vnni";
    case DotIsa::kAvx2:
      return "avx2";
  }
  return "avx2";
}

}  // namespace inferd::kernels

namespace inferd::kernels::cpu_internal {

void MatmulQuantized(const float* x, const void* w, const float* bias, int64_t m, int64_t n,
                     int64_t k, float* out, DType w_dtype) {
  INFERD_CHECK(k % kQuantBlockElems == 0) << DTypeName(w_dtype) << " weights need k a multiple of "
                                          << kQuantBlockElems << ", got " << k;
  INFERD_CHECK(w_dtype == DType::kQ8_0 || w_dtype == DType::kQ4_0)
      << "not a quantized dtype: " << DTypeName(w_dtype);
  INFERD_CHECK(k > 0) << "k == 0 is Matmul's (out = bias)";
  // x quantized once per call, on the pool (rows are independent).
  thread_local std::vector<int8_t> xq;
  thread_local std::vector<float> xd;
  const int64_t nb = k / kQuantBlockElems;
  if (static_cast<int64_t>(xq.size()) < m * k) xq.resize(static_cast<size_t>(m * k));
  if (static_cast<int64_t>(xd.size()) < m * nb) xd.resize(static_cast<size_t>(m * nb));
  int8_t* q = xq.data();
  float* d = xd.data();
  ParallelFor(m, GrainFor(16 * k),
              [&](int64_t i0, int64_t i1) { QuantizeRows(x, k, i0, i1, q, d); });
  const XRows rows{q, d, k};
  const DotIsa isa = ActiveDotIsa();
  if (w_dtype == DType::kQ8_0) {
    RunIsa<Q8_0>(rows, m, w, bias, n, out, isa);
  } else {
    RunIsa<Q4_0>(rows, m, w, bias, n, out, isa);
  }
}

}  // namespace inferd::kernels::cpu_internal
