// kernels/dtype.h — the element types of weights, activations and the KV
// cache, for every backend (CPU and CUDA) and the engine above them: the one
// DType of the project. Plain C++17 (no intrinsics, no CUDA headers; the CUDA
// sources are C++17), so nvcc and every layer can include it.
//
// Storage only: every kernel accumulates in fp32 whatever the storage type.
// The scalar conversions are exact and bit-defined:
//   * BF16/F16 -> F32 is exact for every number (subnormals and infinities
//     included). A BF16 NaN keeps all its bits; an F16 NaN keeps sign and
//     payload and comes out quiet, as F16C's vcvtph2ps makes it (the vector
//     path in kernels/cpu), so scalar and vector conversions agree bit for bit.
//   * F32 -> BF16/F16 rounds to nearest, ties to even (what PyTorch's
//     .to(torch.bfloat16) and F16C's vcvtps2ph do); overflow gives infinity;
//     a NaN stays a NaN (quiet, sign and top payload bits kept).
#ifndef INFERD_KERNELS_DTYPE_H_
#define INFERD_KERNELS_DTYPE_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace inferd::kernels {

enum class DType : int32_t {
  kF32 = 0,   // IEEE binary32
  kF16 = 1,   // IEEE binary16
  kBF16 = 2,  // bfloat16 (the top half of a binary32)
  // Weights only (Matmul, MoeExperts), in llama.cpp's public block layouts
  // (kernels/quant_blocks.h, kernels/quant_kblocks.h): each row is whole
  // blocks along k (QuantBlockElems).
  kQ8_0 = 3,  // per block of 32: fp16 scale d, 32 int8 q; value = d * q
  kQ4_0 = 4,  // per block of 32: fp16 scale d, 16 bytes of 4-bit q; value = d * (q - 8)
  // llama.cpp's k-quants, super-blocks of 256 (what Q4_K_M and Q5_K_M GGUF
  // files hold); read as stored, never made here.
  kQ4_K = 5,  // fp16 d, dmin; 6-bit scale and min per 32; 4-bit codes
  kQ6_K = 6,  // 6-bit codes; int8 scale per 16; fp16 d
  kQ5_K = 7,  // fp16 d, dmin; 6-bit scale and min per 32; 5-bit codes
  // Read from files only (IsLoadOnly): blocks of 32 that llama-quantize
  // writes where rows are not whole k-quant super-blocks.
  kQ5_0 = 8,   // fp16 d, 5-bit q; value = d * (q - 16)
  kQ5_1 = 9,   // fp16 d, m, 5-bit q; value = d * q + m
  kQ4_1 = 10,  // fp16 d, m, 4-bit q; value = d * q + m (older files' Q4_1)
};

// Whether `t` is a k-quant (super-blocks of kKQuantBlockElems).
constexpr bool IsKQuant(DType t) {
  return t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ6_K;
}
// Whether `t` is read from files only: dequantized or requantized at load,
// never computed on as stored (no kernel takes it).
constexpr bool IsLoadOnly(DType t) {
  return t == DType::kQ5_0 || t == DType::kQ5_1 || t == DType::kQ4_1;
}
// Whether `t` stores blocks of QuantBlockElems(t) elements (kQ8_0, kQ4_0,
// the k-quants and the load-only types).
constexpr bool IsQuantized(DType t) {
  return t == DType::kQ8_0 || t == DType::kQ4_0 || IsKQuant(t) || IsLoadOnly(t);
}
// Q8_0/Q4_0 blocks; the activation blocks of every quantized Matmul.
constexpr int64_t kQuantBlockElems = 32;
constexpr int64_t kKQuantBlockElems = 256;
// Elements per block of a quantized type (1 for the element types).
constexpr int64_t QuantBlockElems(DType t) {
  return IsKQuant(t) ? kKQuantBlockElems : IsQuantized(t) ? kQuantBlockElems : 1;
}

// Bytes per element of an element type (fp32, fp16, bf16). A quantized type
// has no whole bytes per element: use DTypeBytes (reaching here with one is a
// bug, and traps).
constexpr int64_t DTypeSize(DType t) {
  return t == DType::kF32 ? 4 : t == DType::kF16 || t == DType::kBF16 ? 2 : (__builtin_trap(), 0);
}

// Bytes of `n` elements of `t`; for a quantized type n is a multiple of
// QuantBlockElems(t) (34 bytes per Q8_0 block, 18 per Q4_0 block, 144 per
// Q4_K super-block, 176 per Q5_K super-block, 210 per Q6_K super-block; 22
// per Q5_0 block, 24 per Q5_1 block, 20 per Q4_1 block).
constexpr int64_t DTypeBytes(DType t, int64_t n) {
  return t == DType::kQ8_0   ? n / kQuantBlockElems * 34
         : t == DType::kQ4_0 ? n / kQuantBlockElems * 18
         : t == DType::kQ5_0 ? n / kQuantBlockElems * 22
         : t == DType::kQ5_1 ? n / kQuantBlockElems * 24
         : t == DType::kQ4_1 ? n / kQuantBlockElems * 20
         : t == DType::kQ4_K ? n / kKQuantBlockElems * 144
         : t == DType::kQ5_K ? n / kKQuantBlockElems * 176
         : t == DType::kQ6_K ? n / kKQuantBlockElems * 210
                             : n * DTypeSize(t);
}

// "fp32", "fp16", "bf16": the spelling of --dtype and --kv-cache-dtype;
// "q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "q5_0", "q5_1", "q4_1" for the
// quantized weight types.
constexpr const char* DTypeName(DType t) {
  return t == DType::kF32    ? "fp32"
         : t == DType::kF16  ? "fp16"
         : t == DType::kBF16 ? "bf16"
         : t == DType::kQ8_0 ? "q8_0"
         : t == DType::kQ4_0 ? "q4_0"
         : t == DType::kQ4_K ? "q4_k"
         : t == DType::kQ5_K ? "q5_k"
         : t == DType::kQ5_0 ? "q5_0"
         : t == DType::kQ5_1 ? "q5_1"
         : t == DType::kQ4_1 ? "q4_1"
                             : "q6_k";
}

// "fp32"/"float32", "fp16"/"float16"/"half", "bf16"/"bfloat16" -> DType
// (config.json's torch_dtype spellings included); nullopt otherwise.
constexpr std::optional<DType> ParseDTypeName(std::string_view name) {
  if (name == "fp32" || name == "float32" || name == "float") return DType::kF32;
  if (name == "fp16" || name == "float16" || name == "half") return DType::kF16;
  if (name == "bf16" || name == "bfloat16") return DType::kBF16;
  return std::nullopt;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "checkpoints and caches are little-endian; a big-endian host needs byte swaps");

namespace dtype_internal {
template <typename To, typename From>
inline To BitCast(From from) {  // std::bit_cast, which C++17 lacks
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}
}  // namespace dtype_internal

inline float BF16ToF32(uint16_t bits) {
  return dtype_internal::BitCast<float>(static_cast<uint32_t>(bits) << 16);
}

inline float F16ToF32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t mantissa = bits & 0x3FFu;
  uint32_t out;
  if (exponent == 0x1F) {  // inf / NaN: keep the payload; a NaN comes out quiet
    out = sign | 0x7F800000u | (mantissa << 13) | (mantissa != 0 ? 0x00400000u : 0u);
  } else if (exponent != 0) {  // normal: rebias 15 -> 127
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // +-0
    out = sign;
  } else {        // subnormal: m * 2^-24, normalised for fp32
    int e = 113;  // exponent of 2^-14 in fp32 bias, decremented per shift
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    out = sign | (static_cast<uint32_t>(e) << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return dtype_internal::BitCast<float>(out);
}

inline uint16_t F32ToBF16(float f) {
  const uint32_t u = dtype_internal::BitCast<uint32_t>(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) {  // NaN: quiet it, keep sign and top payload
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  }
  // Round to nearest even: add 0x7FFF plus the lowest kept bit, truncate.
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline uint16_t F32ToF16(float f) {
  const uint32_t u = dtype_internal::BitCast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a >= 0x7F800000u) {  // inf stays inf; NaN is quieted, top payload kept
    if (a == 0x7F800000u) return sign | 0x7C00u;
    return static_cast<uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  }
  if (a >= 0x47800000u) return sign | 0x7C00u;  // >= 65536: infinity
  if (a < 0x38800000u) {
    // Below 2^-14: a subnormal or zero. Adding 0.5f lines the binary point up
    // with the f16 subnormal's last mantissa bit, so the fp32 addition does
    // the round-to-nearest-even; its low bits are the result.
    const float t = dtype_internal::BitCast<float>(a) + 0.5f;
    return static_cast<uint16_t>(sign | (dtype_internal::BitCast<uint32_t>(t) - 0x3F000000u));
  }
  // Normal: rebias 127 -> 15 and round to nearest even on the 13 dropped bits
  // (a carry out of the mantissa bumps the exponent, up to infinity).
  const uint32_t odd = (a >> 13) & 1u;
  a += 0xC8000FFFu + odd;  // (15 - 127) << 23, plus the rounding bias
  return static_cast<uint16_t>(sign | (a >> 13));
}

}  // namespace inferd::kernels

#endif  // INFERD_KERNELS_DTYPE_H_
