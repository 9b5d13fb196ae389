// server/main.cc — the `inferd` executable: subcommand dispatch.
//
//   inferd serve    [flags]   serve the model over gRPC (serve_command.h)
//   inferd generate [flags]   one request through the engine (generate_command.h)
//
// Bad usage prints a message to stderr and exits 2.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "server/cli_flags.h"
#include "server/flags.h"
#include "server/generate_command.h"
#include "server/serve_command.h"

namespace {

using inferd::server::ParsedArgs;
using inferd::server::SubcommandSpec;

struct Subcommand {
  const SubcommandSpec& spec;
  int (*run)(const ParsedArgs&);
};

std::vector<Subcommand> Subcommands() {
  return {{inferd::server::ServeSpec(), &inferd::server::RunServe},
          {inferd::server::GenerateSpec(), &inferd::server::RunGenerate}};
}

std::string MainHelp() {
  std::string help = "usage: inferd <command> [flags]\n\ncommands:\n";
  for (const Subcommand& command : Subcommands()) {
    absl::StrAppendFormat(&help, "  %-10s %s\n", command.spec.name, command.spec.summary);
  }
  help += "\n'inferd <command> --help' lists the flags of a command.\n";
  return help;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    absl::FPrintF(stderr, "%s", MainHelp());
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    absl::PrintF("%s", MainHelp());
    return 0;
  }
  for (const Subcommand& command : Subcommands()) {
    if (command.spec.name != name) continue;
    absl::StatusOr<ParsedArgs> args = inferd::server::ParseSubcommandArgs(
        command.spec, std::vector<std::string>(argv + 2, argv + argc));
    if (!args.ok()) {
      absl::FPrintF(stderr, "inferd %s: %s\n", name, args.status().message());
      return 2;
    }
    if (args->help) {
      absl::PrintF("%s", inferd::server::SubcommandHelp("inferd", command.spec));
      return 0;
    }
    return command.run(*args);
  }
  absl::FPrintF(stderr, "inferd: unknown command '%s'\n\n%s", name, MainHelp());
  return 2;
}
