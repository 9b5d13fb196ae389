// engine/backend/cpu_isa_setting.cc — see cpu_isa_setting.h.
#include "engine/backend/cpu_isa_setting.h"

#include <string_view>

#include "absl/strings/str_cat.h"

namespace inferd::engine {

absl::StatusOr<std::optional<CpuIsa>> ParseCpuIsaSetting(absl::string_view value) {
  using Setting = std::optional<CpuIsa>;
  if (value == "auto") return Setting();
  if (std::optional<CpuIsa> isa =
          kernels::CpuIsaFromName(std::string_view(value.data(), value.size()))) {
    return Setting(*isa);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("must be auto, avx2, avx-vnni or avx512, got \"", value, "\""));
}

absl::Status ApplyCpuIsaSetting(std::optional<CpuIsa> isa) {
  if (!isa.has_value() || kernels::SetCpuIsa(*isa)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("--cpu-isa ", kernels::CpuIsaName(*isa),
                   " needs instructions this CPU lacks (the best it runs is ",
                   kernels::CpuIsaName(kernels::BestCpuIsa()), ")"));
}

std::string ActiveCpuIsaName() { return kernels::CpuIsaName(kernels::ActiveCpuIsa()); }

std::string ActiveCpuKernels() { return kernels::CpuKernelsSummary(); }

}  // namespace inferd::engine
