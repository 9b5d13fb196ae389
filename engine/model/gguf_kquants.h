// engine/model/gguf_kquants.h — llama.cpp's k-quant block formats Q4_K and
// Q6_K (public, ggml-common.h), dequantized to fp32 at load: a GGUF tensor of
// these types (Q4_K_M files hold both; llama-quantize writes a tied
// embedding as Q6_K even in Q4_0 files) is served in the dtype the model
// loads it as (fp32/bf16/fp16, or requantized to Q8_0/Q4_0 under
// --quantization). No kernel computes on k-quants yet.
//
// Both have super-blocks of 256 elements along a row:
//   Q4_K (144 bytes): fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins
//     for 8 sub-blocks of 32, 128 bytes of 4-bit codes (each 32-byte chunk:
//     low nibbles sub-block 2c, high nibbles 2c + 1);
//     element = (d * scale_j) * code - (dmin * min_j)
//   Q6_K (210 bytes): 128 bytes of low 4 bits, 64 bytes of high 2 bits,
//     16 int8 scales (one per 16 elements), fp16 d;
//     element = (d * scale_e/16) * (code - 32)
// The products are fp32 in that order, as llama.cpp's dequantize_row_*
// compute them (tests compare against its Python package gguf-py).
#ifndef INFERD_ENGINE_MODEL_GGUF_KQUANTS_H_
#define INFERD_ENGINE_MODEL_GGUF_KQUANTS_H_

#include <cstdint>

namespace inferd::engine {

inline constexpr int64_t kKQuantBlockElems = 256;
inline constexpr int64_t kQ4KBlockBytes = 144;
inline constexpr int64_t kQ6KBlockBytes = 210;

// blocks: [n / 256] super-blocks -> y: [n] fp32; n a multiple of 256.
void DequantizeRowQ4K(const uint8_t* blocks, int64_t n, float* y);
void DequantizeRowQ6K(const uint8_t* blocks, int64_t n, float* y);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_GGUF_KQUANTS_H_
