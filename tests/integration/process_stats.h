// tests/integration/process_stats.h — what /proc says about the daemon under
// test: resident memory (now and peak), threads, open file descriptors, and
// whether a file is memory-mapped.
#ifndef INFERD_TESTS_INTEGRATION_PROCESS_STATS_H_
#define INFERD_TESTS_INTEGRATION_PROCESS_STATS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace inferd::testing {

struct ProcessStats {
  int64_t rss_bytes = 0;  // VmRSS
  int64_t hwm_bytes = 0;  // VmHWM: peak resident set since start
  int64_t threads = 0;    // Threads
  int64_t open_fds = 0;   // entries of /proc/PID/fd
};

// nullopt when the process is gone (or /proc is unreadable).
std::optional<ProcessStats> ReadProcessStats(pid_t pid);

// Whether /proc/PID/maps lists a mapping of `path` (compared after
// resolving symlinks, so a relative or linked path matches).
bool MapsFile(pid_t pid, const std::string& path);

// "12.3 MiB".
std::string MiB(int64_t bytes);

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_PROCESS_STATS_H_
