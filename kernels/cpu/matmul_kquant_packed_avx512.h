// kernels/cpu/matmul_kquant_packed_avx512.h — internal to
// kernels/cpu/matmul_kquant.cc: the many-rows k-quant Matmul (Q4_K, Q5_K,
// Q6_K) on AVX512-VNNI, with w unpacked per call into strips of 16 columns
// whose zmm lanes run over the columns.
//
// Why: the tile forms in matmul_kquant.cc keep one column's super-block in
// a register (two instructions, vpmaddubsw + vpmaddwd, per 32 elements, and
// a lane-sum tree per column and super-block), about 40% of that pair's
// peak. Here each super-block of 16 columns is unpacked once per call into
// unsigned byte codes, k-interleaved by 4 (line L lane c = codes 4L..4L+3 of
// column c), with its scales as int32 lines, and every row reuses it:
//   Q4_K, Q5_K: per sub-block j, 8 vpdpbusd give codes_j . xq_j for 16
//     columns; one vpmulld by scale_j and one add into sq. sm = sum of min_j
//     * S32[j] takes 4 vpdpwssd (mins and S32 as int16 pairs).
//   Q6_K: per group g of 16, 4 vpdpbusd started from -32 * S16[g] give
//     (codes_g - 32) . xq_g; one vpmulld by scale_g and one add into s.
// vpdpbusd multiplies unsigned bytes by signed ones exactly; every integer is
// the one matmul_kquant.cc's header defines (sums have one value in any
// order) and the fp32 steps are the same, so the bits equal the other forms'
// and batch invariance holds across the switch (tests compare with a scalar
// reference).
#ifndef INFERD_KERNELS_CPU_MATMUL_KQUANT_PACKED_AVX512_H_
#define INFERD_KERNELS_CPU_MATMUL_KQUANT_PACKED_AVX512_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/dword_transpose.h"
#include "kernels/cpu/matmul_kquant_strips_ymm.h"
#include "kernels/cpu/matmul_quant_avx512.h"
#include "kernels/cpu/prefetch.h"
#include "kernels/quant_kblocks.h"

INFERD_ZMM_CODE_BEGIN

namespace inferd::kernels::kquant_avx512 {

constexpr int64_t kSuper = kKQuantBlockElems;  // elements per super-block
constexpr int kStripCols = 16;                 // columns per strip, one per lane
// Rows per tile and strips computed together: 6 x 2 tiles run 12
// independent vpdpbusd chains (12 int32 sub-block sums; the super-block
// sums and fp32 accumulators, touched 8 or 64 times less often, may spill).
// 4 x 2 tiles ran at 1,300 GOPS on the 1B shapes at M = 512, 6 x 2 at 1,450.
constexpr int kTileRows = 6;
constexpr int kStripsPerPass = 2;

// One 64-byte line of a packed strip.
struct alignas(64) Line {
  uint8_t bytes[64];
};

// x quantized per super-block, with Q6_K's group starts (init16).
using kquant_strips::StripX;

// Lines per super-block of a strip: 64 of codes, then the type's scales.
template <typename Block>
struct Layout;
template <>
struct Layout<BlockQ6_K> {
  static constexpr int kScales = 64;  // 16 lines: scale_g as int32
  static constexpr int kD = 80;       // f16(d) as fp32
  static constexpr int kLines = 81;
};
struct ScaleMinLayout {
  static constexpr int kScales = 64;  // 8 lines: scale_j as int32
  static constexpr int kMins = 72;    // 4 lines: min_2p | min_2p+1 << 16
  static constexpr int kD = 76;       // f16(d) as fp32
  static constexpr int kDmin = 77;    // f16(dmin) as fp32
  static constexpr int kLines = 78;
};
template <>
struct Layout<BlockQ4_K> : ScaleMinLayout {};
template <>
struct Layout<BlockQ5_K> : ScaleMinLayout {};

// Two ymm values as the halves of a zmm.
INFERD_AVX512 inline __m512i Halves(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// A super-block's 256 unsigned codes as 4 zmm for the zmm tiles in
// matmul_kquant.cc (kquant_strips::UnpackSubBlocks, paired): register t holds
// sub-blocks kCodePlace<Block>[t][0] (low half) and [t][1] (high half), the
// pairs whose scales one shuffle of the tiles places.
template <typename Block>
inline constexpr int kCodePlace[4][2] = {{0, 2}, {1, 3}, {4, 6}, {5, 7}};  // Q4_K, Q5_K
template <>
inline constexpr int kCodePlace<BlockQ6_K>[4][2] = {{0, 4}, {1, 5}, {2, 6}, {3, 7}};

template <typename Block>
INFERD_AVX512 inline void UnpackCodes(const Block& blk, __m512i codes[4]) {
  __m256i sub[8];
  kquant_strips::UnpackSubBlocks(blk, sub);
#pragma GCC unroll 4
  for (int t = 0; t < 4; ++t) {
    codes[t] = Halves(sub[kCodePlace<Block>[t][0]], sub[kCodePlace<Block>[t][1]]);
  }
}

// The 16 columns of one strip (w: the first column's super-blocks, rows nsb
// apart), every super-block, into Layout<Block>::kLines lines per
// super-block at out, `stride` lines apart. Two steps: each column's
// super-blocks in memory order (one sequential stream a column, which the
// hardware prefetchers follow; walking 16 columns super-block by
// super-block stalled on every load) unpacked into this thread's column
// buffer, with their scales written straight to the lines; then the codes
// transposed 16 columns at a time.
template <typename Block>
INFERD_AVX512_VNNI void PackStrip(const Block* w, int64_t nsb, Line* out, int64_t stride) {
  using L = Layout<Block>;
  const int64_t per_column = nsb * 8;
  const kquant_strips::Line* column_codes =
      kquant_strips::UnpackColumns(w, nsb, kStripCols, [&](int c, int64_t sb, const Block& blk) {
        Line* lines = out + sb * stride;
        auto* scales = reinterpret_cast<int32_t*>(lines + L::kScales);  // [line][column]
        reinterpret_cast<float*>(lines + L::kD)[c] = _cvtsh_ss(blk.d);
        if constexpr (std::is_same_v<Block, BlockQ6_K>) {
          for (int g = 0; g < 16; ++g) scales[g * kStripCols + c] = blk.scales[g];
        } else {
          auto* mins = reinterpret_cast<uint32_t*>(lines + L::kMins);
          const kquant_strips::ScaleMinLanes sm = kquant_strips::ScaleMinLanesQ4_K(blk.scales);
          for (int j = 0; j < 8; ++j) scales[j * kStripCols + c] = sm.scale[j];
          for (int p = 0; p < 4; ++p) mins[p * kStripCols + c] = sm.min_pair[p];
          reinterpret_cast<float*>(lines + L::kDmin)[c] = _cvtsh_ss(blk.dmin);
        }
      });
  // Sub-block j (32 bytes a column) of the 16 columns: 8 lines.
  for (int64_t sb = 0; sb < nsb; ++sb) {
#pragma GCC unroll 1
    for (int j = 0; j < 8; ++j) {
      __m512i z[8];
#pragma GCC unroll 8
      for (int p = 0; p < 8; ++p) {
        const auto* lo =
            reinterpret_cast<const __m256i*>(column_codes + (2 * p) * per_column + 8 * sb + j);
        const auto* hi =
            reinterpret_cast<const __m256i*>(column_codes + (2 * p + 1) * per_column + 8 * sb + j);
        z[p] = Halves(_mm256_load_si256(lo), _mm256_load_si256(hi));
      }
      avx512::TransposeDwords16x8(z, reinterpret_cast<__m512i*>(out + sb * stride + 8 * j));
    }
  }
}

// x's 4 bytes at p as one int32 on every lane.
INFERD_AVX512 inline __m512i Broadcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm512_set1_epi32(v);
}

// Line l of strip v (strips kLines apart) of one super-block's lines.
template <typename Block>
INFERD_AVX512 inline __m512i LineAt(const Line* lines, int v, int l) {
  return _mm512_load_si512(lines + v * Layout<Block>::kLines + l);
}

// NR rows from row i by NV packed strips (lines: NV x kLines per
// super-block); out at row i and the strips' first column, rows n apart.
template <typename Block, int NR, int NV>
INFERD_AVX512_VNNI inline void PackedTile(StripX x, int64_t i, const Line* strips,
                                          const float* bias, float* out, int64_t n) {
  using L = Layout<Block>;
  const int64_t k = x.k;
  const int64_t nsb = k / kSuper;
  __m512 acc[NR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const Line* lines = strips + sb * L::kLines * NV;
    const int8_t* xq = x.q + i * k + sb * kSuper;
    __m512i sq[NR][NV];
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) sq[r][v] = _mm512_setzero_si512();
    }
    // Scale line s covers 32 elements (Q4_K, Q5_K: sub-block s, its dot
    // products started from 0) or 16 (Q6_K: group s, started from -32 *
    // S16[s]); kLinesPerScale vpdpbusd lines, then times the scale.
    constexpr bool kQ6 = std::is_same_v<Block, BlockQ6_K>;
    constexpr int kScaleLines = kQ6 ? 16 : 8;
    constexpr int kLinesPerScale = 64 / kScaleLines;
#pragma GCC unroll 1
    for (int s = 0; s < kScaleLines; ++s) {
      __m512i dot[NR][NV];
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) {
        const __m512i start = kQ6 ? _mm512_set1_epi32(x.init16[(i + r) * (k / 16) + sb * 16 + s])
                                  : _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) dot[r][v] = start;
      }
#pragma GCC unroll 8
      for (int q = 0; q < kLinesPerScale; ++q) {
        const int line = s * kLinesPerScale + q;
        __m512i wv[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) wv[v] = LineAt<Block>(lines, v, line);
#pragma GCC unroll 8
        for (int r = 0; r < NR; ++r) {
          const __m512i xb = Broadcast4(xq + r * k + 4 * line);
#pragma GCC unroll 2
          for (int v = 0; v < NV; ++v) dot[r][v] = _mm512_dpbusd_epi32(dot[r][v], wv[v], xb);
        }
      }
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        const __m512i sc = LineAt<Block>(lines, v, L::kScales + s);
#pragma GCC unroll 8
        for (int r = 0; r < NR; ++r) {
          sq[r][v] = _mm512_add_epi32(sq[r][v], _mm512_mullo_epi32(dot[r][v], sc));
        }
      }
    }
    if constexpr (kQ6) {
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) {
        const __m512 dx = _mm512_set1_ps(x.d[(i + r) * nsb + sb]);
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) {
          const __m512 d = _mm512_mul_ps(_mm512_castsi512_ps(LineAt<Block>(lines, v, L::kD)), dx);
          acc[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sq[r][v]), d, acc[r][v]);
        }
      }
    } else {
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) {
        const int16_t* s32 = x.s32 + (i + r) * (k / 32) + 8 * sb;
        const __m512 dx = _mm512_set1_ps(x.d[(i + r) * nsb + sb]);
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) {
          __m512i sm = _mm512_setzero_si512();
#pragma GCC unroll 4
          for (int p = 0; p < 4; ++p) {
            sm = _mm512_dpwssd_epi32(sm, LineAt<Block>(lines, v, L::kMins + p),
                                     Broadcast4(s32 + 2 * p));
          }
          const __m512 d = _mm512_mul_ps(_mm512_castsi512_ps(LineAt<Block>(lines, v, L::kD)), dx);
          const __m512 dmin =
              _mm512_mul_ps(_mm512_castsi512_ps(LineAt<Block>(lines, v, L::kDmin)), dx);
          acc[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sq[r][v]), d, acc[r][v]);
          acc[r][v] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(sm), dmin, acc[r][v]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const __m512 s = bias != nullptr
                           ? _mm512_add_ps(acc[r][v], _mm512_loadu_ps(bias + v * kStripCols))
                           : acc[r][v];
      _mm512_storeu_ps(out + r * n + v * kStripCols, s);
    }
  }
}

// The last `rows` (< kTileRows) rows: one tile of that many rows.
template <typename Block, int NV, int R = kTileRows - 1>
INFERD_AVX512_VNNI inline void LastRows(int64_t rows, StripX x, int64_t i, const Line* strips,
                                        const float* bias, float* out, int64_t n) {
  if (rows == R) {
    PackedTile<Block, R, NV>(x, i, strips, bias, out, n);
  } else if constexpr (R > 1) {
    LastRows<Block, NV, R - 1>(rows, x, i, strips, bias, out, n);
  }
}

// All m rows of NV packed strips, kTileRows at a time, then the rest.
template <typename Block, int NV>
INFERD_AVX512_VNNI inline void PackedRows(StripX x, int64_t m, const Line* strips,
                                          const float* bias, float* out, int64_t n,
                                          const char* next, int64_t next_bytes) {
  int64_t i = 0;
  const int64_t tiles = std::max<int64_t>(1, m / kTileRows);
  for (; i + kTileRows <= m; i += kTileRows) {
    // A share of the next pass's weights towards L2 before each tile.
    cpu_internal::PrefetchShareToL2(next, next_bytes, i / kTileRows, tiles);
    PackedTile<Block, kTileRows, NV>(x, i, strips, bias, out + i * n, n);
  }
  if (i < m) LastRows<Block, NV>(m - i, x, i, strips, bias, out + i * n, n);
}

// Columns [j_begin, j_begin + 16 * strips) of all m rows, kStripsPerPass
// strips at a time: unpacked once into this thread's buffer, then every row.
// w: column 0's super-blocks (rows k / 256 super-blocks apart).
template <typename Block>
INFERD_AVX512_VNNI void PackedColumns(StripX x, int64_t m, const Block* w, const float* bias,
                                      int64_t n, float* out, int64_t j_begin, int64_t strips) {
  using L = Layout<Block>;
  const int64_t nsb = x.k / kSuper;
  thread_local std::vector<Line> buffer;
  const int64_t lines = nsb * L::kLines * kStripsPerPass;
  if (static_cast<int64_t>(buffer.size()) < lines) buffer.resize(static_cast<size_t>(lines));
  for (int64_t s = 0; s < strips; s += kStripsPerPass) {
    const int64_t nv = std::min<int64_t>(kStripsPerPass, strips - s);
    const int64_t j = j_begin + s * kStripCols;
    for (int64_t v = 0; v < nv; ++v) {
      PackStrip(w + (j + v * kStripCols) * nsb, nsb, buffer.data() + v * L::kLines, nv * L::kLines);
    }
    // The next pass's columns, contiguous in w.
    const int64_t next_nv =
        std::max<int64_t>(0, std::min<int64_t>(kStripsPerPass, strips - s - nv));
    const char* next = reinterpret_cast<const char*>(w + (j + nv * kStripCols) * nsb);
    const int64_t next_bytes = next_nv * kStripCols * nsb * static_cast<int64_t>(sizeof(Block));
    const float* bj = bias != nullptr ? bias + j : nullptr;
    if (nv == kStripsPerPass) {
      PackedRows<Block, kStripsPerPass>(x, m, buffer.data(), bj, out + j, n, next, next_bytes);
    } else {
      PackedRows<Block, 1>(x, m, buffer.data(), bj, out + j, n, next, next_bytes);
    }
  }
}

}  // namespace inferd::kernels::kquant_avx512

INFERD_ZMM_CODE_END

#endif  // INFERD_KERNELS_CPU_MATMUL_KQUANT_PACKED_AVX512_H_
