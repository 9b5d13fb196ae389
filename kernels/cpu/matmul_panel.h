// kernels/cpu/matmul_panel.h — internal to kernels/cpu: Matmul's fp32 tiles
// (kernels/cpu/matmul.cc) over one panel of output columns whose weights are
// already fp32, for ops that widen their weights panel by panel themselves
// (the quantized Matmul, kernels/cpu/matmul_quant.cc). Every out[i, j] gets
// Matmul's fixed order (simd::Dot's lanes, then + bias), so a caller that
// widens exactly computes Matmul's bits on the widened weights.
#ifndef INFERD_KERNELS_CPU_MATMUL_PANEL_H_
#define INFERD_KERNELS_CPU_MATMUL_PANEL_H_

#include <cstdint>

#include "kernels/dtype.h"

namespace inferd::kernels::cpu_internal {

// Bytes of fp32 weights per panel that the tiles are tuned for (kept in L2
// while every row block of x passes over it).
inline constexpr int64_t kMatmulPanelBytes = 256 * 1024;

// out[i, j] for all m rows and j in [j_begin, j_end), on the calling thread.
//   x: [m, k]   w_panel: rows j_begin..j_end-1 of w, fp32 [j_end - j_begin, k]
//   bias: [n] or nullptr   out: [m, n]
void MatmulF32Panel(const float* x, const float* w_panel, const float* bias, int64_t m, int64_t n,
                    int64_t k, float* out, int64_t j_begin, int64_t j_end);

// The quantized Matmul (kernels/cpu/matmul_quant.cc), called by Matmul for a
// w of DType::kQ8_0 / kQ4_0: w is [n, k / 32] blocks, k a multiple of 32.
void MatmulQuantized(const float* x, const void* w, const float* bias, int64_t m, int64_t n,
                     int64_t k, float* out, DType w_dtype);

// The k-quant Matmul (kernels/cpu/matmul_kquant.cc), called by Matmul for a
// w of DType::kQ4_K / kQ5_K / kQ6_K: w is [n, k / 256] super-blocks, k a multiple of
// 256.
void MatmulKQuant(const float* x, const void* w, const float* bias, int64_t m, int64_t n, int64_t k,
                  float* out, DType w_dtype);

// The int8 dot product form of the active path (kernels/cpu_isa.h), for
// MatmulQuantized: 0 vpmaddubsw (AVX2), 1 vpdpbusd ymm (AVX-VNNI), 2
// vpdpbusd zmm (AVX512-VNNI). Every form gives the same bits.
int QuantizedDotForm();

}  // namespace inferd::kernels::cpu_internal

#endif  // INFERD_KERNELS_CPU_MATMUL_PANEL_H_
