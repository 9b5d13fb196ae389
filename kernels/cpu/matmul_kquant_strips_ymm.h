// kernels/cpu/matmul_kquant_strips_ymm.h — internal to
// kernels/cpu/matmul_kquant.cc: the many-rows k-quant Matmul (Q4_K, Q5_K,
// Q6_K) on the ymm paths (avx2, avx-vnni), with w unpacked per call into
// strips of 8 columns whose dword lanes run over the columns (the zmm
// strips' layout, matmul_kquant_packed_avx512.h, at half width).
//
// Why: the ymm tiles keep one column's sub-block in a register and end each
// super-block with a lane-sum tree per column: 30-43% of the vpmaddubsw +
// vpmaddwd peak on the 1B shapes. Here each super-block of 8 columns is
// unpacked once per call into unsigned byte codes k-interleaved by 4 (line
// L lane c = codes 4L..4L+3 of column c), with each sub-block's (Q6_K:
// group's) scale as an int16 pair per lane, and every row reuses them: per
// 4 elements of 8 columns one vpmaddubsw (codes x xq, int16 pair sums, no
// saturation: 2 * 63 * 127), one vpmaddwd by the scale pair and one add into
// sq (with AVX-VNNI one vpdpwssd for both). Q4_K/Q5_K's sm and Q6_K's sum of scale_g * S16[g] take
// 4 and 8 more vpmaddwd per super-block and 8 columns. Every integer is the one matmul_kquant.cc's
// header defines and the fp32 steps are the same, so the bits equal the other forms' (tests compare
// with a scalar reference).
#ifndef INFERD_KERNELS_CPU_MATMUL_KQUANT_STRIPS_YMM_H_
#define INFERD_KERNELS_CPU_MATMUL_KQUANT_STRIPS_YMM_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/dword_transpose.h"
#include "kernels/cpu/prefetch.h"
#include "kernels/quant_kblocks.h"

namespace inferd::kernels::kquant_strips {

constexpr int64_t kSuper = kKQuantBlockElems;  // elements per super-block

// x quantized per super-block (matmul_kquant.cc's KRows): q [m, k] int8, d
// [m, k / 256], s16 [m, k / 16] and s32 [m, k / 32] int16 sums, init16 [m, k /
// 16] int32 = -32 * s16 (Q6_K on the zmm strips only).
struct StripX {
  const int8_t* q;
  const float* d;
  const int16_t* s16;
  const int16_t* s32;
  const int32_t* init16;
  int64_t k;
};

// The 6-bit scales (low 8 bytes) and mins (high 8 bytes) of a Q4_K
// super-block, one byte per sub-block (ScaleMinQ4_K, 4 bytes at a time).
inline void ScalesMinsQ4_K(const uint8_t* s, uint64_t* scales, uint64_t* mins) {
  uint32_t u[3];
  std::memcpy(u, s, sizeof(u));
  const uint32_t k6 = 0x3F3F3F3Fu, k4 = 0x0F0F0F0Fu, k2 = 0x03030303u;
  const uint32_t sc_hi = (u[2] & k4) | (((u[0] >> 6) & k2) << 4);
  const uint32_t mn_hi = ((u[2] >> 4) & k4) | (((u[1] >> 6) & k2) << 4);
  *scales = (u[0] & k6) | (static_cast<uint64_t>(sc_hi) << 32);
  *mins = (u[1] & k6) | (static_cast<uint64_t>(mn_hi) << 32);
}

// Two int16 as one dword: lo in the low half (what vpmaddwd pairs).
inline uint32_t Pair(int lo, int hi) {
  return static_cast<uint32_t>(static_cast<uint16_t>(lo)) |
         (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16);
}

// A Q4_K/Q5_K super-block's scales as the strips hold them: scale[j] of
// sub-block j, and the mins as the int16 pairs (min_2p, min_2p+1) that
// vpmaddwd / vpdpwssd take against the x sums (S32[2p], S32[2p+1]).
struct ScaleMinLanes {
  int scale[8];
  uint32_t min_pair[4];
};
inline ScaleMinLanes ScaleMinLanesQ4_K(const uint8_t* s) {
  uint64_t sc, mn;
  ScalesMinsQ4_K(s, &sc, &mn);
  ScaleMinLanes out;
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) out.scale[j] = static_cast<int>((sc >> (8 * j)) & 0xFF);
#pragma GCC unroll 4
  for (int p = 0; p < 4; ++p) {
    out.min_pair[p] = Pair(static_cast<int>((mn >> (16 * p)) & 0xFF),
                           static_cast<int>((mn >> (16 * p + 8)) & 0xFF));
  }
  return out;
}

// Bit j (0..7) of each byte of qh moved to bit 4, the others cleared: Q5_K's
// fifth code bit for sub-block j. The 16-bit shifts move bits across the
// bytes of a pair, but never into or out of bit 4 for these counts.
inline __m256i FifthBit(__m256i qh, int j) {
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  return _mm256_and_si256(j <= 4 ? _mm256_slli_epi16(qh, 4 - j) : _mm256_srli_epi16(qh, j - 4),
                          bit4);
}

// A super-block's codes, sub-block j (32 unsigned bytes in element order) in
// codes[j]. Q4_K/Q5_K: qs chunk c (32 bytes) holds sub-block 2c in its low
// nibbles and 2c + 1 in its high ones; Q5_K's qh bit j is sub-block j's
// fifth bit.
template <typename Block>
inline void UnpackSubBlocks(const Block& blk, __m256i codes[8]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256i qh = _mm256_setzero_si256();
  if constexpr (std::is_same_v<Block, BlockQ5_K>) {
    qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh));
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * c));
    codes[2 * c] = _mm256_and_si256(q, low4);
    codes[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
    if constexpr (std::is_same_v<Block, BlockQ5_K>) {
      codes[2 * c] = _mm256_or_si256(codes[2 * c], FifthBit(qh, 2 * c));
      codes[2 * c + 1] = _mm256_or_si256(codes[2 * c + 1], FifthBit(qh, 2 * c + 1));
    }
  }
}

// Q6_K: for h = 0, 1, sub-block 4h + t takes its low 4 bits from ql bytes
// 64h..64h+31 (t = 0: low nibbles, t = 2: high) or 64h+32..64h+63 (t = 1,
// 3), its high 2 bits from qh bytes 32h..32h+31, bits 2t and 2t + 1.
template <>
inline void UnpackSubBlocks(const BlockQ6_K& blk, __m256i codes[8]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bits45 = _mm256_set1_epi8(0x30);
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * h));
    const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * h + 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * h));
    codes[4 * h] = _mm256_or_si256(_mm256_and_si256(ql0, low4),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
    codes[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                                       _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
    codes[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                       _mm256_and_si256(qh, bits45));
    codes[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                       _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
  }
}

constexpr int kStripCols = 8;  // columns per strip, one per dword lane
// Rows per tile: 4 int32 and 4 fp32 accumulators, a code line, a scale line
// and x in the 16 ymm registers.
constexpr int kTileRows = 4;

struct alignas(32) Line {
  uint8_t bytes[32];
};

// Lines per super-block of a strip: 64 of codes, then the type's scales.
template <typename Block>
struct Layout;
template <>
struct Layout<BlockQ6_K> {
  static constexpr int kScales = 64;  // 16 lines: (scale_g, scale_g) int16 pairs
  static constexpr int kCorr = 80;    // 8 lines: (scale_2p, scale_2p+1) int16
  static constexpr int kD = 88;       // f16(d) as fp32
  static constexpr int kLines = 89;
};
struct ScaleMinLayout {
  static constexpr int kScales = 64;  // 8 lines: (scale_j, scale_j) int16 pairs
  static constexpr int kMins = 72;    // 4 lines: (min_2p, min_2p+1) int16
  static constexpr int kD = 76;       // f16(d) as fp32
  static constexpr int kDmin = 77;    // f16(dmin) as fp32
  static constexpr int kLines = 78;
};
template <>
struct Layout<BlockQ4_K> : ScaleMinLayout {};
template <>
struct Layout<BlockQ5_K> : ScaleMinLayout {};

// The codes of `cols` columns (w: the first column's super-blocks, rows nsb
// apart) into this thread's buffer, returned: [column][super-block][sub-block],
// 32 bytes each. Each column's super-blocks are read in memory order (one
// sequential stream a column, which the hardware prefetchers follow;
// walking the columns super-block by super-block stalled on every load);
// each(c, sb, block) runs once per super-block, for its scales.
template <typename Block, typename Each>
const Line* UnpackColumns(const Block* w, int64_t nsb, int cols, Each each) {
  thread_local std::vector<Line> codes;
  const int64_t per_column = nsb * 8;
  if (static_cast<int64_t>(codes.size()) < cols * per_column) {
    codes.resize(static_cast<size_t>(cols * per_column));
  }
  for (int c = 0; c < cols; ++c) {
    const Block* col = w + c * nsb;
    Line* out = codes.data() + c * per_column;
    for (int64_t sb = 0; sb < nsb; ++sb) {
      __m256i sub[8];
      UnpackSubBlocks(col[sb], sub);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(out + 8 * sb + j), sub[j]);
      }
      each(c, sb, col[sb]);
    }
  }
  return codes.data();
}

// The 8 columns of one strip (w: the first column's super-blocks, rows nsb
// apart), every super-block, into Layout<Block>::kLines lines per
// super-block at out: unpacked (UnpackColumns, scales straight to the
// lines), then the codes transposed 8 columns at a time.
template <typename Block>
void PackStrip(const Block* w, int64_t nsb, Line* out) {
  using L = Layout<Block>;
  const int64_t per_column = nsb * 8;
  const Line* column_codes =
      UnpackColumns(w, nsb, kStripCols, [&](int c, int64_t sb, const Block& blk) {
        Line* lines = out + sb * L::kLines;
        auto* scales = reinterpret_cast<uint32_t*>(lines + L::kScales);  // [line][column]
        reinterpret_cast<float*>(lines + L::kD)[c] = _cvtsh_ss(blk.d);
        if constexpr (std::is_same_v<Block, BlockQ6_K>) {
          auto* corr = reinterpret_cast<uint32_t*>(lines + L::kCorr);
          for (int g = 0; g < 16; ++g)
            scales[g * kStripCols + c] = Pair(blk.scales[g], blk.scales[g]);
          for (int p = 0; p < 8; ++p) {
            corr[p * kStripCols + c] = Pair(blk.scales[2 * p], blk.scales[2 * p + 1]);
          }
        } else {
          auto* mins = reinterpret_cast<uint32_t*>(lines + L::kMins);
          const ScaleMinLanes sm = ScaleMinLanesQ4_K(blk.scales);
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) scales[j * kStripCols + c] = Pair(sm.scale[j], sm.scale[j]);
#pragma GCC unroll 4
          for (int p = 0; p < 4; ++p) mins[p * kStripCols + c] = sm.min_pair[p];
          reinterpret_cast<float*>(lines + L::kDmin)[c] = _cvtsh_ss(blk.dmin);
        }
      });
  for (int64_t sb = 0; sb < nsb; ++sb) {
#pragma GCC unroll 1
    for (int j = 0; j < 8; ++j) {
      __m256i r[8];
#pragma GCC unroll 8
      for (int c = 0; c < kStripCols; ++c) {
        r[c] = _mm256_load_si256(
            reinterpret_cast<const __m256i*>(column_codes + c * per_column + 8 * sb + j));
      }
      cpu_internal::TransposeDwords8x8(r, reinterpret_cast<__m256i*>(out + sb * L::kLines + 8 * j));
    }
  }
}

// x's 4 bytes at p as one int32 on every lane.
inline __m256i Broadcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm256_set1_epi32(v);
}

// The sum over p < P of the int16 pairs of lines[p] times the pair of x
// sums (sums[2p], sums[2p + 1]), one int32 per lane: Q4_K/Q5_K's sm (mins
// by S32), Q6_K's sum of scale_g * S16[g].
template <int P>
inline __m256i PairSums(const __m256i* lines, const int16_t* sums) {
  __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    acc = _mm256_add_epi32(
        acc, _mm256_madd_epi16(_mm256_load_si256(lines + p), Broadcast4(sums + 2 * p)));
  }
  return acc;
}

// acc + the int16 pair sums of codes (unsigned) and x (signed), times the
// scale pair and added in pairs: one int32 per lane. kVnni: AVX-VNNI's
// vpdpwssd does the multiply and both adds (no saturation; the same
// integer), else vpmaddwd and an add.
template <bool kVnni>
inline __m256i AddScaledDot(__m256i acc, __m256i codes, __m256i x, __m256i scale) {
  const __m256i pairs = _mm256_maddubs_epi16(codes, x);
  if constexpr (kVnni) {
    // Inline assembly: the build's baseline is AVX2, and the form is chosen
    // at run time (as matmul_quant.cc's vpdpbusd).
    asm("%{vex%} vpdpwssd %2, %1, %0" : "+x"(acc) : "x"(pairs), "x"(scale));
    return acc;
  } else {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, scale));
  }
}

// NR rows from row i by one packed strip; out at row i and the strip's first
// column, rows n apart.
template <typename Block, bool kVnni, int NR>
inline void StripTile(StripX x, int64_t i, const Line* strip, const float* bias, float* out,
                      int64_t n) {
  using L = Layout<Block>;
  const int64_t k = x.k;
  const int64_t nsb = k / kSuper;
  __m256 acc[NR];
#pragma GCC unroll 4
  for (int r = 0; r < NR; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const auto* lines = reinterpret_cast<const __m256i*>(strip + sb * L::kLines);
    const int8_t* xq = x.q + i * k + sb * kSuper;
    __m256i sq[NR];
#pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) sq[r] = _mm256_setzero_si256();
    // Scale line s covers kSuper / (lines of scales) elements: 32 (Q4_K,
    // Q5_K) or 16 (Q6_K).
    constexpr int kScaleLines = std::is_same_v<Block, BlockQ6_K> ? 16 : 8;
    constexpr int kLinesPerScale = 64 / kScaleLines;
#pragma GCC unroll 1
    for (int s = 0; s < kScaleLines; ++s) {
      const __m256i sc = _mm256_load_si256(lines + L::kScales + s);
#pragma GCC unroll 8
      for (int q = 0; q < kLinesPerScale; ++q) {
        const int line = s * kLinesPerScale + q;
        const __m256i wv = _mm256_load_si256(lines + line);
#pragma GCC unroll 4
        for (int r = 0; r < NR; ++r) {
          sq[r] = AddScaledDot<kVnni>(sq[r], wv, Broadcast4(xq + r * k + 4 * line), sc);
        }
      }
    }
    const __m256 dw = _mm256_load_ps(reinterpret_cast<const float*>(lines + L::kD));
#pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) {
      const __m256 dx = _mm256_set1_ps(x.d[(i + r) * nsb + sb]);
      if constexpr (std::is_same_v<Block, BlockQ6_K>) {
        // s = sq - 32 * sum over g of scale_g * S16[g].
        const __m256i corr = PairSums<8>(lines + L::kCorr, x.s16 + (i + r) * (k / 16) + 16 * sb);
        const __m256i s = _mm256_sub_epi32(sq[r], _mm256_slli_epi32(corr, 5));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, dx), acc[r]);
      } else {
        const __m256i sm = PairSums<4>(lines + L::kMins, x.s32 + (i + r) * (k / 32) + 8 * sb);
        const __m256 dmin = _mm256_load_ps(reinterpret_cast<const float*>(lines + L::kDmin));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sq[r]), _mm256_mul_ps(dw, dx), acc[r]);
        acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(sm), _mm256_mul_ps(dmin, dx), acc[r]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < NR; ++r) {
    _mm256_storeu_ps(out + r * n,
                     bias != nullptr ? _mm256_add_ps(acc[r], _mm256_loadu_ps(bias)) : acc[r]);
  }
}

// The last `rows` (< kTileRows) rows: one tile of that many rows.
template <typename Block, bool kVnni, int R = kTileRows - 1>
inline void LastRows(int64_t rows, StripX x, int64_t i, const Line* strip, const float* bias,
                     float* out, int64_t n) {
  if (rows == R) {
    StripTile<Block, kVnni, R>(x, i, strip, bias, out, n);
  } else if constexpr (R > 1) {
    LastRows<Block, kVnni, R - 1>(rows, x, i, strip, bias, out, n);
  }
}

// Columns [j_begin, j_begin + 8 * strips) of all m rows, strip by strip:
// unpacked once into this thread's buffer, then every row, kTileRows at a
// time; each row tile prefetches a share of the next strip's weights into
// L2. w: column 0's super-blocks (rows k / 256 super-blocks apart).
template <typename Block, bool kVnni>
void StripColumns(StripX x, int64_t m, const Block* w, const float* bias, int64_t n, float* out,
                  int64_t j_begin, int64_t strips) {
  using L = Layout<Block>;
  const int64_t nsb = x.k / kSuper;
  thread_local std::vector<Line> buffer;
  if (static_cast<int64_t>(buffer.size()) < nsb * L::kLines) {
    buffer.resize(static_cast<size_t>(nsb * L::kLines));
  }
  const int64_t strip_bytes = kStripCols * nsb * static_cast<int64_t>(sizeof(Block));
  for (int64_t s = 0; s < strips; ++s) {
    const int64_t j = j_begin + s * kStripCols;
    PackStrip(w + j * nsb, nsb, buffer.data());
    const char* next = reinterpret_cast<const char*>(w + (j + kStripCols) * nsb);
    const int64_t next_bytes = s + 1 < strips ? strip_bytes : 0;
    const float* bj = bias != nullptr ? bias + j : nullptr;
    const int64_t tiles = std::max<int64_t>(1, m / kTileRows);
    int64_t i = 0;
    for (; i + kTileRows <= m; i += kTileRows) {
      cpu_internal::PrefetchShareToL2(next, next_bytes, i / kTileRows, tiles);
      StripTile<Block, kVnni, kTileRows>(x, i, buffer.data(), bj, out + i * n + j, n);
    }
    if (i < m) LastRows<Block, kVnni>(m - i, x, i, buffer.data(), bj, out + i * n + j, n);
  }
}

}  // namespace inferd::kernels::kquant_strips

#endif  // INFERD_KERNELS_CPU_MATMUL_KQUANT_STRIPS_YMM_H_
