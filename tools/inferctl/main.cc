// tools/inferctl/main.cc — `inferctl`, the command-line gRPC client of inferd.
//
//   inferctl generate [--addr A] [--max-tokens N] [--temperature T] [--seed S]
//                     [--ignore-eos] [--json] PROMPT
//   inferctl health   [--addr A] [--service NAME]
//   inferctl tokenize [--addr A] TEXT
//   inferctl info     [--addr A]
//
// Depends only on the generated stubs of proto/ (DESIGN §1).
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "tools/inferctl/cli_flags.h"
#include "tools/inferctl/commands.h"
#include "tools/inferctl/flags.h"

namespace {

using inferd::inferctl::ParsedArgs;
using inferd::inferctl::SubcommandSpec;

struct Subcommand {
  const SubcommandSpec& spec;
  int (*run)(const ParsedArgs&);
};

std::vector<Subcommand> Subcommands() {
  return {{inferd::inferctl::GenerateSpec(), &inferd::inferctl::RunGenerate},
          {inferd::inferctl::HealthSpec(), &inferd::inferctl::RunHealth},
          {inferd::inferctl::TokenizeSpec(), &inferd::inferctl::RunTokenize},
          {inferd::inferctl::InfoSpec(), &inferd::inferctl::RunInfo}};
}

std::string MainHelp() {
  std::string help = "usage: inferctl <command> [flags]\n\ncommands:\n";
  for (const Subcommand& command : Subcommands()) {
    absl::StrAppendFormat(&help, "  %-10s %s\n", command.spec.name, command.spec.summary);
  }
  help += "\n'inferctl <command> --help' lists the flags of a command.\n";
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
    absl::StatusOr<ParsedArgs> args = inferd::inferctl::ParseSubcommandArgs(
        command.spec, std::vector<std::string>(argv + 2, argv + argc));
    if (!args.ok()) {
      absl::FPrintF(stderr, "inferctl %s: %s\n", name, args.status().message());
      return 2;
    }
    if (args->help) {
      absl::PrintF("%s", inferd::inferctl::SubcommandHelp("inferctl", command.spec));
      return 0;
    }
    return command.run(*args);
  }
  absl::FPrintF(stderr, "inferctl: unknown command '%s'\n\n%s", name, MainHelp());
  return 2;
}
