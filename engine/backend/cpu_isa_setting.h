// engine/backend/cpu_isa_setting.h — the CPU kernels' instruction-set path
// (kernels/cpu_isa.h) as the engine selects and reports it: --cpu-isa's
// spelling, applying it at Create, and the names GetModelInfo and the
// start-up summary show. Part of the device seam: the engine's top level
// reaches the kernels' process-wide dispatch only through here.
#ifndef INFERD_ENGINE_BACKEND_CPU_ISA_SETTING_H_
#define INFERD_ENGINE_BACKEND_CPU_ISA_SETTING_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kernels/cpu_isa.h"

namespace inferd::engine {

using CpuIsa = kernels::CpuIsa;

// The spelling of --cpu-isa: "auto" -> nullopt (the best path the CPU has,
// or INFERD_CPU_ISA's), "avx2", "avx-vnni", "avx512". Anything else is
// INVALID_ARGUMENT "must be auto, avx2, avx-vnni or avx512, got \"<value>\"".
absl::StatusOr<std::optional<CpuIsa>> ParseCpuIsaSetting(absl::string_view value);

// Selects `isa` for the whole process (nullopt: leaves the active path).
// FAILED_PRECONDITION "--cpu-isa <isa> needs instructions this CPU lacks
// (the best it runs is <best>)" when the CPU cannot run it.
absl::Status ApplyCpuIsaSetting(std::optional<CpuIsa> isa);

// The active path's name ("avx2", "avx-vnni", "avx512") and what it runs
// per weight type (kernels::CpuKernelsSummary).
std::string ActiveCpuIsaName();
std::string ActiveCpuKernels();

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_BACKEND_CPU_ISA_SETTING_H_
