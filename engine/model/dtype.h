// engine/model/dtype.h — the safetensors dtypes inferd accepts and their
// conversion to fp32 (private to the model loader).
//
// The conversions are exact and bit-defined: every F16/BF16 value, subnormals,
// infinities and NaNs included, maps to the fp32 value it denotes (NaNs keep
// their sign and payload bits).
#ifndef INFERD_ENGINE_MODEL_DTYPE_H_
#define INFERD_ENGINE_MODEL_DTYPE_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "engine/model/safetensors.h"

namespace inferd::engine {

// "F32" / "F16" / "BF16" -> DType; nullopt for any other dtype name.
std::optional<DType> ParseDType(absl::string_view name);
const char* DTypeName(DType dtype);
// Bytes per element.
uint64_t DTypeSize(DType dtype);

float F16ToF32(uint16_t bits);
float BF16ToF32(uint16_t bits);

// Converts `count` little-endian elements of `dtype` starting at `src` (any
// alignment) to fp32 in `dst`.
void ConvertToF32(DType dtype, const uint8_t* src, uint64_t count, float* dst);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_DTYPE_H_
