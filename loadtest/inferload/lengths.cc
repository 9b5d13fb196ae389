// loadtest/inferload/lengths.cc
#include "loadtest/inferload/lengths.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace inferd::inferload {

namespace {

// One length that takes part in the context budget.
struct Part {
  const char* flag;  // for notes: "--input-len"
  int* len;
  double ratio;
  int Longest() const { return RangeAround(*len, ratio).hi; }
};

// Shrinks the part with the longest draw, one token at a time, until the
// longest draws of all parts sum to at most `budget`.
void ClampToBudget(std::vector<Part> parts, int64_t budget, int64_t max_context,
                   std::vector<std::string>* notes) {
  std::vector<int> before;
  for (const Part& part : parts) before.push_back(*part.len);
  auto total = [&parts] {
    int64_t sum = 0;
    for (const Part& part : parts) sum += part.Longest();
    return sum;
  };
  while (total() > budget) {
    Part* largest = nullptr;
    for (Part& part : parts) {
      if (*part.len > 1 && (largest == nullptr || part.Longest() > largest->Longest())) {
        largest = &part;
      }
    }
    INFERD_CHECK(largest != nullptr) << "every length is 1 and still over " << budget;
    --*largest->len;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (*parts[i].len != before[i]) {
      notes->push_back(absl::StrCat(parts[i].flag, " ", before[i], " -> ", *parts[i].len,
                                    " to fit the model context of ", max_context, " tokens"));
    }
  }
}

int AtLeastOne(int64_t n) { return static_cast<int>(std::max<int64_t>(1, n)); }

}  // namespace

int LengthRange::Draw(std::mt19937_64& rng) const {
  if (lo >= hi) return lo;
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

LengthRange RangeAround(int len, double ratio) {
  LengthRange range;
  range.lo = std::max(1, static_cast<int>(std::ceil(len * (1.0 - ratio))));
  range.hi = std::max(range.lo, static_cast<int>(std::floor(len * (1.0 + ratio))));
  return range;
}

absl::StatusOr<Lengths> ResolveLengths(WorkloadKind kind, const LengthOptions& options,
                                       int64_t max_context) {
  INFERD_CHECK(max_context >= 2) << max_context;
  if (kind == WorkloadKind::kSharedPrefix && max_context < 3) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--workload shared-prefix needs a model context of at least 3 tokens, not ", max_context));
  }
  Lengths lengths;
  lengths.input_len_range = options.input_len_range;
  lengths.output_len_range = options.output_len_range;
  lengths.input_len =
      options.input_len.value_or(AtLeastOne(std::min<int64_t>(256, max_context / 4)));
  lengths.output_len =
      options.output_len.value_or(AtLeastOne(std::min<int64_t>(128, max_context / 4)));
  const Part output{"--output-len", &lengths.output_len, lengths.output_len_range};
  switch (kind) {
    case WorkloadKind::kRandom:
      ClampToBudget({{"--input-len", &lengths.input_len, lengths.input_len_range}, output},
                    max_context, max_context, &lengths.notes);
      break;
    case WorkloadKind::kSharedPrefix:
      lengths.num_prefixes = options.num_prefixes.value_or(4);
      lengths.prefix_len =
          options.prefix_len.value_or(AtLeastOne(std::min<int64_t>(512, max_context / 2)));
      lengths.suffix_len =
          options.suffix_len.value_or(AtLeastOne(std::min<int64_t>(64, max_context / 8)));
      ClampToBudget({{"--prefix-len", &lengths.prefix_len, 0.0},
                     {"--suffix-len", &lengths.suffix_len, lengths.input_len_range},
                     output},
                    max_context, max_context, &lengths.notes);
      break;
    case WorkloadKind::kDataset:
    case WorkloadKind::kTrace:
      // Prompts come from the file; leave room for at least one prompt token.
      ClampToBudget({output}, max_context - 1, max_context, &lengths.notes);
      break;
  }
  return lengths;
}

std::optional<int> FitOutput(int prompt_len, int output_len, int64_t max_context) {
  const int64_t room = max_context - prompt_len;
  if (room < 1) return std::nullopt;
  return static_cast<int>(std::min<int64_t>(output_len, room));
}

}  // namespace inferd::inferload
