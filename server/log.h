// server/log.h — the daemon's own stderr lines (start-up, loading, readiness,
// drain, per-request lines), in one of two formats (--log-format):
//
//   text  inferd: model loaded in 0.12 s load_s=0.12 architecture=LlamaForCausalLM
//   json  {"ts":"2025-01-31T12:00:00.123Z","level":"info","msg":"model loaded in 0.12 s",
//          "load_s":0.12,"architecture":"LlamaForCausalLM"}        (one object per line)
//
// `ts` is UTC, RFC 3339 with milliseconds; `level` is info, warning or error;
// the fields follow in the order given. The stdout lines tools parse
// ("inferd: serving ... on HOST:PORT") are not log lines: they stay plain text.
//
// Thread-safe: a line is formatted first and written whole under a mutex, so
// the lines of concurrent threads never interleave. Never called from the
// engine thread (STYLE rule 11); per-request lines go through RequestLog.
#ifndef INFERD_SERVER_LOG_H_
#define INFERD_SERVER_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/flag_types.h"

namespace inferd::server {

enum class LogLevel { kInfo, kWarning, kError };

// Named values after the message: strings, numbers, booleans (JSON values).
using LogFields = std::vector<std::pair<std::string, nlohmann::json>>;

// Process-wide; set once, before the first line (default text).
void SetLogFormat(LogFormat format);
LogFormat GetLogFormat();

void Log(LogLevel level, absl::string_view msg, const LogFields& fields = {});
inline void LogInfo(absl::string_view msg, const LogFields& fields = {}) {
  Log(LogLevel::kInfo, msg, fields);
}
inline void LogWarning(absl::string_view msg, const LogFields& fields = {}) {
  Log(LogLevel::kWarning, msg, fields);
}
inline void LogError(absl::string_view msg, const LogFields& fields = {}) {
  Log(LogLevel::kError, msg, fields);
}

// The line Log writes (without the newline), stamped `now`.
std::string FormatLogLine(LogFormat format, LogLevel level, absl::string_view msg,
                          const LogFields& fields, absl::Time now);

// Sends gRPC's own log lines (gpr_log: errors by default) through Log, so
// that with --log-format json every stderr line is a JSON object.
void RouteGrpcLogsToLog();

}  // namespace inferd::server

#endif  // INFERD_SERVER_LOG_H_
