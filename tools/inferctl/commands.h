// tools/inferctl/commands.h — inferctl's subcommands. Each takes the parsed
// command line (flags already set in absl) and returns the exit code: 0 when
// the server answered, 1 when a call failed or the server is unreachable,
// 2 for bad usage.
#ifndef INFERD_TOOLS_INFERCTL_COMMANDS_H_
#define INFERD_TOOLS_INFERCTL_COMMANDS_H_

#include "tools/cli/subcommand_flags.h"

namespace inferd::inferctl {

int RunGenerate(const cli::ParsedArgs& args);  // generate_command.cc
int RunHealth(const cli::ParsedArgs& args);    // health_command.cc
int RunTokenize(const cli::ParsedArgs& args);  // tokenize_command.cc
int RunInfo(const cli::ParsedArgs& args);      // info_command.cc

}  // namespace inferd::inferctl

#endif  // INFERD_TOOLS_INFERCTL_COMMANDS_H_
