// server/generate_command.h — `inferd generate`: one request through the
// engine, no server. The offline reference the integration tests compare the
// gRPC streams against.
//
// Output: the continuation as it streams; with --json, one JSON object on the
// last stdout line: prompt_ids (as fed, BOS included), output_ids (stop token
// excluded), text (the engine's text deltas concatenated: the continuation as
// it reads appended to the prompt), finish_reason (stop, length,
// stop_string, abort).
#ifndef INFERD_SERVER_GENERATE_COMMAND_H_
#define INFERD_SERVER_GENERATE_COMMAND_H_

#include "tools/cli/subcommand_flags.h"

namespace inferd::server {

// Returns the exit code: 0 on success, 2 for bad flags or a request the
// engine refuses as invalid, 1 for other failures.
int RunGenerate(const cli::ParsedArgs& args);

}  // namespace inferd::server

#endif  // INFERD_SERVER_GENERATE_COMMAND_H_
