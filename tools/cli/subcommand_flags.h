// tools/cli/subcommand_flags.h — `program <subcommand> [flags]` command lines on
// top of the absl flags registry, shared by inferd and inferctl.
//
// absl flags are global and spelled with underscores; the CLI contract is
// subcommands with dashed flags (--max-num-seqs). This parser takes the
// arguments after the subcommand, maps --dashed-name to the absl flag
// dashed_name, rejects flags that do not belong to the subcommand, sets
// values through absl (so types and custom AbslParseFlag apply), and collects
// repeatable flags (--stop A --stop B) itself. Forms: --name=value,
// --name value, --bool-flag, --nobool-flag, --bool-flag=false, and "--" to
// end flags.
// Generic: no server, engine or proto types, so inferctl and inferload (which
// may depend only on proto/) and inferd all use it. Programs without
// subcommands (`inferload [flags]`) use RunCommandMain.
#ifndef INFERD_TOOLS_CLI_SUBCOMMAND_FLAGS_H_
#define INFERD_TOOLS_CLI_SUBCOMMAND_FLAGS_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::cli {

// Longest duration any flag of inferd, inferctl or inferload accepts: a week.
// Longer is a typo (a wait that never ends is what 0 means where a flag allows
// "never"), and past ~292 years a deadline would overflow the clock.
inline constexpr double kMaxDurationFlagSeconds = 7 * 24 * 3600;

// What a subcommand accepts.
struct SubcommandSpec {
  std::string name;                  // "serve"
  std::string synopsis;              // "[--model DIR] [--port N] ..."
  std::string summary;               // one line for `inferd --help`
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

struct Subcommand {
  const SubcommandSpec* spec;
  std::function<int(const ParsedArgs&)> run;
};

// The whole of a multi-command main(): `program --help` lists the commands,
// `program NAME --help` a command's flags; a known command runs with its
// parsed arguments. Bad usage prints to stderr and returns 2.
int RunSubcommandMain(const std::string& program, const std::vector<Subcommand>& commands, int argc,
                      char** argv);

// The whole of a main() without subcommands, `program [flags]`: `spec.name`
// is the program name, argv[1..] its arguments. --help prints the flags and
// returns 0; bad usage prints to stderr and returns 2; otherwise `run`'s
// result.
int RunCommandMain(const SubcommandSpec& spec, const std::function<int(const ParsedArgs&)>& run,
                   int argc, char** argv);

}  // namespace inferd::cli

#endif  // INFERD_TOOLS_CLI_SUBCOMMAND_FLAGS_H_
