// kernels/quant_kblocks.h — llama.cpp's k-quant weight formats Q4_K, Q5_K and
// Q6_K (DType::kQ4_K, kQ5_K, kQ6_K; public, ggml-common.h): what Q4_K_M and
// Q5_K_M GGUF files hold (and what llama-quantize writes a tied embedding as
// in Q4_0 files). They
// are read as stored (kernels/cpu/matmul_kquant.cc) or dequantized here;
// nothing in the project makes them.
//
// All have super-blocks of 256 elements along a row (kKQuantBlockElems):
//   Q4_K (144 bytes): fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins
//     for 8 sub-blocks of 32, 128 bytes of 4-bit codes (32-byte chunk c: low
//     nibbles sub-block 2c, high nibbles 2c + 1);
//     element = (d * scale_j) * code - (dmin * min_j)
//   Q5_K (176 bytes): Q4_K's fields and 32 bytes qh holding each code's
//     fifth bit (element l of sub-block j: bit j of qh[l]), then the 128
//     bytes of low 4 bits; the same element formula with codes 0..31
//   Q6_K (210 bytes): 128 bytes of low 4 bits, 64 bytes of high 2 bits,
//     16 int8 scales (one per 16 elements), fp16 d;
//     element = (d * scale_e/16) * (code - 32)
// The products are fp32 in that order, as llama.cpp's dequantize_row_*
// compute them (tests compare against its Python package gguf-py). d *
// scale_j and dmin * min_j are exact in fp32 (11-bit mantissa times 6 bits).
//
// Plain C++17 without intrinsics (like kernels/dtype.h): any layer may
// include it.
#ifndef INFERD_KERNELS_QUANT_KBLOCKS_H_
#define INFERD_KERNELS_QUANT_KBLOCKS_H_

#include <cstdint>

#include "kernels/dtype.h"

namespace inferd::kernels {

struct BlockQ4_K {
  uint16_t d;          // fp16 scale of the 6-bit scales
  uint16_t dmin;       // fp16 scale of the 6-bit mins
  uint8_t scales[12];  // ScaleMinQ4_K
  uint8_t qs[128];     // chunk c (32 bytes): low nibbles sub-block 2c, high 2c + 1
};
static_assert(sizeof(BlockQ4_K) == 144, "llama.cpp's block_q4_K is 144 bytes");

struct BlockQ5_K {
  uint16_t d;          // fp16 scale of the 6-bit scales
  uint16_t dmin;       // fp16 scale of the 6-bit mins
  uint8_t scales[12];  // ScaleMinQ4_K
  uint8_t qh[32];      // bit j of byte l: the fifth bit of element l of sub-block j
  uint8_t qs[128];     // the low 4 bits, as Q4_K's qs
};
static_assert(sizeof(BlockQ5_K) == 176, "llama.cpp's block_q5_K is 176 bytes");

struct BlockQ6_K {
  uint8_t ql[128];    // low 4 bits (Q6KCode)
  uint8_t qh[64];     // high 2 bits
  int8_t scales[16];  // one per 16 elements
  uint16_t d;         // fp16
};
static_assert(sizeof(BlockQ6_K) == 210, "llama.cpp's block_q6_K is 210 bytes");

// The 6-bit scale and min of Q4_K sub-block j (0..7): sub-blocks 0-3 keep
// them in the low 6 bits of bytes j and j + 4; 4-7 split them between the
// nibbles of bytes j + 4 (8..11) and the top 2 bits of bytes j - 4 and j.
inline void ScaleMinQ4_K(const uint8_t* s, int j, int* scale, int* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// The 4-bit code of element e (0..255) of a Q4_K super-block.
inline int CodeQ4_K(const BlockQ4_K& b, int e) {
  const int j = e / 32;
  return (b.qs[32 * (j / 2) + e % 32] >> (4 * (j % 2))) & 0x0F;
}

// The 5-bit code of element e (0..255) of a Q5_K super-block.
inline int CodeQ5_K(const BlockQ5_K& b, int e) {
  const int j = e / 32, l = e % 32;
  const int lo = (b.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0F;
  return lo | (((b.qh[l] >> j) & 1) << 4);
}

// The 6-bit code (0..63; the value's integer is code - 32) of element e
// (0..255) of a Q6_K super-block: in half h = e / 128, element i = e % 128
// has its low 4 bits in ql[64h + i % 64] (the low nibble for i < 64) and its
// high 2 bits in qh[32h + i % 32] at bit 2 * (i / 32).
inline int CodeQ6_K(const BlockQ6_K& b, int e) {
  const int h = e / 128, i = e % 128;
  const int lo = (b.ql[64 * h + i % 64] >> (i < 64 ? 0 : 4)) & 0x0F;
  const int hi = (b.qh[32 * h + i % 32] >> (2 * (i / 32))) & 0x03;
  return lo | (hi << 4);
}

// Q4_K and Q5_K: (d * scale_j) * code - dmin * min_j, codes from `code`.
template <typename Block, int (*kCode)(const Block&, int)>
inline void DequantizeRowScaleMin(const Block* x, int64_t n, float* y) {
  for (int64_t b = 0; b < n / kKQuantBlockElems; ++b) {
    const float d = F16ToF32(x[b].d);
    const float dmin = F16ToF32(x[b].dmin);
    for (int j = 0; j < 8; ++j) {
      int scale, min;
      ScaleMinQ4_K(x[b].scales, j, &scale, &min);
      const float dj = d * static_cast<float>(scale);
      const float mj = dmin * static_cast<float>(min);
      for (int l = 0; l < 32; ++l) {
        const int e = 32 * j + l;
        y[b * kKQuantBlockElems + e] = dj * static_cast<float>(kCode(x[b], e)) - mj;
      }
    }
  }
}

// blocks: [n / 256] super-blocks -> y: [n] fp32; n a multiple of 256.
inline void DequantizeRowQ4_K(const BlockQ4_K* x, int64_t n, float* y) {
  DequantizeRowScaleMin<BlockQ4_K, CodeQ4_K>(x, n, y);
}

inline void DequantizeRowQ5_K(const BlockQ5_K* x, int64_t n, float* y) {
  DequantizeRowScaleMin<BlockQ5_K, CodeQ5_K>(x, n, y);
}

inline void DequantizeRowQ6_K(const BlockQ6_K* x, int64_t n, float* y) {
  for (int64_t b = 0; b < n / kKQuantBlockElems; ++b) {
    const float d = F16ToF32(x[b].d);
    for (int e = 0; e < kKQuantBlockElems; ++e) {
      y[b * kKQuantBlockElems + e] = (d * static_cast<float>(x[b].scales[e / 16])) *
                                     static_cast<float>(CodeQ6_K(x[b], e) - 32);
    }
  }
}

}  // namespace inferd::kernels

#endif  // INFERD_KERNELS_QUANT_KBLOCKS_H_
