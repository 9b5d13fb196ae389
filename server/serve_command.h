// server/serve_command.h — `inferd serve`: load the model, serve gRPC until
// SIGINT/SIGTERM.
#ifndef INFERD_SERVER_SERVE_COMMAND_H_
#define INFERD_SERVER_SERVE_COMMAND_H_

#include "tools/cli/subcommand_flags.h"

namespace inferd::server {

// Flags are already parsed into the absl flags (flags.h). Returns the exit
// code: 0 after a clean shutdown, 1 when the model or the port fails, 2 for a
// bad flag value.
int RunServe(const cli::ParsedArgs& args);

}  // namespace inferd::server

#endif  // INFERD_SERVER_SERVE_COMMAND_H_
