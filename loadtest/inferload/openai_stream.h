// loadtest/inferload/openai_stream.h — the bytes of one streamed OpenAI
// completion as inferload sends and reads them, apart from the transport
// (http_stream_client.h):
//
//   request   POST /v1/completions {"prompt": ids or text, "max_tokens": N,
//             "ignore_eos": true, "temperature": T, "stream": true,
//             "stream_options": {"include_usage": true}[, "priority": P]}
//             (the fields of the gRPC GenerateRequest inferload sends)
//   response  server-sent events, `data: {chunk}` ... `data: [DONE]`
//
// SseReader splits the response body into events and returns each event's
// data (its `data:` lines joined by "\n"); ReadCompletionEvent says what one
// data carried: text (a chunk the client counts as output arriving), the
// usage, an error object, or the end. Both reject bytes that are not that
// stream with a message naming the problem.
#ifndef INFERD_LOADTEST_INFERLOAD_OPENAI_STREAM_H_
#define INFERD_LOADTEST_INFERLOAD_OPENAI_STREAM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "loadtest/inferload/load_client.h"
#include "loadtest/inferload/workload.h"

namespace inferd::inferload {

// The JSON body of the streamed completion for `spec`.
std::string CompletionRequestBody(const RequestSpec& spec, const SamplingOptions& sampling);

// Server-sent events (the WHATWG event-stream format, the parts OpenAI
// streams use): lines end with LF, CRLF or CR; a blank line ends an event;
// `data:` lines (one optional space after the colon dropped) make its data;
// comments (`:`) and other fields are skipped. An event with no data line is
// no event.
class SseReader {
 public:
  // Bounds one line (an event's data can be no longer): a stream that
  // never ends its line is an error, not unbounded memory.
  static constexpr size_t kMaxLineBytes = 1 << 20;

  // Appends the data of every event `bytes` completes to `events`.
  // INVALID_ARGUMENT for a line over kMaxLineBytes.
  absl::Status Feed(absl::string_view bytes, std::vector<std::string>* events);

 private:
  void EndLine(std::vector<std::string>* events);

  std::string line_;
  std::string data_;
  bool has_data_ = false;
  bool after_cr_ = false;  // the last byte was CR: a following LF ends nothing
};

// What one event's data said.
struct CompletionEvent {
  bool done = false;      // `[DONE]`
  bool has_text = false;  // a choice with non-empty text
  bool finished = false;  // a choice with a finish_reason
  // The usage chunk (include_usage).
  std::optional<int64_t> prompt_tokens;
  std::optional<int64_t> completion_tokens;
  int64_t cached_tokens = 0;
  // An error object ({"error": {"message", "type", ...}}): its gRPC code
  // (from `type`) and message.
  std::optional<int> error_code;
  std::string error_message;
};

// INVALID_ARGUMENT naming the problem when `data` is neither `[DONE]` nor a
// JSON object shaped as a completion chunk or an error object.
absl::StatusOr<CompletionEvent> ReadCompletionEvent(absl::string_view data);

// The gRPC code (absl/grpc numbering) of a non-200 HTTP status, as inferd's
// HTTP front maps codes to statuses (400 INVALID_ARGUMENT, 401
// UNAUTHENTICATED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE,
// 504 DEADLINE_EXCEEDED, other 5xx INTERNAL, anything else UNKNOWN).
int CodeForHttpStatus(int status);

// The same for an error object's `type` (a stream that failed after 200).
int CodeForErrorType(absl::string_view type);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_OPENAI_STREAM_H_
