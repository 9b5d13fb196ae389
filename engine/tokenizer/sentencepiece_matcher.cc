// engine/tokenizer/sentencepiece_matcher.cc — see sentencepiece_matcher.h.
#include "engine/tokenizer/sentencepiece_matcher.h"

#include <algorithm>
#include <cstdint>
#include <functional>

#include "engine/tokenizer/absl_compat.h"

namespace inferd::engine {

namespace {

// sentencepiece's string_util::OneCharLen: by the lead byte's high nibble.
size_t OneCharLen(uint8_t lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

}  // namespace

SentencePieceMatcher::SentencePieceMatcher(const std::vector<std::string>& symbols) {
  for (const std::string& s : symbols) {
    if (s.empty()) continue;
    symbols_.insert(s);
    lengths_.push_back(s.size());
  }
  std::sort(lengths_.begin(), lengths_.end(), std::greater<>());
  lengths_.erase(std::unique(lengths_.begin(), lengths_.end()), lengths_.end());
}

size_t SentencePieceMatcher::Match(std::string_view text, bool* user_defined) const {
  for (size_t len : lengths_) {
    if (len <= text.size() && symbols_.contains(ToAbsl(text.substr(0, len)))) {
      *user_defined = true;
      return len;
    }
  }
  *user_defined = false;
  return std::min(text.size(), OneCharLen(static_cast<uint8_t>(text[0])));
}

}  // namespace inferd::engine
