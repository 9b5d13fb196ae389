// loadtest/inferload/lengths.h — prompt and output lengths of a run: the
// defaults that adapt to the served model's context, the uniform range each
// length is drawn from, and clamping so that every request fits the context
// (prompt + max_tokens <= max_context, the server's rule).
//
// Defaults (ctx = max_context from GetModelInfo):
//   input_len  = min(256, ctx/4)   (random workload; BOS included)
//   output_len = min(128, ctx/4)
//   shared-prefix: prefix_len = min(512, ctx/2) (BOS included),
//                  suffix_len = min(64, ctx/8), num_prefixes = 4
// A length L with range ratio r is drawn uniformly from the integers in
// [ceil(L(1-r)), floor(L(1+r))] (at least 1), as vLLM's --random-range-ratio.
// Resolve shrinks the configured lengths, largest first, until the longest
// possible request fits, and says so in `notes`.
#ifndef INFERD_LOADTEST_INFERLOAD_LENGTHS_H_
#define INFERD_LOADTEST_INFERLOAD_LENGTHS_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::inferload {

enum class WorkloadKind { kRandom, kSharedPrefix, kDataset, kTrace };

// The lengths asked for on the command line (nullopt: not given).
struct LengthOptions {
  std::optional<int> input_len;
  std::optional<int> output_len;
  double input_len_range = 0.25;
  double output_len_range = 0.25;
  std::optional<int> num_prefixes;
  std::optional<int> prefix_len;
  std::optional<int> suffix_len;
};

// Inclusive integer range a length is drawn from.
struct LengthRange {
  int lo = 1;
  int hi = 1;
  int Draw(std::mt19937_64& rng) const;
};

// [ceil(len(1-ratio)), floor(len(1+ratio))], at least [1, 1].
LengthRange RangeAround(int len, double ratio);

// The lengths a run uses: defaults applied, clamped to the context.
struct Lengths {
  int input_len = 0;  // random workload (BOS included); unused by the others
  int output_len = 0;
  double input_len_range = 0;
  double output_len_range = 0;
  int num_prefixes = 0;  // shared-prefix only
  int prefix_len = 0;
  int suffix_len = 0;
  std::vector<std::string> notes;  // one line per clamped length

  LengthRange input() const { return RangeAround(input_len, input_len_range); }
  LengthRange output() const { return RangeAround(output_len, output_len_range); }
  LengthRange suffix() const { return RangeAround(suffix_len, input_len_range); }
};

// max_context must be >= 2 (room for one prompt token and one output token).
// FAILED_PRECONDITION when even the shortest requests of the workload cannot
// fit (shared-prefix needs 3 tokens: prefix, suffix, output).
absl::StatusOr<Lengths> ResolveLengths(WorkloadKind kind, const LengthOptions& options,
                                       int64_t max_context);

// The max_tokens a prompt of `prompt_len` tokens can ask for: min(output_len,
// max_context - prompt_len); nullopt when not even one token fits.
std::optional<int> FitOutput(int prompt_len, int output_len, int64_t max_context);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_LENGTHS_H_
