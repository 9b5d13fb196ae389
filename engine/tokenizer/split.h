// engine/tokenizer/split.h — HF's NormalizedString::split semantics: given
// the matches of a pattern in a text, which pieces a split keeps for each
// SplitDelimiterBehavior (and with invert). Used by the pre-tokenizers.
#ifndef INFERD_ENGINE_TOKENIZER_SPLIT_H_
#define INFERD_ENGINE_TOKENIZER_SPLIT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inferd::engine {

// How a split treats the delimiters it finds (HF SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// The [begin, end) ranges a split of a text of `size` bytes keeps, given the
// matches (sorted, non-overlapping [begin, end) ranges). May hold empty
// ranges, which callers drop.
std::vector<std::pair<size_t, size_t>> SplitRanges(
    size_t size, const std::vector<std::pair<size_t, size_t>>& matches, SplitBehavior behavior,
    bool invert);

// The same as strings; empty pieces are dropped.
std::vector<std::string> SplitWithMatches(std::string_view text,
                                          const std::vector<std::pair<size_t, size_t>>& matches,
                                          SplitBehavior behavior, bool invert);

// Non-overlapping occurrences of `literal` (none when it is empty).
std::vector<std::pair<size_t, size_t>> FindLiteral(std::string_view text, std::string_view literal);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_SPLIT_H_
