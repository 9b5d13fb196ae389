// tests/fuzz/openai_stream_fuzz.cc — arbitrary bytes as the body of a
// streamed completion, read as inferload's HTTP client reads it: the SSE
// reader (fed in two pieces, cut where the first byte says) and every event's
// data through ReadCompletionEvent. Each ends with events or an error
// naming the problem, never a crash; the split never changes the events.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "loadtest/inferload/openai_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = bytes.empty() ? 0 : data[0] % (bytes.size() + 1);

  inferd::inferload::SseReader whole;
  std::vector<std::string> events;
  const bool whole_ok = whole.Feed(bytes, &events).ok();

  inferd::inferload::SseReader split;
  std::vector<std::string> split_events;
  bool split_ok = split.Feed(bytes.substr(0, cut), &split_events).ok();
  if (split_ok) split_ok = split.Feed(bytes.substr(cut), &split_events).ok();
  if (whole_ok != split_ok || (whole_ok && events != split_events)) std::abort();

  for (const std::string& event : events) {
    absl::StatusOr<inferd::inferload::CompletionEvent> read =
        inferd::inferload::ReadCompletionEvent(event);
    if (!read.ok() && read.status().message().empty()) std::abort();
  }
  return 0;
}
