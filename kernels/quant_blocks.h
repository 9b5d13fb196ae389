// kernels/quant_blocks.h — the block-quantized weight formats (DType::kQ8_0,
// DType::kQ4_0): llama.cpp's public Q8_0 and Q4_0 layouts, so a GGUF tensor
// of those types is used as stored and a tensor quantized here has the bytes
// llama.cpp's reference quantizer writes for the same fp32 input.
//
// A row of k elements (k a multiple of 32) is k / 32 blocks in order; a block
// covers 32 consecutive elements along the row (the input dimension of a
// linear layer), with one fp16 scale d (IEEE binary16, little-endian):
//   Q8_0: d, then 32 int8 q;              element j = d * q[j]
//   Q4_0: d, then 16 bytes of 4-bit codes: element j < 16 is the low nibble
//         of byte j, element 16 + j its high nibble; element = d * (code - 8)
// Dequantized values are exact in fp32 (an 11-bit fp16 mantissa times an
// integer of at most 8 bits), so a kernel that widens a block and then
// accumulates in fp32 computes what it would on the dequantized fp32 row.
//
// Quantizing (what llama.cpp's quantize_row_q8_0_ref / _q4_0_ref compute):
//   Q8_0: amax = max |x|, d = amax / 127, id = d ? 1 / d : 0 (in fp32, from
//         the unrounded d), q = round-half-away-from-zero(x * id); d is
//         stored rounded to fp16 (nearest even).
//   Q4_0: m = the element of largest magnitude (the first one on a tie),
//         d = m / -8, id = d ? 1 / d : 0, code = min(15, trunc(x * id + 8.5))
//         with x * id + 8.5 as one fused multiply-add (one rounding): what
//         llama.cpp's C reference compiles to on an FMA machine and what its
//         Python quantizer (gguf-py) emulates in double.
// Non-finite inputs (which llama.cpp leaves undefined) give code 0 for NaN
// and the clamped extreme for infinities, never undefined behaviour.
//
// Plain C++17 without intrinsics (like kernels/dtype.h): any layer may
// include it. Load-time code, not a hot path.
#ifndef INFERD_KERNELS_QUANT_BLOCKS_H_
#define INFERD_KERNELS_QUANT_BLOCKS_H_

#include <cmath>
#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/quant_kblocks.h"

namespace inferd::kernels {

struct BlockQ8_0 {
  uint16_t d;  // fp16 scale
  int8_t qs[kQuantBlockElems];
};
static_assert(sizeof(BlockQ8_0) == 34, "llama.cpp's block_q8_0 is 34 bytes");

struct BlockQ4_0 {
  uint16_t d;                        // fp16 scale
  uint8_t qs[kQuantBlockElems / 2];  // element j: low nibble of qs[j]; 16 + j: high nibble
};
static_assert(sizeof(BlockQ4_0) == 18, "llama.cpp's block_q4_0 is 18 bytes");

// Q5_0 and Q5_1 (read from files only, DType::kQ5_0/kQ5_1): element j < 16
// has its low 4 bits in the low nibble of qs[j] and its fifth bit at bit j
// of qh (little-endian); 16 + j the high nibble and bit 16 + j.
struct BlockQ5_0 {
  uint16_t d;                        // fp16 scale; value = d * (q - 16)
  uint8_t qh[4];                     // fifth bits
  uint8_t qs[kQuantBlockElems / 2];  // low 4 bits
};
static_assert(sizeof(BlockQ5_0) == 22, "llama.cpp's block_q5_0 is 22 bytes");

struct BlockQ5_1 {
  uint16_t d;  // fp16 scale; value = d * q + m
  uint16_t m;  // fp16 offset
  uint8_t qh[4];
  uint8_t qs[kQuantBlockElems / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "llama.cpp's block_q5_1 is 24 bytes");

// Q4_1 (read from files only, DType::kQ4_1): Q4_0's nibbles with an offset.
struct BlockQ4_1 {
  uint16_t d;  // fp16 scale; value = d * q + m
  uint16_t m;  // fp16 offset
  uint8_t qs[kQuantBlockElems / 2];
};
static_assert(sizeof(BlockQ4_1) == 20, "llama.cpp's block_q4_1 is 20 bytes");

namespace quant_internal {
// v in [lo, hi] as an int; NaN -> 0. (A float outside an int's range must
// not reach a cast.)
inline int ClampToInt(float v, int lo, int hi) {
  if (!(v == v)) return 0;
  if (v <= static_cast<float>(lo)) return lo;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);  // truncates toward zero
}
}  // namespace quant_internal

// x: [k] fp32, k a multiple of kQuantBlockElems -> y: [k / 32] blocks.
inline void QuantizeRowQ8_0(const float* x, int64_t k, BlockQ8_0* y) {
  for (int64_t b = 0; b < k / kQuantBlockElems; ++b) {
    const float* xb = x + b * kQuantBlockElems;
    float amax = 0.0f;
    for (int j = 0; j < kQuantBlockElems; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = F32ToF16(d);
    for (int j = 0; j < kQuantBlockElems; ++j) {
      y[b].qs[j] =
          static_cast<int8_t>(quant_internal::ClampToInt(std::round(xb[j] * id), -127, 127));
    }
  }
}

inline void QuantizeRowQ4_0(const float* x, int64_t k, BlockQ4_0* y) {
  constexpr int kHalf = kQuantBlockElems / 2;
  for (int64_t b = 0; b < k / kQuantBlockElems; ++b) {
    const float* xb = x + b * kQuantBlockElems;
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQuantBlockElems; ++j) {
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = F32ToF16(d);
    for (int j = 0; j < kHalf; ++j) {
      const int lo = quant_internal::ClampToInt(std::fma(xb[j], id, 8.5f), 0, 15);
      const int hi = quant_internal::ClampToInt(std::fma(xb[kHalf + j], id, 8.5f), 0, 15);
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

// blocks: [k / 32] -> y: [k] fp32 (exact).
inline void DequantizeRowQ8_0(const BlockQ8_0* x, int64_t k, float* y) {
  for (int64_t b = 0; b < k / kQuantBlockElems; ++b) {
    const float d = F16ToF32(x[b].d);
    for (int j = 0; j < kQuantBlockElems; ++j) {
      y[b * kQuantBlockElems + j] = d * static_cast<float>(x[b].qs[j]);
    }
  }
}

inline void DequantizeRowQ4_0(const BlockQ4_0* x, int64_t k, float* y) {
  constexpr int kHalf = kQuantBlockElems / 2;
  for (int64_t b = 0; b < k / kQuantBlockElems; ++b) {
    const float d = F16ToF32(x[b].d);
    float* yb = y + b * kQuantBlockElems;
    for (int j = 0; j < kHalf; ++j) {
      yb[j] = d * static_cast<float>((x[b].qs[j] & 0x0F) - 8);
      yb[kHalf + j] = d * static_cast<float>((x[b].qs[j] >> 4) - 8);
    }
  }
}

// The 5-bit code (0..31) of element e (0..31) of a Q5_0/Q5_1 block.
template <typename Block>
inline int CodeQ5(const Block& b, int e) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, sizeof(qh));
  const int lo = e < kQuantBlockElems / 2 ? b.qs[e] & 0x0F : b.qs[e - kQuantBlockElems / 2] >> 4;
  return lo | static_cast<int>(((qh >> e) & 1u) << 4);
}

// As llama.cpp's dequantize_row_q5_0 / q5_1 (fp32 products, in that order).
inline void DequantizeRowQ5_0(const BlockQ5_0* x, int64_t k, float* y) {
  for (int64_t b = 0; b < k / kQuantBlockElems; ++b) {
    const float d = F16ToF32(x[b].d);
    for (int e = 0; e < kQuantBlockElems; ++e) {
      y[b * kQuantBlockElems + e] = static_cast<float>(CodeQ5(x[b], e) - 16) * d;
    }
  }
}
inline void DequantizeRowQ5_1(const BlockQ5_1* x, int64_t k, float* y) {
  for (int64_t b = 0; b < k / kQuantBlockElems; ++b) {
    const float d = F16ToF32(x[b].d);
    const float m = F16ToF32(x[b].m);
    for (int e = 0; e < kQuantBlockElems; ++e) {
      y[b * kQuantBlockElems + e] = static_cast<float>(CodeQ5(x[b], e)) * d + m;
    }
  }
}

inline void DequantizeRowQ4_1(const BlockQ4_1* x, int64_t k, float* y) {
  constexpr int kHalf = kQuantBlockElems / 2;
  for (int64_t b = 0; b < k / kQuantBlockElems; ++b) {
    const float d = F16ToF32(x[b].d);
    const float m = F16ToF32(x[b].m);
    float* yb = y + b * kQuantBlockElems;
    for (int j = 0; j < kHalf; ++j) {
      yb[j] = static_cast<float>(x[b].qs[j] & 0x0F) * d + m;
      yb[kHalf + j] = static_cast<float>(x[b].qs[j] >> 4) * d + m;
    }
  }
}

// The two above by DType: QuantizeRow makes kQ8_0 or kQ4_0 (nothing makes
// the k-quants); DequantizeRow reads all four (kernels/quant_kblocks.h).
// `blocks` holds DTypeBytes(t, k) bytes, k a multiple of QuantBlockElems(t).
inline void QuantizeRow(DType t, const float* x, int64_t k, void* blocks) {
  if (t == DType::kQ8_0) {
    QuantizeRowQ8_0(x, k, static_cast<BlockQ8_0*>(blocks));
  } else if (t == DType::kQ4_0) {
    QuantizeRowQ4_0(x, k, static_cast<BlockQ4_0*>(blocks));
  } else {
    __builtin_trap();  // a k-quant or an element type: a caller's bug
  }
}
inline void DequantizeRow(DType t, const void* blocks, int64_t k, float* y) {
  switch (t) {
    case DType::kQ8_0:
      return DequantizeRowQ8_0(static_cast<const BlockQ8_0*>(blocks), k, y);
    case DType::kQ4_0:
      return DequantizeRowQ4_0(static_cast<const BlockQ4_0*>(blocks), k, y);
    case DType::kQ4_K:
      return DequantizeRowQ4_K(static_cast<const BlockQ4_K*>(blocks), k, y);
    case DType::kQ5_K:
      return DequantizeRowQ5_K(static_cast<const BlockQ5_K*>(blocks), k, y);
    case DType::kQ5_0:
      return DequantizeRowQ5_0(static_cast<const BlockQ5_0*>(blocks), k, y);
    case DType::kQ5_1:
      return DequantizeRowQ5_1(static_cast<const BlockQ5_1*>(blocks), k, y);
    case DType::kQ4_1:
      return DequantizeRowQ4_1(static_cast<const BlockQ4_1*>(blocks), k, y);
    case DType::kQ6_K:
      return DequantizeRowQ6_K(static_cast<const BlockQ6_K*>(blocks), k, y);
    default:
      __builtin_trap();  // an element type: a caller's bug
  }
}

}  // namespace inferd::kernels

#endif  // INFERD_KERNELS_QUANT_BLOCKS_H_
