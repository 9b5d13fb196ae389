// tools/inferctl/flags.h — the flags of inferctl's subcommands and which
// subcommand accepts which (absl names; the command line uses dashes).
#ifndef INFERD_TOOLS_INFERCTL_FLAGS_H_
#define INFERD_TOOLS_INFERCTL_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/flags/declare.h"
#include "tools/cli/subcommand_flags.h"

ABSL_DECLARE_FLAG(std::string, addr);
ABSL_DECLARE_FLAG(double, timeout);
ABSL_DECLARE_FLAG(int32_t, max_tokens);
ABSL_DECLARE_FLAG(float, temperature);
ABSL_DECLARE_FLAG(std::optional<uint64_t>, seed);
ABSL_DECLARE_FLAG(bool, ignore_eos);
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::string, service);

namespace inferd::inferctl {

const cli::SubcommandSpec& GenerateSpec();
const cli::SubcommandSpec& HealthSpec();
const cli::SubcommandSpec& TokenizeSpec();
const cli::SubcommandSpec& InfoSpec();

}  // namespace inferd::inferctl

#endif  // INFERD_TOOLS_INFERCTL_FLAGS_H_
