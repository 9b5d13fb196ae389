// kernels/cpu/matmul_quant.cc — Matmul (kernels/ops.h) for a block-quantized
// w (DType::kQ8_0, kQ4_0: kernels/quant_blocks.h): fp32 x and out, w's rows in
// blocks of 32 along k with an fp16 scale, fp32 accumulation.
//
// Weights are dequantized in registers (d * q is exact in fp32) and
// multiplied with the fp32 activations by FMA. So each out[i, j] is exactly
// what Matmul computes on the dequantized fp32 w: simd::Dot's order (lane l
// accumulates k = 8t + l, one FMA per t in increasing t), the lane tree of
// simd::Reduce4, then + bias[j]. Nothing depends on m, n, the tile holding
// the element or the thread computing it, so batch invariance is bit-exact.
// (The other scheme, quantizing activations per row to int8 for integer dot
// products, costs accuracy against the fp32 path and is not built yet;
// docs/quantization.md has this kernel's measured speeds.)
//
// Paths, same arithmetic: fewer than kWidenMinRows rows (decode at batch 1,
// memory-bound) read the blocks straight into registers, kCols columns at a
// time; more rows widen w panel by panel into a per-thread fp32 copy sized for
// L2 and run Matmul's own fp32 tiles on it (matmul_panel.h), so the widening
// is paid once per panel rather than once per row.
//
// Threading: like Matmul, the pool splits output columns in tiles of kCols.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/check.h"
#include "common/thread_pool.h"
#include "kernels/cpu/matmul_panel.h"
#include "kernels/cpu/simd.h"
#include "kernels/quant_blocks.h"

namespace inferd::kernels::cpu_internal {
namespace {

constexpr int64_t kWidenMinRows = 2;
// Output columns per register tile and per thread split unit: 8 independent
// FMA chains (one per column) hide the FMA latency, as Matmul's Gemv8 does.
constexpr int kCols = 8;

inline __m256 BroadcastF16(uint16_t h) {
  return _mm256_broadcastss_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

// Widen(block, v): the block's 32 values, exact in fp32, as v[0..3]
// (elements 0-7, 8-15, 16-23, 24-31).
struct Q8_0 {
  using Block = BlockQ8_0;
  static inline void Widen(const BlockQ8_0& b, __m256 v[4]) {
    const __m256 d = BroadcastF16(b.d);
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * s));
      v[s] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d);
    }
  }
};

struct Q4_0 {
  using Block = BlockQ4_0;
  static inline void Widen(const BlockQ4_0& b, __m256 v[4]) {
    const __m256 d = BroadcastF16(b.d);
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    const __m128i nibble = _mm_set1_epi8(0x0F);
    const __m128i eight = _mm_set1_epi8(8);
    // code - 8 as int8: elements 0-15 from the low nibbles, 16-31 the high.
    const __m128i lo = _mm_sub_epi8(_mm_and_si128(bytes, nibble), eight);
    const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(bytes, 4), nibble), eight);
    v[0] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d);
    v[1] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d);
    v[2] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d);
    v[3] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d);
  }
};

// out[c] for NC (1..kCols) consecutive columns of one x row; w points at the
// first column's blocks, nb blocks per row.
template <typename Q, int NC>
inline void DirectTile(const float* x, const typename Q::Block* w, int64_t nb, const float* bias,
                       float* out) {
  __m256 acc[NC];
#pragma GCC unroll 8
  for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kQuantBlockElems;
    __m256 xv[4];
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) xv[s] = _mm256_loadu_ps(xb + 8 * s);
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
      __m256 wv[4];
      Q::Widen(w[c * nb + b], wv);
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) acc[c] = _mm256_fmadd_ps(xv[s], wv[s], acc[c]);
    }
  }
  const __m256 zero = _mm256_setzero_ps();
  auto acc_or_zero = [&](int c) { return c < NC ? acc[c < NC ? c : 0] : zero; };
  alignas(16) float sums[8];
  _mm_store_ps(sums, simd::Reduce4(acc[0], acc_or_zero(1), acc_or_zero(2), acc_or_zero(3)));
  if constexpr (NC > 4) {
    _mm_store_ps(sums + 4,
                 simd::Reduce4(acc_or_zero(4), acc_or_zero(5), acc_or_zero(6), acc_or_zero(7)));
  }
#pragma GCC unroll 8
  for (int c = 0; c < NC; ++c) out[c] = bias != nullptr ? sums[c] + bias[c] : sums[c];
}

// Columns [j_begin, j_end) of one x row, straight from the blocks.
template <typename Q>
void DirectColumns(const float* x, const typename Q::Block* w, const float* bias, int64_t nb,
                   float* out, int64_t j_begin, int64_t j_end) {
  int64_t j = j_begin;
  for (; j + kCols <= j_end; j += kCols) {
    DirectTile<Q, kCols>(x, w + j * nb, nb, bias != nullptr ? bias + j : nullptr, out + j);
  }
  for (; j < j_end; ++j) {
    DirectTile<Q, 1>(x, w + j * nb, nb, bias != nullptr ? bias + j : nullptr, out + j);
  }
}

// Columns [j_begin, j_end) of all m rows: w widened panel by panel into a
// per-thread fp32 copy, then Matmul's tiles.
template <typename Q>
void WidenedColumns(const float* x, const typename Q::Block* w, const float* bias, int64_t m,
                    int64_t n, int64_t k, float* out, int64_t j_begin, int64_t j_end) {
  const int64_t nb = k / kQuantBlockElems;
  const int64_t panel_cols = std::max<int64_t>(kCols, kMatmulPanelBytes / (k * 4) / kCols * kCols);
  thread_local std::vector<float> wide;
  for (int64_t jp = j_begin; jp < j_end; jp += panel_cols) {
    const int64_t jp_end = std::min(j_end, jp + panel_cols);
    const int64_t need = (jp_end - jp) * k;
    if (static_cast<int64_t>(wide.size()) < need) wide.resize(static_cast<size_t>(need));
    for (int64_t j = jp; j < jp_end; ++j) {
      float* row = wide.data() + (j - jp) * k;
      for (int64_t b = 0; b < nb; ++b) {
        __m256 v[4];
        Q::Widen(w[j * nb + b], v);
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) _mm256_storeu_ps(row + b * kQuantBlockElems + 8 * s, v[s]);
      }
    }
    MatmulF32Panel(x, wide.data(), bias, m, n, k, out, jp, jp_end);
  }
}

template <typename Q>
void Run(const float* x, const void* w, const float* bias, int64_t m, int64_t n, int64_t k,
         float* out) {
  const auto* blocks = static_cast<const typename Q::Block*>(w);
  const int64_t nb = k / kQuantBlockElems;
  const int64_t col_tiles = (n + kCols - 1) / kCols;
  ParallelFor(col_tiles, GrainFor(2 * m * k * kCols), [&](int64_t b, int64_t e) {
    const int64_t j_begin = b * kCols;
    const int64_t j_end = std::min(n, e * kCols);
    if (m < kWidenMinRows) {
      for (int64_t i = 0; i < m; ++i) {
        DirectColumns<Q>(x + i * k, blocks, bias, nb, out + i * n, j_begin, j_end);
      }
      return;
    }
    WidenedColumns<Q>(x, blocks, bias, m, n, k, out, j_begin, j_end);
  });
}

}  // namespace

void MatmulQuantized(const float* x, const void* w, const float* bias, int64_t m, int64_t n,
                     int64_t k, float* out, DType w_dtype) {
  INFERD_CHECK(k % kQuantBlockElems == 0) << DTypeName(w_dtype) << " weights need k a multiple of "
                                          << kQuantBlockElems << ", got " << k;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) out[i * n + j] = bias != nullptr ? bias[j] : 0.0f;
    }
    return;
  }
  if (w_dtype == DType::kQ8_0) {
    Run<Q8_0>(x, w, bias, m, n, k, out);
  } else {
    INFERD_CHECK(w_dtype == DType::kQ4_0) << "not a quantized dtype: " << DTypeName(w_dtype);
    Run<Q4_0>(x, w, bias, m, n, k, out);
  }
}

}  // namespace inferd::kernels::cpu_internal
