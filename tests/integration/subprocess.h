// tests/integration/subprocess.h — running the real binaries (build/inferd,
// build/inferctl) from tests, always with a bounded wait.
//
// Children get PR_SET_PDEATHSIG(SIGKILL): a crashed test never leaves a
// server behind.
#ifndef INFERD_TESTS_INTEGRATION_SUBPROCESS_H_
#define INFERD_TESTS_INTEGRATION_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace inferd::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs argv[0] (a path) with the arguments, waits at most `timeout`, then
// kills it.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The last non-empty line of `text`.
std::string LastLine(const std::string& text);

// A long-running child whose stdout is read line by line; stderr goes to the
// test's stderr, or to a file. The destructor kills it (SIGKILL) if still
// running.
class ChildProcess {
 public:
  // nullopt (and a message in *error) when fork/exec fails. A non-empty
  // `stderr_path` receives the child's stderr (created or truncated).
  static std::optional<ChildProcess> Start(const std::vector<std::string>& argv, std::string* error,
                                           const std::string& stderr_path = "");
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  // The next stdout line (without '\n'); nullopt on EOF or timeout.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  // At least `n` bytes of stdout more than read so far (or EOF/timeout):
  // returns what was read.
  std::string ReadBytes(size_t n, std::chrono::milliseconds timeout);

  void Signal(int signal);
  // Waits for the exit; the exit code, or -1 (signalled, or still running
  // after `timeout`, then killed).
  int Wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  // Appends what is readable within `timeout` to buffer_; false on EOF/timeout.
  bool Fill(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
};

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_SUBPROCESS_H_
