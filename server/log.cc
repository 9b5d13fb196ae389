// server/log.cc
#include "server/log.h"

#include <atomic>
#include <cstdio>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/support/log.h"

namespace inferd::server {

namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};

absl::Mutex& WriteMutex() {
  static absl::Mutex* const mu = new absl::Mutex();
  return *mu;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// JSON text; invalid UTF-8 (in a value the daemon does not control) is
// replaced, never an exception.
std::string Dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A text field value: bare when it reads unambiguously, else JSON-quoted.
std::string TextValue(const nlohmann::json& value) {
  if (!value.is_string()) return Dump(value);
  const std::string& s = value.get_ref<const std::string&>();
  const bool bare = !s.empty() && s.find_first_of(" \t\r\n\"=") == std::string::npos;
  return bare ? s : Dump(value);
}

void GrpcLog(gpr_log_func_args* args) {
  LogLevel level = LogLevel::kInfo;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = LogLevel::kError;
  Log(level, args->message != nullptr ? args->message : "",
      {{"source", "grpc"},
       {"file", args->file != nullptr ? args->file : ""},
       {"line", args->line}});
}

}  // namespace

void SetLogFormat(LogFormat format) { g_format.store(format); }
LogFormat GetLogFormat() { return g_format.load(); }

std::string FormatLogLine(LogFormat format, LogLevel level, absl::string_view msg,
                          const LogFields& fields, absl::Time now) {
  if (format == LogFormat::kJson) {
    nlohmann::ordered_json line;
    line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone());
    line["level"] = LevelName(level);
    line["msg"] = std::string(msg);
    for (const auto& [name, value] : fields) line[name] = value;
    return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  std::string line = "inferd: ";
  if (level == LogLevel::kWarning) line += "warning: ";
  if (level == LogLevel::kError) line += "error: ";
  line.append(msg.data(), msg.size());
  for (const auto& [name, value] : fields) absl::StrAppend(&line, " ", name, "=", TextValue(value));
  return line;
}

void Log(LogLevel level, absl::string_view msg, const LogFields& fields) {
  std::string line = FormatLogLine(GetLogFormat(), level, msg, fields, absl::Now());
  line += '\n';
  absl::MutexLock lock(&WriteMutex());
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void RouteGrpcLogsToLog() { gpr_set_log_function(GrpcLog); }

}  // namespace inferd::server
