// engine/model/dtype.h — the safetensors spellings of the project's DType
// (kernels/dtype.h: "F32", "F16", "BF16"); private to the model loader.
#ifndef INFERD_ENGINE_MODEL_DTYPE_H_
#define INFERD_ENGINE_MODEL_DTYPE_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "kernels/dtype.h"

namespace inferd::engine {

using kernels::BF16ToF32;
using kernels::DType;
using kernels::DTypeSize;
using kernels::F16ToF32;

// "F32" / "F16" / "BF16" -> DType; nullopt for any other dtype name.
std::optional<DType> ParseDType(absl::string_view name);
// DType -> "F32" / "F16" / "BF16".
const char* SafetensorsDTypeName(DType dtype);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_DTYPE_H_
