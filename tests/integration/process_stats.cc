// tests/integration/process_stats.cc
#include "tests/integration/process_stats.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace inferd::testing {

namespace {

// "VmRSS:	  123456 kB" -> bytes.
bool ParseKiBLine(const std::string& line, const char* key, int64_t* bytes) {
  if (line.rfind(key, 0) != 0) return false;
  std::istringstream in(line.substr(std::char_traits<char>::length(key)));
  int64_t kib = 0;
  if (!(in >> kib)) return false;
  *bytes = kib * 1024;
  return true;
}

}  // namespace

std::optional<ProcessStats> ReadProcessStats(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream status(proc + "/status");
  if (!status) return std::nullopt;
  ProcessStats stats;
  bool have_rss = false;
  for (std::string line; std::getline(status, line);) {
    have_rss |= ParseKiBLine(line, "VmRSS:", &stats.rss_bytes);
    ParseKiBLine(line, "VmHWM:", &stats.hwm_bytes);
    if (line.rfind("Threads:", 0) == 0) stats.threads = std::stoll(line.substr(8));
  }
  if (!have_rss) return std::nullopt;  // a zombie has no VmRSS
  std::error_code error;
  for (std::filesystem::directory_iterator it(proc + "/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++stats.open_fds;
  }
  if (error) return std::nullopt;
  return stats;
}

bool MapsFile(pid_t pid, const std::string& path) {
  std::error_code error;
  const std::string wanted = std::filesystem::weakly_canonical(path, error).string();
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  for (std::string line; std::getline(maps, line);) {
    // address perms offset dev inode pathname: the path starts at the first '/'.
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string mapped = line.substr(slash);
    const std::string deleted = " (deleted)";
    if (mapped.size() > deleted.size() &&
        mapped.compare(mapped.size() - deleted.size(), deleted.size(), deleted) == 0) {
      mapped.resize(mapped.size() - deleted.size());
    }
    if (mapped == wanted || mapped == path) return true;
  }
  return false;
}

std::string MiB(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace inferd::testing
