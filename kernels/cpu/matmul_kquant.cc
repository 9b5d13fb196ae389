// kernels/cpu/matmul_kquant.cc — Matmul (kernels/ops.h) for a w in one of
// llama.cpp's k-quants (DType::kQ4_K, kQ5_K, kQ6_K: kernels/quant_kblocks.h), read
// as stored: fp32 x and out, w's rows in super-blocks of 256 along k.
//
// Arithmetic (llama.cpp's for these types: activations quantized per
// super-block, integer sums over the whole super-block, its fp16 scales
// applied once). Each x row is quantized per 256 elements to int8,
//   amax = max |x|, dx = amax / 127, id = dx != 0 ? 1 / dx : 0,
//   xq = nearbyint(x * id)        (round half to even; |xq| <= 127)
// with S16[g] = the sum of xq over group g of 16 elements and S32[j] over
// sub-block j of 32. Then out[i, j] accumulates one fp32 sum over the
// super-blocks in increasing order; per super-block, with exact int32 sums
// (their bounds below keep them far from overflow):
//   Q4_K, Q5_K: sq = sum over sub-blocks j of scale_j * (codes_j . xq_j)
//         sm = sum over j of min_j * S32[j]
//         acc = fma(float(sq), f16(d) * dx, acc)
//         acc = fma(-float(sm), f16(dmin) * dx, acc)
//   Q6_K: s = sum over groups g of scale_g * (codes_g . xq_g)
//             - 32 * sum over g of scale_g * S16[g]
//         acc = fma(float(s), f16(d) * dx, acc)
// then + bias[j]. Integer sums have one value whatever order their terms
// are added in, and float(s) rounds once, so nothing depends on m, n, the
// tile, the thread or the instruction set: batch invariance is bit-exact
// (tests check it against a scalar reference). |sq| <= 8 * 63 * 32 * 31 *
// 127, |sm| <= 8 * 63 * 4064, |s| <= 16 * 128 * 16 * 63 * 127 + 32 * 16 *
// 128 * 2032: all below 2^31.
//
// One form for every path (AVX2 and up; the zmm forms below do the same
// with two sub-blocks a register): vpmaddubsw makes the int16 pair sums of
// codes (unsigned) and xq (signed) without saturation (2 * 63 * 127), and
// vpmaddwd multiplies them by the sub-block's scale and adds the pairs into
// int32 lanes, so each 32 elements cost 2 instructions and a shuffle of the
// scales. 8 columns run together, one lane per column after an exact
// lane-sum tree per super-block (lane_sums.h): for one row 8 streams of
// columns with a software prefetch (Columns below); for 2-3 rows (ymm) or
// 2-5 (zmm), 8 adjacent columns, 4 rows at a time on zmm.
//
// More rows run on strips that unpack w once per call, one column per lane:
// 8 columns with vpmaddubsw + vpmaddwd by the scale on the ymm paths
// (matmul_kquant_strips_ymm.h, from 4 rows), 16 with vpdpbusd + vpmulld on
// AVX512-VNNI (matmul_kquant_packed_avx512.h, from 6 rows). The same
// integers and fp32 steps, so the same bits as the tiles.
//
// Threading: like Matmul, the pool splits output columns in tiles of 8 (the
// strips: whole strips); x is quantized first, rows split over the pool.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/check.h"
#include "common/thread_pool.h"
#include "kernels/cpu/int8_activations.h"
#include "kernels/cpu/lane_sums.h"
#include "kernels/cpu/matmul_kquant_packed_avx512.h"
#include "kernels/cpu/matmul_kquant_strips_ymm.h"
#include "kernels/cpu/matmul_panel.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/cpu_isa.h"
#include "kernels/quant_kblocks.h"

namespace inferd::kernels::cpu_internal {
namespace {

constexpr int64_t kSuper = kKQuantBlockElems;
constexpr int kCols = 8;  // columns per tile, one per lane
// Rows per tile of the zmm forms (each super-block unpacked once for them).
constexpr int kRows = 4;

// x quantized per super-block: q [m, k] int8, d [m, k / 256] fp32, s16
// [m, k / 16] and s32 [m, k / 32] int16 sums of q.
struct KRows {
  const int8_t* q;
  const float* d;
  const int16_t* s16;
  const int16_t* s32;
  int64_t k;
  bool zmm;  // the avx512 path: the zmm forms
};

// Quantizes rows [i0, i1) of x [m, k] (KRows above).
void QuantizeRowsK(const float* x, int64_t k, int64_t i0, int64_t i1, int8_t* q, float* d,
                   int16_t* s16, int16_t* s32) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const int64_t nsb = k / kSuper;
  for (int64_t i = i0; i < i1; ++i) {
    for (int64_t sb = 0; sb < nsb; ++sb) {
      const float* xs = x + i * k + sb * kSuper;
      __m256 amax = _mm256_setzero_ps();
      for (int v = 0; v < kSuper / 8; ++v) {
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(xs + 8 * v)));
      }
      const float dx = HorizontalMax(amax) / 127.0f;
      const float id = dx != 0.0f ? 1.0f / dx : 0.0f;
      d[i * nsb + sb] = dx;
      const __m256 idv = _mm256_set1_ps(id);
      for (int b = 0; b < kSuper / 32; ++b) {
        __m256 v[4];
        for (int s = 0; s < 4; ++s) v[s] = _mm256_loadu_ps(xs + 32 * b + 8 * s);
        const __m256i q8 = ScaledToInt8(v, idv);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i * k + sb * kSuper + 32 * b), q8);
        // Sums of 4, then of 16: lanes 0-3 the first group, 4-7 the second.
        const __m256i s4 =
            _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q8), _mm256_set1_epi16(1));
        alignas(32) int32_t lanes[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s4);
        const int32_t lo = lanes[0] + lanes[1] + lanes[2] + lanes[3];
        const int32_t hi = lanes[4] + lanes[5] + lanes[6] + lanes[7];
        const int64_t g = (i * k + sb * kSuper) / 16 + 2 * b;
        s16[g] = static_cast<int16_t>(lo);
        s16[g + 1] = static_cast<int16_t>(hi);
        s32[(i * k + sb * kSuper) / 32 + b] = static_cast<int16_t>(lo + hi);
      }
    }
  }
}

// The fp16 fields `field` of super-block sb of NC (<= 8) columns (w_step
// super-blocks apart) as 8 fp32 lanes (zero past NC).
template <int NC, typename Block>
inline __m256 GatherHalves(const Block* w, int64_t w_step, int64_t sb, uint16_t Block::*field) {
  alignas(16) uint16_t h[8] = {};
#pragma GCC unroll 8
  for (int c = 0; c < NC; ++c) h[c] = w[c * w_step + sb].*field;
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h)));
}

// Shuffle controls broadcasting int16 element e of each 128-bit lane to the
// whole lane (Q4_K: the scale of sub-block e of a lane holding all 8).
inline __m256i BroadcastWord(int e) {
  return _mm256_set1_epi16(static_cast<int16_t>((2 * e) | ((2 * e + 1) << 8)));
}
// Element 2e to the low lane, 2e + 1 to the high one (Q6_K: the two groups
// of 16 of a sub-block of 32).
inline __m256i SplitWords(int e) {
  const __m128i lo = _mm_set1_epi16(static_cast<int16_t>((4 * e) | ((4 * e + 1) << 8)));
  const __m128i hi = _mm_set1_epi16(static_cast<int16_t>((4 * e + 2) | ((4 * e + 3) << 8)));
  return _mm256_set_m128i(hi, lo);
}

// The 256 int8 of one super-block of x, 32 a register.
inline void LoadSuperBlock(const int8_t* xq, __m256i xv[8]) {
#pragma GCC unroll 8
  for (int b = 0; b < 8; ++b) {
    xv[b] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * b));
  }
}

// out[c] = lane c of acc (+ bias[c]) for the tile's NC columns.
template <int NC>
inline void StoreColumns(__m256 acc, const float* bias, float* out, int64_t step) {
  alignas(32) float sums[8];
  _mm256_store_ps(sums, acc);
#pragma GCC unroll 8
  for (int c = 0; c < NC; ++c) {
    out[c * step] = bias != nullptr ? sums[c] + bias[c * step] : sums[c];
  }
}

// Where a tile's columns are: column c's super-blocks start at w + c *
// w_step, its output and bias at c * out_step. Adjacent columns: w_step =
// k / 256, out_step = 1; the one-row streams (Columns): `stride` apart.
struct TileCols {
  int64_t w_step;
  int64_t out_step;
};

// Software prefetch distance of the one-row streams, in bytes (as the
// Q8_0/Q4_0 one-row path's).
constexpr int64_t kPrefetchBytes = 1024;

// Prefetches the lines of the super-block kPrefetchBytes past *b.
template <typename Block>
inline void PrefetchAhead(const Block* b) {
  const char* p = reinterpret_cast<const char*>(b) + kPrefetchBytes;
#pragma GCC unroll 4
  for (size_t off = 0; off < sizeof(Block); off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
}

using kquant_strips::FifthBit;

// Whether Block is Q5_K (Q4_K's layout plus a fifth code bit).
template <typename Block>
constexpr bool kFiveBit = std::is_same_v<Block, BlockQ5_K>;

// One x row (super-block sums xd, s16/s32 at the row's start), NC (<= 8)
// adjacent columns of Q4_K or Q5_K (rows nsb super-blocks apart).
template <typename Block, int NC, bool kPrefetch>
void RowTileScaleMin(const int8_t* xq, const float* xd, const int16_t* s32, const Block* w,
                     int64_t nsb, TileCols cols, const float* bias, float* out) {
  static_assert(NC >= 1 && NC <= kCols);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    __m256i xv[8];
    LoadSuperBlock(xq + sb * kSuper, xv);
    const __m128i xs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s32 + 8 * sb));
    __m256i dots[kCols], mins[kCols];
#pragma GCC unroll 8
    for (int c = 0; c < kCols; ++c) {
      if (c >= NC) {
        dots[c] = mins[c] = _mm256_setzero_si256();
        continue;
      }
      const Block& blk = w[c * cols.w_step + sb];
      if constexpr (kPrefetch) PrefetchAhead(&blk);
      uint64_t sc, mn;
      kquant_strips::ScalesMinsQ4_K(blk.scales, &sc, &mn);
      const __m256i sc16 = _mm256_broadcastsi128_si256(
          _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(sc))));
      __m256i qh = _mm256_setzero_si256();
      if constexpr (kFiveBit<Block>) {
        qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh));
      }
      __m256i dot = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int chunk = 0; chunk < 4; ++chunk) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * chunk));
        __m256i lo = _mm256_and_si256(q, low4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
        if constexpr (kFiveBit<Block>) {
          lo = _mm256_or_si256(lo, FifthBit(qh, 2 * chunk));
          hi = _mm256_or_si256(hi, FifthBit(qh, 2 * chunk + 1));
        }
        const __m256i plo = _mm256_maddubs_epi16(lo, xv[2 * chunk]);
        const __m256i phi = _mm256_maddubs_epi16(hi, xv[2 * chunk + 1]);
        dot = _mm256_add_epi32(
            dot, _mm256_madd_epi16(plo, _mm256_shuffle_epi8(sc16, BroadcastWord(2 * chunk))));
        dot = _mm256_add_epi32(
            dot, _mm256_madd_epi16(phi, _mm256_shuffle_epi8(sc16, BroadcastWord(2 * chunk + 1))));
      }
      dots[c] = dot;
      // min_j * S32[j] in 4 int32 lanes (low half; the high half zero).
      mins[c] = _mm256_zextsi128_si256(
          _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(mn))), xs));
    }
    const __m256 dx = _mm256_set1_ps(xd[sb]);
    const __m256 d = _mm256_mul_ps(GatherHalves<NC>(w, cols.w_step, sb, &Block::d), dx);
    const __m256 dmin = _mm256_mul_ps(GatherHalves<NC>(w, cols.w_step, sb, &Block::dmin), dx);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ColumnSums(dots)), d, acc);
    acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ColumnSums(mins)), dmin, acc);
  }
  StoreColumns<NC>(acc, bias, out, cols.out_step);
}

// The same for Q6_K.
template <int NC, bool kPrefetch>
void RowTileQ6_K(const int8_t* xq, const float* xd, const int16_t* s16, const BlockQ6_K* w,
                 int64_t nsb, TileCols cols, const float* bias, float* out) {
  static_assert(NC >= 1 && NC <= kCols);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bits45 = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    __m256i xv[8];
    LoadSuperBlock(xq + sb * kSuper, xv);
    const __m256i xs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s16 + 16 * sb));
    __m256i dots[kCols];
#pragma GCC unroll 8
    for (int c = 0; c < kCols; ++c) {
      if (c >= NC) {
        dots[c] = _mm256_setzero_si256();
        continue;
      }
      const BlockQ6_K& blk = w[c * cols.w_step + sb];
      if constexpr (kPrefetch) PrefetchAhead(&blk);
      const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales));
      // 32 * sum over g of scale_g * S16[g], subtracted once at the end.
      __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), xs);
      __m256i dot = _mm256_setzero_si256();
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        // Scales 8h..8h+7 as int16 in both lanes.
        const __m256i sc16 = _mm256_broadcastsi128_si256(
            _mm_cvtepi8_epi16(h == 0 ? sc8 : _mm_unpackhi_epi64(sc8, sc8)));
        const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * h));
        const __m256i ql1 =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * h + 32));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * h));
        // Sub-block 4h + t: low 4 bits from ql0/ql1 (low nibbles for t < 2),
        // high 2 bits from qh bits 2t, 2t + 1, placed at bits 4-5.
        const __m256i codes[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, low4),
                            _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45)),
            _mm256_or_si256(_mm256_and_si256(ql1, low4),
                            _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                            _mm256_and_si256(qh, bits45)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                            _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45)),
        };
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          const __m256i p = _mm256_maddubs_epi16(codes[t], xv[4 * h + t]);
          dot =
              _mm256_add_epi32(dot, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sc16, SplitWords(t))));
        }
      }
      dots[c] = _mm256_sub_epi32(dot, _mm256_slli_epi32(corr, 5));
    }
    const __m256 d =
        _mm256_mul_ps(GatherHalves<NC>(w, cols.w_step, sb, &BlockQ6_K::d), _mm256_set1_ps(xd[sb]));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ColumnSums(dots)), d, acc);
  }
  StoreColumns<NC>(acc, bias, out, cols.out_step);
}

// The zmm forms (the avx512 path): the same integers, two 32-element
// sub-blocks a register, so half the instructions per super-block. A zmm's
// 256-bit halves hold two sub-blocks; the per-column int32 lanes of both
// halves are added into one ymm before the lane-sum tree. Every sum is the
// same integer as in the ymm forms, so the bits are the same.
INFERD_ZMM_CODE_BEGIN

using kquant_avx512::Halves;
using kquant_avx512::UnpackCodes;

// x's sub-blocks a and b (32 int8 each) side by side.
INFERD_AVX512 inline __m512i XPair(const int8_t* xq, int a, int b) {
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * a))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * b)), 1);
}

// The two 256-bit halves of v added: 8 int32 lanes.
INFERD_AVX512 inline __m256i FoldHalves(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

// R rows (R of x from row i0) by NC (<= 8) adjacent columns of Q4_K or
// Q5_K: each column's super-block is unpacked once (codes, scales, mins)
// for the R rows, which then take the same integer steps as one row alone.
// w: the tile's first column; bias, out: at the tile's first column (out
// also at row i0, rows n apart).
template <typename Block, int NC, int R, bool kPrefetch>
INFERD_AVX512 void RowsTileScaleMinZmm(KRows x, int64_t i0, const Block* w, TileCols cols,
                                       const float* bias, float* out, int64_t n) {
  static_assert(NC >= 1 && NC <= kCols);
  const int64_t nsb = x.k / kSuper;
  // The scales of UnpackCodes's register order: sub-blocks 0 and 2, 1 and
  // 3, 4 and 6, 5 and 7.
  const __m512i pick[4] = {
      Halves(BroadcastWord(0), BroadcastWord(2)), Halves(BroadcastWord(1), BroadcastWord(3)),
      Halves(BroadcastWord(4), BroadcastWord(6)), Halves(BroadcastWord(5), BroadcastWord(7))};
  __m256 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    __m512i xv[R][4];
    __m128i xsum[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int8_t* xs = x.q + (i0 + r) * x.k + sb * kSuper;
      xv[r][0] = XPair(xs, 0, 2);
      xv[r][1] = XPair(xs, 1, 3);
      xv[r][2] = XPair(xs, 4, 6);
      xv[r][3] = XPair(xs, 5, 7);
      xsum[r] =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.s32 + (i0 + r) * (x.k / 32) + 8 * sb));
    }
    __m256i dots[R][kCols], mins[R][kCols];
#pragma GCC unroll 8
    for (int c = 0; c < kCols; ++c) {
      if (c >= NC) {
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) dots[r][c] = mins[r][c] = _mm256_setzero_si256();
        continue;
      }
      const Block& blk = w[c * cols.w_step + sb];
      if constexpr (kPrefetch) PrefetchAhead(&blk);
      uint64_t sc, mn;
      kquant_strips::ScalesMinsQ4_K(blk.scales, &sc, &mn);
      const __m512i sc16 =
          _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(sc))));
      const __m128i mn16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(mn)));
      // codes[t]: sub-blocks kCodePlace[t] (0 and 2, 1 and 3, 4 and 6, 5 and 7).
      __m512i codes[4], scales[4];
      UnpackCodes(blk, codes);
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) scales[t] = _mm512_shuffle_epi8(sc16, pick[t]);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        __m512i dot = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          dot = _mm512_add_epi32(
              dot, _mm512_madd_epi16(_mm512_maddubs_epi16(codes[t], xv[r][t]), scales[t]));
        }
        dots[r][c] = FoldHalves(dot);
        mins[r][c] = _mm256_zextsi128_si256(_mm_madd_epi16(mn16, xsum[r]));
      }
    }
    const __m256 dw = GatherHalves<NC>(w, cols.w_step, sb, &Block::d);
    const __m256 dminw = GatherHalves<NC>(w, cols.w_step, sb, &Block::dmin);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 dx = _mm256_set1_ps(x.d[(i0 + r) * nsb + sb]);
      acc[r] =
          _mm256_fmadd_ps(_mm256_cvtepi32_ps(ColumnSums(dots[r])), _mm256_mul_ps(dw, dx), acc[r]);
      acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ColumnSums(mins[r])), _mm256_mul_ps(dminw, dx),
                                acc[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) StoreColumns<NC>(acc[r], bias, out + r * n, cols.out_step);
}

// The same for Q6_K.
template <int NC, int R, bool kPrefetch>
INFERD_AVX512 void RowsTileQ6_KZmm(KRows x, int64_t i0, const BlockQ6_K* w, TileCols cols,
                                   const float* bias, float* out, int64_t n) {
  static_assert(NC >= 1 && NC <= kCols);
  const int64_t nsb = x.k / kSuper;
  // Sub-blocks t and 4 + t side by side: groups 2t, 2t + 1 in the low half's
  // 128-bit lanes, 8 + 2t, 9 + 2t in the high half's (scales 0-7 low, 8-15 high).
  const __m512i pick[4] = {
      Halves(SplitWords(0), SplitWords(0)), Halves(SplitWords(1), SplitWords(1)),
      Halves(SplitWords(2), SplitWords(2)), Halves(SplitWords(3), SplitWords(3))};
  __m256 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    __m512i xv[R][4];
    __m256i xsum[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int8_t* xs = x.q + (i0 + r) * x.k + sb * kSuper;
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) xv[r][t] = XPair(xs, t, 4 + t);
      xsum[r] = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(x.s16 + (i0 + r) * (x.k / 16) + 16 * sb));
    }
    __m256i dots[R][kCols];
#pragma GCC unroll 8
    for (int c = 0; c < kCols; ++c) {
      if (c >= NC) {
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) dots[r][c] = _mm256_setzero_si256();
        continue;
      }
      const BlockQ6_K& blk = w[c * cols.w_step + sb];
      if constexpr (kPrefetch) PrefetchAhead(&blk);
      const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales));
      const __m256i sc16x = _mm256_cvtepi8_epi16(sc8);
      const __m512i sc16 =
          Halves(_mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(sc8)),
                 _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_unpackhi_epi64(sc8, sc8))));
      // codes[t]: sub-blocks t and 4 + t.
      __m512i codes[4];
      UnpackCodes(blk, codes);
      __m512i scales[4];
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) scales[t] = _mm512_shuffle_epi8(sc16, pick[t]);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        // 32 * sum over g of scale_g * S16[g], subtracted once at the end.
        const __m256i corr = _mm256_madd_epi16(sc16x, xsum[r]);
        __m512i dot = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          dot = _mm512_add_epi32(
              dot, _mm512_madd_epi16(_mm512_maddubs_epi16(codes[t], xv[r][t]), scales[t]));
        }
        dots[r][c] = _mm256_sub_epi32(FoldHalves(dot), _mm256_slli_epi32(corr, 5));
      }
    }
    const __m256 dw = GatherHalves<NC>(w, cols.w_step, sb, &BlockQ6_K::d);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(x.d[(i0 + r) * nsb + sb]));
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ColumnSums(dots[r])), d, acc[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) StoreColumns<NC>(acc[r], bias, out + r * n, cols.out_step);
}

INFERD_ZMM_CODE_END

// Rows [i, i + R) of x by the NC columns `cols` places from w (the first
// column's super-blocks), bias and out (row i, the first column); R > 1 only
// on the zmm forms (the ymm forms run row after row).
template <typename Block, int NC, int R, bool kPrefetch>
inline void Tile(KRows x, int64_t i, const Block* w, TileCols cols, const float* bias, float* out,
                 int64_t n) {
  if (x.zmm) {
    if constexpr (!std::is_same_v<Block, BlockQ6_K>) {
      RowsTileScaleMinZmm<Block, NC, R, kPrefetch>(x, i, w, cols, bias, out, n);
    } else {
      RowsTileQ6_KZmm<NC, R, kPrefetch>(x, i, w, cols, bias, out, n);
    }
    return;
  }
  const int64_t nsb = x.k / kSuper;
  for (int64_t r = i; r < i + R; ++r) {
    const int8_t* xq = x.q + r * x.k;
    const float* xd = x.d + r * nsb;
    float* o = out + (r - i) * n;
    if constexpr (!std::is_same_v<Block, BlockQ6_K>) {
      RowTileScaleMin<Block, NC, kPrefetch>(xq, xd, x.s32 + r * (x.k / 32), w, nsb, cols, bias, o);
    } else {
      RowTileQ6_K<NC, kPrefetch>(xq, xd, x.s16 + r * (x.k / 16), w, nsb, cols, bias, o);
    }
  }
}

// Tile<Block, w + 1, 1, false> at index w, for each width below kCols: the
// last, narrower tile of a column range.
template <typename Block, int... W>
constexpr auto NarrowTiles(std::integer_sequence<int, W...>) {
  using TileFn = void (*)(KRows, int64_t, const Block*, TileCols, const float*, float*, int64_t);
  return std::array<TileFn, sizeof...(W)>{&Tile<Block, W + 1, 1, false>...};
}

// Columns [j_begin, j_end) of all m rows. One row (decode): 8 streams of
// `stride` consecutive columns, so each lane reads its columns' rows of w
// as one long sequential run (each row follows the previous in memory;
// adjacent columns would restart 8 short runs every tile) with a software
// prefetch ahead, as the Q8_0/Q4_0 one-row path does. More rows: tiles of 8
// adjacent columns, 4 rows at a time on the zmm forms. The columns left
// over run adjacent, the last tile narrower. Every column gets the same
// integer steps whichever tile holds it.
template <typename Block>
void Columns(KRows x, int64_t m, const Block* w, const float* bias, int64_t n, float* out,
             int64_t j_begin, int64_t j_end) {
  const int64_t nsb = x.k / kSuper;
  const TileCols adjacent{nsb, 1};
  auto bias_at = [&](int64_t j) { return bias != nullptr ? bias + j : nullptr; };
  int64_t j = j_begin;
  if (m == 1) {
    const int64_t stride = (j_end - j_begin) / kCols;
    const TileCols streams{stride * nsb, stride};
    for (int64_t r = 0; r < stride; ++r) {
      Tile<Block, kCols, 1, true>(x, 0, w + (j + r) * nsb, streams, bias_at(j + r), out + j + r, n);
    }
    j += kCols * stride;
  }
  for (; j + kCols <= j_end; j += kCols) {
    int64_t i = 0;
    if (x.zmm) {
      for (; i + kRows <= m; i += kRows) {
        Tile<Block, kCols, kRows, false>(x, i, w + j * nsb, adjacent, bias_at(j), out + i * n + j,
                                         n);
      }
    }
    for (; i < m; ++i) {
      Tile<Block, kCols, 1, false>(x, i, w + j * nsb, adjacent, bias_at(j), out + i * n + j, n);
    }
  }
  if (j == j_end) return;
  const auto narrow = NarrowTiles<Block>(std::make_integer_sequence<int, kCols - 1>());
  for (int64_t i = 0; i < m; ++i) {
    narrow[j_end - j - 1](x, i, w + j * nsb, adjacent, bias_at(j), out + i * n + j, n);
  }
}

// Many rows on AVX512-VNNI (m >= kPackedMinRows) run on packed strips
// (matmul_kquant_packed_avx512.h); below that, or without VNNI, the tiles.
// The unpacking is paid per call: on the 1B shapes the 4-row tiles beat the
// strips at m = 4 (Q4_K qkv 421 vs 356 GOPS) and lose from m = 6 (383 vs
// 441; at m = 16, 429 vs 821).
constexpr int64_t kPackedMinRows = 6;
// The ymm strips (avx2, avx-vnni paths; matmul_kquant_strips_ymm.h) from
// this many rows: at m = 4 they already match or beat the ymm tiles on the
// 1B shapes (Q6_K qkv 211 vs 172 GOPS, Q4_K 235 vs 232), at m = 16 1.6-2x.
constexpr int64_t kYmmStripMinRows = 4;

// Which form m rows run on.
enum class Form { kTiles, kYmmStrips, kZmmStrips };
Form FormFor(int64_t m) {
  if (QuantizedDotForm() == 2) return m >= kPackedMinRows ? Form::kZmmStrips : Form::kTiles;
  return m >= kYmmStripMinRows ? Form::kYmmStrips : Form::kTiles;
}

bool UsesPackedStrips(int64_t m) { return FormFor(m) == Form::kZmmStrips; }

// The strips (sx: the same rows, with Q6_K's group starts for the zmm
// ones): the pool splits columns in whole strips, and the columns after
// the last whole strip run on the tiles.
template <typename Block>
void Run(KRows x, Form form, const kquant_strips::StripX& sx, int64_t m, const void* w,
         const float* bias, int64_t n, float* out) {
  const auto* blocks = static_cast<const Block*>(w);
  if (form == Form::kTiles) {
    const int64_t tiles = (n + kCols - 1) / kCols;
    ParallelFor(tiles, GrainFor(2 * m * x.k * kCols), [&](int64_t b, int64_t e) {
      Columns<Block>(x, m, blocks, bias, n, out, b * kCols, std::min(n, e * kCols));
    });
    return;
  }
  const int64_t strip =
      form == Form::kZmmStrips ? kquant_avx512::kStripCols : kquant_strips::kStripCols;
  const int64_t tiles = (n + strip - 1) / strip;
  ParallelFor(tiles, GrainFor(2 * m * x.k * strip), [&](int64_t b, int64_t e) {
    const int64_t j_begin = b * strip, j_end = std::min(n, e * strip);
    const int64_t strips = (j_end - j_begin) / strip;
    if (form == Form::kZmmStrips) {
      kquant_avx512::PackedColumns(sx, m, blocks, bias, n, out, j_begin, strips);
    } else {
      if (QuantizedDotForm() == 1) {  // AVX-VNNI: vpdpwssd
        kquant_strips::StripColumns<Block, true>(sx, m, blocks, bias, n, out, j_begin, strips);
      } else {
        kquant_strips::StripColumns<Block, false>(sx, m, blocks, bias, n, out, j_begin, strips);
      }
    }
    if (j_begin + strips * strip < j_end) {
      Columns<Block>(x, m, blocks, bias, n, out, j_begin + strips * strip, j_end);
    }
  });
}

}  // namespace

void MatmulKQuant(const float* x, const void* w, const float* bias, int64_t m, int64_t n, int64_t k,
                  float* out, DType w_dtype) {
  INFERD_CHECK(IsKQuant(w_dtype)) << "not a k-quant: " << DTypeName(w_dtype);
  INFERD_CHECK(k % kSuper == 0) << DTypeName(w_dtype) << " weights need k a multiple of " << kSuper
                                << ", got " << k;
  INFERD_CHECK(k > 0) << "k == 0 is Matmul's (out = bias)";
  // x quantized once per call, on the pool (rows are independent).
  thread_local std::vector<int8_t> xq;
  thread_local std::vector<float> xd;
  thread_local std::vector<int16_t> s16, s32;
  auto grow = [](auto& v, int64_t size) {
    if (static_cast<int64_t>(v.size()) < size) v.resize(static_cast<size_t>(size));
  };
  grow(xq, m * k);
  grow(xd, m * (k / kSuper));
  grow(s16, m * (k / 16));
  grow(s32, m * (k / 32));
  int8_t* q = xq.data();
  float* d = xd.data();
  int16_t* g16 = s16.data();
  int16_t* g32 = s32.data();
  ParallelFor(m, GrainFor(16 * k),
              [&](int64_t i0, int64_t i1) { QuantizeRowsK(x, k, i0, i1, q, d, g16, g32); });
  const KRows rows{q, d, g16, g32, k, ActiveCpuIsa() == CpuIsa::kAvx512};
  kquant_strips::StripX strip_x{q, d, g16, g32, nullptr, k};
  const Form form = FormFor(m);
  if (form == Form::kZmmStrips && w_dtype == DType::kQ6_K) {
    // Q6_K's group starts: -32 * S16, as int32 (broadcast per group).
    thread_local std::vector<int32_t> init16;
    grow(init16, m * (k / 16));
    int32_t* p = init16.data();
    ParallelFor(m, GrainFor(k), [&](int64_t i0, int64_t i1) {
      for (int64_t t = i0 * (k / 16); t < i1 * (k / 16); ++t) p[t] = -32 * g16[t];
    });
    strip_x.init16 = p;
  }
  if (w_dtype == DType::kQ4_K) {
    Run<BlockQ4_K>(rows, form, strip_x, m, w, bias, n, out);
  } else if (w_dtype == DType::kQ5_K) {
    Run<BlockQ5_K>(rows, form, strip_x, m, w, bias, n, out);
  } else {
    Run<BlockQ6_K>(rows, form, strip_x, m, w, bias, n, out);
  }
}

}  // namespace inferd::kernels::cpu_internal

namespace inferd::kernels {

bool MatmulKQuantUsesVnniStrips(int64_t m) { return cpu_internal::UsesPackedStrips(m); }

}  // namespace inferd::kernels
