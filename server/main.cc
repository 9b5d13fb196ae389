// server/main.cc — the `inferd` executable: subcommand dispatch.
//
//   inferd serve    [flags]   serve the model over gRPC (serve_command.h)
//   inferd generate [flags]   one request through the engine (generate_command.h)
//
// Bad usage prints a message to stderr and exits 2.
#include "server/flags.h"
#include "server/generate_command.h"
#include "server/serve_command.h"
#include "tools/cli/subcommand_flags.h"

int main(int argc, char** argv) {
  using inferd::server::GenerateSpec;
  using inferd::server::ServeSpec;
  return inferd::cli::RunSubcommandMain(
      "inferd",
      {{&ServeSpec(), &inferd::server::RunServe}, {&GenerateSpec(), &inferd::server::RunGenerate}},
      argc, argv);
}
