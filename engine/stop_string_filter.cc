// engine/stop_string_filter.cc
#include "engine/stop_string_filter.h"

#include <algorithm>

namespace inferd::engine {

std::string StopStringFilter::Push(std::string_view text, bool* hit) {
  *hit = false;
  if (stops_.empty()) return std::string(text);
  held_.append(text);

  // Earliest occurrence of any stop string.
  size_t first = std::string::npos;
  for (const std::string& stop : stops_) {
    first = std::min(first, held_.find(stop));
  }
  if (first != std::string::npos) {
    *hit = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }

  // Longest tail of held_ that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const std::string& stop : stops_) {
    const size_t max_len = std::min(held_.size(), stop.size() - 1);
    for (size_t len = max_len; len > keep; --len) {
      if (std::string_view(held_).substr(held_.size() - len) ==
          std::string_view(stop).substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopStringFilter::Flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace inferd::engine
