// engine/stop_string_filter.h — holds back streamed text that might be the
// start of a stop string, so text past a stop string is never sent.
//
// Push() appends newly detokenized text and returns what is safe to release:
// everything except the longest tail that is a prefix of some stop string.
// When a stop string appears, the text before it is released and the filter
// reports the hit; the stop string itself and anything after it are dropped.
// Inputs are valid UTF-8, so held-back tails start on character boundaries.
#ifndef INFERD_ENGINE_STOP_STRING_FILTER_H_
#define INFERD_ENGINE_STOP_STRING_FILTER_H_

#include <string>
#include <string_view>
#include <vector>

namespace inferd::engine {

class StopStringFilter {
 public:
  explicit StopStringFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Returns the releasable text; sets *hit when a stop string was completed.
  std::string Push(std::string_view text, bool* hit);
  // End of stream without a stop string: releases what was held back.
  std::string Flush();

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STOP_STRING_FILTER_H_
