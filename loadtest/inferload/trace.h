// loadtest/inferload/trace.h — a JSONL arrival trace to replay (--trace).
//
// Each non-blank line is one request:
//   arrival_s | timestamp  when it is sent, in seconds (exactly one of the
//                          two; arrival_s >= 0, timestamp any finite number,
//                          e.g. Unix time)
//   prompt | prompt_len    text sent as is, or a prompt of that many random
//                          token ids (exactly one of the two)
//   max_tokens | output_len  tokens to generate (optional; default: the run's
//                          output length)
// Other fields are ignored. Times are taken relative to the earliest entry
// (it is sent at t = 0); entries are replayed in time order (a stable sort,
// so equal times keep the file order).
#ifndef INFERD_LOADTEST_INFERLOAD_TRACE_H_
#define INFERD_LOADTEST_INFERLOAD_TRACE_H_

#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::inferload {

struct TraceEntry {
  double arrival_s = 0;  // relative to the earliest entry
  std::optional<std::string> prompt;
  std::optional<int> prompt_len;
  std::optional<int> output_len;
  int line = 0;  // 1-based line in the file
};

// INVALID_ARGUMENT naming `file`, the line and the field for a bad line, and
// for a trace without entries.
absl::StatusOr<std::vector<TraceEntry>> ParseTrace(std::istream& in, const std::string& file);
absl::StatusOr<std::vector<TraceEntry>> LoadTrace(const std::string& path);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_TRACE_H_
