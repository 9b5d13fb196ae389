// loadtest/inferload/workload.h — the requests of a run, built before it
// starts: prompts (token ids or text) and max_tokens, every one fitting the
// model context.
//
//   random         prompt ids drawn uniformly from the vocabulary minus the
//                  special ids (BOS, EOS); BOS first when the model adds it
//                  to text prompts. Lengths from Lengths::input()/output().
//   shared-prefix  `num_prefixes` random prefixes of `prefix_len` ids (BOS
//                  first as above), each request one of them picked
//                  uniformly plus a random suffix of Lengths::suffix() ids.
//   dataset        the file's prompts as text, in file order, cycled when
//                  the run has more requests than the file; prompts too long
//                  for the context are skipped (counted).
//   trace          one request per trace line, in time order; `prompt_len`
//                  lines get random ids, text prompts must fit.
// Text prompts are measured with `count_tokens` (the server's Tokenize) to
// clamp max_tokens. Deterministic for a given seed.
#ifndef INFERD_LOADTEST_INFERLOAD_WORKLOAD_H_
#define INFERD_LOADTEST_INFERLOAD_WORKLOAD_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadtest/inferload/dataset.h"
#include "loadtest/inferload/lengths.h"
#include "loadtest/inferload/trace.h"

namespace inferd::inferload {

// What the workload needs to know about the served model (GetModelInfo).
struct ModelLimits {
  int64_t vocab_size = 0;
  int64_t max_context = 0;
  int32_t bos_id = -1;  // -1: none
  std::vector<int32_t> eos_ids;
  bool adds_bos = false;
};

struct RequestSpec {
  std::vector<int32_t> token_ids;   // the prompt when `text` is unset
  std::optional<std::string> text;  // a text prompt (dataset, trace)
  int prompt_len = 0;               // tokens as the server feeds them
  int max_tokens = 0;
  int prefix_index = -1;  // shared-prefix: the prefix used
};

struct Workload {
  std::vector<RequestSpec> requests;
  std::vector<double> arrival_s;  // trace only: when each request is due
  int64_t skipped_prompts = 0;    // dataset prompts too long for the context
};

// A text prompt's length in tokens as the server would feed it.
using TokenCounter = std::function<absl::StatusOr<int>(const std::string& text)>;

// Draws prompt token ids: uniform over [0, vocab_size) minus BOS and EOS.
class TokenSampler {
 public:
  // INVALID_ARGUMENT when the vocabulary has no ordinary token.
  static absl::StatusOr<TokenSampler> Create(const ModelLimits& model);

  // `len` ids; the first is BOS when the model adds BOS to text prompts.
  std::vector<int32_t> Prompt(int len, std::mt19937_64& rng) const;
  // `len` ordinary ids.
  std::vector<int32_t> Ids(int len, std::mt19937_64& rng) const;

 private:
  explicit TokenSampler(const ModelLimits& model) : model_(model) {}
  bool IsSpecial(int32_t id) const;

  ModelLimits model_;
};

absl::StatusOr<Workload> RandomWorkload(int64_t n, const Lengths& lengths, const ModelLimits& model,
                                        uint64_t seed);

absl::StatusOr<Workload> SharedPrefixWorkload(int64_t n, const Lengths& lengths,
                                              const ModelLimits& model, uint64_t seed);

// INVALID_ARGUMENT when no prompt of the file fits the context.
absl::StatusOr<Workload> DatasetWorkload(int64_t n, const std::vector<DatasetEntry>& entries,
                                         const std::string& file, const Lengths& lengths,
                                         const ModelLimits& model,
                                         const TokenCounter& count_tokens);

// The first `n` entries (time order). INVALID_ARGUMENT naming the file and
// line of a text prompt that does not fit the context.
absl::StatusOr<Workload> TraceWorkload(int64_t n, const std::vector<TraceEntry>& entries,
                                       const std::string& file, const Lengths& lengths,
                                       const ModelLimits& model, const TokenCounter& count_tokens,
                                       uint64_t seed);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_WORKLOAD_H_
