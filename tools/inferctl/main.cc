// tools/inferctl/main.cc — `inferctl`, the command-line gRPC client of inferd.
//
//   inferctl generate [--addr A] [--max-tokens N] [--temperature T] [--seed S]
//                     [--ignore-eos] [--json] PROMPT
//   inferctl health   [--addr A] [--service NAME]
//   inferctl tokenize [--addr A] TEXT
//   inferctl info     [--addr A]
//
// Depends only on the generated stubs of proto/ and the generic tools/cli
// (DESIGN §1).
#include "tools/cli/subcommand_flags.h"
#include "tools/inferctl/commands.h"
#include "tools/inferctl/flags.h"

int main(int argc, char** argv) {
  namespace ctl = inferd::inferctl;
  return inferd::cli::RunSubcommandMain("inferctl",
                                        {{&ctl::GenerateSpec(), &ctl::RunGenerate},
                                         {&ctl::HealthSpec(), &ctl::RunHealth},
                                         {&ctl::TokenizeSpec(), &ctl::RunTokenize},
                                         {&ctl::InfoSpec(), &ctl::RunInfo}},
                                        argc, argv);
}
