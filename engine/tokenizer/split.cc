// engine/tokenizer/split.cc — see split.h.
#include "engine/tokenizer/split.h"

#include <algorithm>

namespace inferd::engine {

namespace {
using Range = std::pair<size_t, size_t>;
}  // namespace

std::vector<Range> SplitRanges(size_t size, const std::vector<Range>& matches,
                               SplitBehavior behavior, bool invert) {
  // Every byte of the text, as (range, is_match).
  std::vector<std::pair<Range, bool>> parts;
  size_t prev = 0;
  for (const Range& m : matches) {
    if (m.first > prev) parts.push_back({{prev, m.first}, invert});
    parts.push_back({m, !invert});
    prev = m.second;
  }
  if (prev < size) parts.push_back({{prev, size}, invert});

  std::vector<Range> out;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& [r, is_match] : parts) out.push_back(r);
      break;
    case SplitBehavior::kRemoved:
      for (const auto& [r, is_match] : parts) {
        if (!is_match) out.push_back(r);
      }
      break;
    case SplitBehavior::kContiguous:
      for (const auto& [r, is_match] : parts) {
        if (is_match == previous_match && !out.empty()) {
          out.back().second = r.second;
        } else {
          out.push_back(r);
        }
        previous_match = is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const auto& [r, is_match] : parts) {
        if (is_match && !previous_match && !out.empty()) {
          out.back().second = r.second;
        } else {
          out.push_back(r);
        }
        previous_match = is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        const auto& [r, is_match] = *it;
        if (is_match && !previous_match && !out.empty()) {
          out.back().first = r.first;
        } else {
          out.push_back(r);
        }
        previous_match = is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
  }
  return out;
}

std::vector<Range> FindLiteral(std::string_view text, std::string_view literal) {
  std::vector<Range> matches;
  if (literal.empty()) return matches;
  for (size_t pos = text.find(literal); pos != std::string_view::npos;
       pos = text.find(literal, pos + literal.size())) {
    matches.push_back({pos, pos + literal.size()});
  }
  return matches;
}

std::vector<std::string> SplitWithMatches(std::string_view text, const std::vector<Range>& matches,
                                          SplitBehavior behavior, bool invert) {
  std::vector<std::string> out;
  for (const Range& r : SplitRanges(text.size(), matches, behavior, invert)) {
    if (r.second > r.first) out.emplace_back(text.substr(r.first, r.second - r.first));
  }
  return out;
}

}  // namespace inferd::engine
