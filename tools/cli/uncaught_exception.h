// tools/cli/uncaught_exception.h — every binary's last line of defence: an
// exception that escapes (std::bad_alloc from a size nobody bounded,
// std::system_error from a thread the OS refused) ends the process with one
// line on stderr and exit 1, never an abort with a core dump.
//
// The bounds checks are the real fix; this only keeps their misses from
// looking like crashes. Used by RunSubcommandMain and RunCommandMain, so
// inferd, inferctl and inferload all have it.
#ifndef INFERD_TOOLS_CLI_UNCAUGHT_EXCEPTION_H_
#define INFERD_TOOLS_CLI_UNCAUGHT_EXCEPTION_H_

#include <exception>
#include <string>

namespace inferd::cli {

// Exit status of a process ended by an uncaught exception.
inline constexpr int kUncaughtExceptionExit = 1;

// "out of memory (std::bad_alloc)", or the exception's what().
std::string DescribeException(const std::exception_ptr& error);

// Sets a std::terminate handler that prints "<program>: error: <exception>"
// and exits kUncaughtExceptionExit when an exception escapes any thread
// (terminate without an exception, a bug, still aborts).
void InstallUncaughtExceptionHandler(const std::string& program);

// Runs `main_body`; an exception escaping it is printed as above and turned
// into kUncaughtExceptionExit.
template <typename Fn>
int RunCatchingExceptions(const std::string& program, Fn&& main_body);

// --- implementation -------------------------------------------------------

void PrintUncaughtException(const std::string& program, const std::exception_ptr& error);

template <typename Fn>
int RunCatchingExceptions(const std::string& program, Fn&& main_body) {
  try {
    return main_body();
  } catch (...) {
    PrintUncaughtException(program, std::current_exception());
    return kUncaughtExceptionExit;
  }
}

}  // namespace inferd::cli

#endif  // INFERD_TOOLS_CLI_UNCAUGHT_EXCEPTION_H_
