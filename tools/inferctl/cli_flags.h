// tools/inferctl/cli_flags.h — command-line parsing for `inferctl <subcommand> ...`
// on top of the absl flags registry.
//
// absl flags are global and spelled with underscores; the CLI contract is
// subcommands with dashed flags (--max-tokens). This parser takes the
// arguments after the subcommand, maps --dashed-name to the absl flag
// dashed_name, rejects flags that do not belong to the subcommand, sets
// values through absl (so types and custom AbslParseFlag apply), and collects
// repeatable flags (--stop A --stop B) itself. Forms: --name=value,
// --name value, --bool-flag, --nobool-flag, --bool-flag=false, and "--" to
// end flags. This is a twin of server/cli_flags.h: inferctl may depend on
// proto/ only (DESIGN §1), so it cannot link the server's copy.
#ifndef INFERD_TOOLS_INFERCTL_CLI_FLAGS_H_
#define INFERD_TOOLS_INFERCTL_CLI_FLAGS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::inferctl {

// What a subcommand accepts.
struct SubcommandSpec {
  std::string name;                  // "generate"
  std::string synopsis;              // "[--addr A] PROMPT"
  std::string summary;               // one line for `inferctl --help`
  std::vector<std::string> flags;    // absl flag names (underscores)
  std::set<std::string> repeatable;  // of `flags`: kept as lists, not set in absl
  int max_positional = 0;
};

struct ParsedArgs {
  std::vector<std::string> positional;
  std::set<std::string> specified;  // absl names of flags given on the command line
  std::map<std::string, std::vector<std::string>> repeated;  // values of repeatable flags
  bool help = false;                                         // --help or -h was given
};

// Parses `args` (the arguments after the subcommand). INVALID_ARGUMENT with a
// message naming the flag (unknown flag, flag of another subcommand, missing
// or bad value, too many positional arguments).
absl::StatusOr<ParsedArgs> ParseSubcommandArgs(const SubcommandSpec& spec,
                                               const std::vector<std::string>& args);

// `program name synopsis`, then one block per flag: --dashed-name, its help
// text and its default.
std::string SubcommandHelp(const std::string& program, const SubcommandSpec& spec);

}  // namespace inferd::inferctl

#endif  // INFERD_TOOLS_INFERCTL_CLI_FLAGS_H_
