// kernels/cpu/matmul_quant_packed_avx512.h — internal to
// kernels/cpu/matmul_quant.cc: the many-rows quantized Matmul on AVX512-VNNI
// with w repacked per call into strips of 16 columns whose zmm lanes run
// over the columns, so one vpdpbusd advances 16 columns' dot products.
//
// Why: with a column's block in one register (the one-row form), the 8 int32
// lane sums of every column and block must be added across lanes before the
// block's FMA; here a block of 16 columns is transposed once per call
// (k-interleaved by 4: register g holds bytes 4g..4g+3 of each of the 16
// columns) and every row reuses it: 8 vpdpbusd chained into one int32
// accumulator per column, then one conversion, one scale multiply and one
// FMA for 16 columns and a block.
//
// Same arithmetic, element by element, as the other forms (matmul_quant.cc's
// header): the block's exact int32 dot product p = sum of w[e] * x[e],
// computed here as the unsigned weights (Q8_0: w + 128; Q4_0: the codes
// 0..15) times signed x, started from -128 (Q8_0) or -8 (Q4_0) times the
// block's sum of x (matmul_quant.cc's BlockInits, once per call); then
// acc = fma(float(p), f16(dw) * dx, acc) block by block, + bias at the end.
// So the bits equal the one-row path's (batch invariance holds across the
// switch; tests compare with a scalar reference).
#ifndef INFERD_KERNELS_CPU_MATMUL_QUANT_PACKED_AVX512_H_
#define INFERD_KERNELS_CPU_MATMUL_QUANT_PACKED_AVX512_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/cpu/dword_transpose.h"
#include "kernels/cpu/matmul_quant_avx512.h"
#include "kernels/cpu/prefetch.h"
#include "kernels/quant_blocks.h"

INFERD_ZMM_CODE_BEGIN

namespace inferd::kernels::quant_avx512 {

// Columns per strip (one zmm of fp32 or int32 lanes).
constexpr int kStripCols = 16;
// Rows per packed tile and strips packed (and computed) together: 4 x 2
// tiles keep 8 int32 and 8 fp32 accumulators, 8 independent vpdpbusd chains.
constexpr int kPackedRows = 4;
constexpr int kStripsPerPass = 2;
static_assert(kStripsPerPass == 2, "PackedColumns handles one leftover strip");

// One 64-byte line of a packed strip.
struct alignas(64) Line {
  uint8_t bytes[64];
};
// Lines per block of a 16-column strip: 8 of k-interleaved unsigned
// weights, 1 of the 16 fp32 scales.
constexpr int kLinesPerBlock = 9;

// A block's 32 unsigned weights in element order: Q8_0's w + 128, Q4_0's codes.
INFERD_AVX512_VNNI inline __m256i UnsignedBlock(const BlockQ8_0& b) {
  return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)),
                          _mm256_set1_epi8(static_cast<char>(0x80)));
}
INFERD_AVX512_VNNI inline __m256i UnsignedBlock(const BlockQ4_0& b) {
  const __m256i both =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4)),
                          _mm256_set1_epi8(0x0F));
}

// The 16 columns of one strip (w: the first column's blocks, rows nb
// apart), every block, into 9 lines per block at out, `stride` lines apart:
// line g (0..7) lane c = bytes 4g..4g+3 of column c's unsigned weights;
// line 8 = the 16 scales as fp32. Two steps: each column's blocks read in
// memory order (one sequential stream a column; 16 columns block by block
// stalled on the loads) into this thread's column buffer, scales written
// straight to the lines; then the codes transposed 16 columns at a time.
template <typename Block>
INFERD_AVX512_VNNI void PackStrip(const Block* w, int64_t nb, Line* out, int64_t stride) {
  struct alignas(32) Codes {  // one block's 32 unsigned weights
    uint8_t bytes[32];
  };
  thread_local std::vector<Codes> column_codes;  // [column][block]
  if (static_cast<int64_t>(column_codes.size()) < kStripCols * nb) {
    column_codes.resize(static_cast<size_t>(kStripCols * nb));
  }
  Codes* codes = column_codes.data();
  for (int c = 0; c < kStripCols; ++c) {
    const Block* col = w + c * nb;
    for (int64_t b = 0; b < nb; ++b) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(codes + c * nb + b), UnsignedBlock(col[b]));
      reinterpret_cast<float*>(out + b * stride + 8)[c] = _cvtsh_ss(col[b].d);
    }
  }
  for (int64_t b = 0; b < nb; ++b) {
    __m512i z[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const auto* lo = reinterpret_cast<const __m256i*>(codes + (2 * j) * nb + b);
      const auto* hi = reinterpret_cast<const __m256i*>(codes + (2 * j + 1) * nb + b);
      z[j] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_load_si256(lo)),
                                _mm256_load_si256(hi), 1);
    }
    avx512::TransposeDwords16x8(z, reinterpret_cast<__m512i*>(out + b * stride));
  }
}

// NR rows starting at row i (x: int8 rows, their scales and block inits) by
// NV packed 16-column strips (lines: NV x 9 per block); out rows n apart.
template <int NR, int NV>
INFERD_AVX512_VNNI inline void PackedTile(XRows x, const int32_t* init, int64_t i,
                                          const Line* strip, const float* bias, float* out,
                                          int64_t n) {
  const int64_t k = x.k;
  const int64_t nb = k / kQuantBlockElems;
  const int8_t* xq = x.q + i * k;
  const float* xd = x.d + i * nb;
  const int32_t* xi = init + i * nb;
  __m512 acc[NR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    const Line* lines = strip + b * kLinesPerBlock * NV;
    __m512i dot[NR][NV];
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const __m512i start = _mm512_set1_epi32(xi[r * nb + b]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) dot[r][v] = start;
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) {
        int32_t x4;
        __builtin_memcpy(&x4, xq + r * k + b * kQuantBlockElems + 4 * g, 4);
        const __m512i xb = _mm512_set1_epi32(x4);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          dot[r][v] =
              _mm512_dpbusd_epi32(dot[r][v], _mm512_load_si512(lines + v * kLinesPerBlock + g), xb);
        }
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const __m512 dx = _mm512_set1_ps(xd[r * nb + b]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const __m512 scale = _mm512_mul_ps(_mm512_load_ps(lines + v * kLinesPerBlock + 8), dx);
        acc[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r][v]), scale, acc[r][v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __m512 s = bias != nullptr
                           ? _mm512_add_ps(acc[r][v], _mm512_loadu_ps(bias + v * kStripCols))
                           : acc[r][v];
      _mm512_storeu_ps(out + r * n + v * kStripCols, s);
    }
  }
}

// The last `rows` (< kPackedRows) rows: one tile of that many rows, the
// same arithmetic per element.
template <int NV, int R = kPackedRows - 1>
INFERD_AVX512_VNNI inline void LastRows(int64_t rows, XRows x, const int32_t* init, int64_t i,
                                        const Line* strip, const float* bias, float* out,
                                        int64_t n) {
  if (rows == R) {
    PackedTile<R, NV>(x, init, i, strip, bias, out, n);
  } else if constexpr (R > 1) {
    LastRows<NV, R - 1>(rows, x, init, i, strip, bias, out, n);
  }
}

// All m rows of NV packed strips, kPackedRows at a time, then the rest.
template <int NV>
INFERD_AVX512_VNNI inline void PackedRows(XRows x, const int32_t* init, int64_t m,
                                          const Line* strip, const float* bias, float* out,
                                          int64_t n, const char* next, int64_t next_bytes) {
  int64_t i = 0;
  const int64_t tiles = std::max<int64_t>(1, m / kPackedRows);
  for (; i + kPackedRows <= m; i += kPackedRows) {
    // A share of the next pass's weights towards L2 before each tile.
    cpu_internal::PrefetchShareToL2(next, next_bytes, i / kPackedRows, tiles);
    PackedTile<kPackedRows, NV>(x, init, i, strip, bias, out + i * n, n);
  }
  if (i < m) LastRows<NV>(m - i, x, init, i, strip, bias, out + i * n, n);
}

// Columns [j_begin, j_begin + 16 * strips) of all m rows, kStripsPerPass
// strips at a time: packed once into this thread's buffer, then every row.
template <typename Block>
INFERD_AVX512_VNNI void PackedColumns(XRows x, const int32_t* init, int64_t m, const Block* w,
                                      const float* bias, int64_t n, float* out, int64_t j_begin,
                                      int64_t strips) {
  const int64_t nb = x.k / kQuantBlockElems;
  thread_local std::vector<Line> buffer;
  const int64_t lines = nb * kLinesPerBlock * kStripsPerPass;
  if (static_cast<int64_t>(buffer.size()) < lines) buffer.resize(static_cast<size_t>(lines));
  for (int64_t s = 0; s < strips; s += kStripsPerPass) {
    const int64_t nv = std::min<int64_t>(kStripsPerPass, strips - s);
    const int64_t j = j_begin + s * kStripCols;
    for (int64_t v = 0; v < nv; ++v) {
      PackStrip(w + (j + v * kStripCols) * nb, nb, buffer.data() + v * kLinesPerBlock,
                nv * kLinesPerBlock);
    }
    // The next pass's columns, contiguous in w.
    const int64_t next_nv = std::clamp<int64_t>(strips - s - nv, 0, kStripsPerPass);
    const char* next = reinterpret_cast<const char*>(w + (j + nv * kStripCols) * nb);
    const int64_t next_bytes = next_nv * kStripCols * nb * static_cast<int64_t>(sizeof(Block));
    const float* bj = bias != nullptr ? bias + j : nullptr;
    if (nv == kStripsPerPass) {
      PackedRows<kStripsPerPass>(x, init, m, buffer.data(), bj, out + j, n, next, next_bytes);
    } else {
      PackedRows<1>(x, init, m, buffer.data(), bj, out + j, n, next, next_bytes);
    }
  }
}

}  // namespace inferd::kernels::quant_avx512

INFERD_ZMM_CODE_END

#endif  // INFERD_KERNELS_CPU_MATMUL_QUANT_PACKED_AVX512_H_
