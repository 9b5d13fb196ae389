// tools/cli/subcommand_flags.cc
#include "tools/cli/subcommand_flags.h"

#include <algorithm>
#include <cstdio>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "tools/cli/uncaught_exception.h"

namespace inferd::cli {

namespace {

std::string Dashed(const std::string& absl_name) {
  return absl::StrReplaceAll(absl_name, {{"_", "-"}});
}

bool Accepts(const SubcommandSpec& spec, const std::string& absl_name) {
  return std::find(spec.flags.begin(), spec.flags.end(), absl_name) != spec.flags.end();
}

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

}  // namespace

absl::StatusOr<ParsedArgs> ParseSubcommandArgs(const SubcommandSpec& spec,
                                               const std::vector<std::string>& args) {
  ParsedArgs parsed;
  const std::string command = absl::StrCat("'", spec.name, "'");
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      parsed.positional.insert(parsed.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      parsed.help = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      parsed.positional.push_back(arg);
      continue;
    }
    // "-x", "--x", "--x=v": the name without dashes, the value if inline.
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      value = body.substr(eq + 1);
      body.resize(eq);
      has_value = true;
    }
    std::string name = absl::StrReplaceAll(body, {{"-", "_"}});
    absl::CommandLineFlag* flag = Accepts(spec, name) ? absl::FindCommandLineFlag(name) : nullptr;
    bool negated = false;
    if (flag == nullptr && absl::StartsWith(name, "no") && Accepts(spec, name.substr(2))) {
      absl::CommandLineFlag* candidate = absl::FindCommandLineFlag(name.substr(2));
      if (candidate != nullptr && candidate->IsOfType<bool>() && !has_value) {
        flag = candidate;
        name = name.substr(2);
        negated = true;
      }
    }
    if (flag == nullptr) {
      return Invalid(absl::StrCat("unknown flag --", body, " for ", command,
                                  " (see --help for the flags it accepts)"));
    }
    if (negated) {
      value = "false";
    } else if (!has_value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Invalid(absl::StrCat("flag --", Dashed(name), " needs a value"));
      }
    }
    parsed.specified.insert(name);
    if (spec.repeatable.count(name) > 0) {
      parsed.repeated[name].push_back(value);
      continue;
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return Invalid(absl::StrCat("bad value for --", Dashed(name), ": ", error));
    }
  }
  if (static_cast<int>(parsed.positional.size()) > spec.max_positional) {
    return Invalid(absl::StrCat("unexpected argument '", parsed.positional[spec.max_positional],
                                "' for ", command));
  }
  return parsed;
}

namespace {

// `usage: <usage_prefix> synopsis`, the summary, then one block per flag.
std::string HelpText(const std::string& usage_prefix, const SubcommandSpec& spec) {
  std::string out = absl::StrCat("usage: ", usage_prefix, " ", spec.synopsis, "\n\n", spec.summary,
                                 "\n\nflags:\n");
  for (const std::string& name : spec.flags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    absl::StrAppend(&out, "  --", Dashed(name), "\n      ", flag->Help());
    if (spec.repeatable.count(name) > 0) {
      absl::StrAppend(&out, " (repeatable)");
    } else if (const std::string def = flag->DefaultValue(); !def.empty()) {
      absl::StrAppend(&out, " (default: ", def, ")");
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "  --help\n      Show this help.\n");
  return out;
}

}  // namespace

std::string SubcommandHelp(const std::string& program, const SubcommandSpec& spec) {
  return HelpText(absl::StrCat(program, " ", spec.name), spec);
}

namespace {
std::string MainHelp(const std::string& program, const std::vector<Subcommand>& commands) {
  std::string help = absl::StrFormat("usage: %s <command> [flags]\n\ncommands:\n", program);
  for (const Subcommand& command : commands) {
    absl::StrAppendFormat(&help, "  %-10s %s\n", command.spec->name, command.spec->summary);
  }
  absl::StrAppendFormat(&help, "\n'%s <command> --help' lists the flags of a command.\n", program);
  return help;
}
}  // namespace

int RunSubcommandMain(const std::string& program, const std::vector<Subcommand>& commands, int argc,
                      char** argv) {
  InstallUncaughtExceptionHandler(program);
  if (argc < 2) {
    absl::FPrintF(stderr, "%s", MainHelp(program, commands));
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    absl::PrintF("%s", MainHelp(program, commands));
    return 0;
  }
  for (const Subcommand& command : commands) {
    if (command.spec->name != name) continue;
    absl::StatusOr<ParsedArgs> args =
        ParseSubcommandArgs(*command.spec, std::vector<std::string>(argv + 2, argv + argc));
    if (!args.ok()) {
      absl::FPrintF(stderr, "%s %s: %s\n", program, name, args.status().message());
      return 2;
    }
    if (args->help) {
      absl::PrintF("%s", SubcommandHelp(program, *command.spec));
      return 0;
    }
    return RunCatchingExceptions(program, [&] { return command.run(*args); });
  }
  absl::FPrintF(stderr, "%s: unknown command '%s'\n\n%s", program, name,
                MainHelp(program, commands));
  return 2;
}

int RunCommandMain(const SubcommandSpec& spec, const std::function<int(const ParsedArgs&)>& run,
                   int argc, char** argv) {
  InstallUncaughtExceptionHandler(spec.name);
  absl::StatusOr<ParsedArgs> args =
      ParseSubcommandArgs(spec, std::vector<std::string>(argv + 1, argv + argc));
  if (!args.ok()) {
    absl::FPrintF(stderr, "%s: %s\n", spec.name, args.status().message());
    return 2;
  }
  if (args->help) {
    absl::PrintF("%s", HelpText(spec.name, spec));
    return 0;
  }
  return RunCatchingExceptions(spec.name, [&] { return run(*args); });
}

}  // namespace inferd::cli
