// loadtest/inferload/workload.cc
#include "loadtest/inferload/workload.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace inferd::inferload {

absl::StatusOr<TokenSampler> TokenSampler::Create(const ModelLimits& model) {
  TokenSampler sampler(model);
  int64_t special = 0;
  for (int64_t id = 0; id < model.vocab_size; ++id) {
    special += sampler.IsSpecial(static_cast<int32_t>(id)) ? 1 : 0;
  }
  if (model.vocab_size <= special) {
    return absl::InvalidArgumentError(absl::StrCat("the model's vocabulary (", model.vocab_size,
                                                   " ids) has no ids besides BOS/EOS"));
  }
  return sampler;
}

bool TokenSampler::IsSpecial(int32_t id) const {
  return id == model_.bos_id ||
         std::find(model_.eos_ids.begin(), model_.eos_ids.end(), id) != model_.eos_ids.end();
}

std::vector<int32_t> TokenSampler::Ids(int len, std::mt19937_64& rng) const {
  std::uniform_int_distribution<int32_t> uniform(0, static_cast<int32_t>(model_.vocab_size - 1));
  std::vector<int32_t> ids;
  ids.reserve(len);
  while (static_cast<int>(ids.size()) < len) {
    const int32_t id = uniform(rng);
    if (!IsSpecial(id)) ids.push_back(id);  // rejection: special ids are few
  }
  return ids;
}

std::vector<int32_t> TokenSampler::Prompt(int len, std::mt19937_64& rng) const {
  if (!model_.adds_bos || model_.bos_id < 0 || len < 2) return Ids(len, rng);
  std::vector<int32_t> ids = {model_.bos_id};
  const std::vector<int32_t> rest = Ids(len - 1, rng);
  ids.insert(ids.end(), rest.begin(), rest.end());
  return ids;
}

namespace {

RequestSpec IdsRequest(std::vector<int32_t> ids, int output_len, int64_t max_context) {
  RequestSpec spec;
  spec.token_ids = std::move(ids);
  spec.prompt_len = static_cast<int>(spec.token_ids.size());
  // Lengths were resolved so that the longest draw fits; clamp regardless.
  spec.max_tokens = FitOutput(spec.prompt_len, output_len, max_context).value_or(1);
  return spec;
}

}  // namespace

absl::StatusOr<Workload> RandomWorkload(int64_t n, const Lengths& lengths, const ModelLimits& model,
                                        uint64_t seed) {
  absl::StatusOr<TokenSampler> sampler = TokenSampler::Create(model);
  if (!sampler.ok()) return sampler.status();
  std::mt19937_64 rng(seed);
  Workload workload;
  for (int64_t i = 0; i < n; ++i) {
    const int input_len = lengths.input().Draw(rng);
    const int output_len = lengths.output().Draw(rng);
    workload.requests.push_back(
        IdsRequest(sampler->Prompt(input_len, rng), output_len, model.max_context));
  }
  return workload;
}

absl::StatusOr<Workload> SharedPrefixWorkload(int64_t n, const Lengths& lengths,
                                              const ModelLimits& model, uint64_t seed) {
  absl::StatusOr<TokenSampler> sampler = TokenSampler::Create(model);
  if (!sampler.ok()) return sampler.status();
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int32_t>> prefixes;
  for (int p = 0; p < lengths.num_prefixes; ++p) {
    prefixes.push_back(sampler->Prompt(lengths.prefix_len, rng));
  }
  std::uniform_int_distribution<int> pick(0, lengths.num_prefixes - 1);
  Workload workload;
  for (int64_t i = 0; i < n; ++i) {
    const int prefix = pick(rng);
    std::vector<int32_t> ids = prefixes[prefix];
    const std::vector<int32_t> suffix = sampler->Ids(lengths.suffix().Draw(rng), rng);
    ids.insert(ids.end(), suffix.begin(), suffix.end());
    RequestSpec spec = IdsRequest(std::move(ids), lengths.output().Draw(rng), model.max_context);
    spec.prefix_index = prefix;
    workload.requests.push_back(std::move(spec));
  }
  return workload;
}

absl::StatusOr<Workload> DatasetWorkload(int64_t n, const std::vector<DatasetEntry>& entries,
                                         const std::string& file, const Lengths& lengths,
                                         const ModelLimits& model,
                                         const TokenCounter& count_tokens) {
  // Measure each distinct entry once; keep those that fit.
  std::vector<RequestSpec> usable;
  Workload workload;
  for (const DatasetEntry& entry : entries) {
    absl::StatusOr<int> prompt_len = count_tokens(entry.prompt);
    if (!prompt_len.ok()) return prompt_len.status();
    const std::optional<int> max_tokens =
        FitOutput(*prompt_len, entry.output_len.value_or(lengths.output_len), model.max_context);
    if (!max_tokens.has_value()) {
      ++workload.skipped_prompts;
      continue;
    }
    RequestSpec spec;
    spec.text = entry.prompt;
    spec.prompt_len = *prompt_len;
    spec.max_tokens = *max_tokens;
    usable.push_back(std::move(spec));
  }
  if (usable.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": no prompt fits the model context of ", model.max_context, " tokens"));
  }
  for (int64_t i = 0; i < n; ++i) {
    workload.requests.push_back(usable[static_cast<size_t>(i) % usable.size()]);
  }
  return workload;
}

absl::StatusOr<Workload> TraceWorkload(int64_t n, const std::vector<TraceEntry>& entries,
                                       const std::string& file, const Lengths& lengths,
                                       const ModelLimits& model, const TokenCounter& count_tokens,
                                       uint64_t seed) {
  absl::StatusOr<TokenSampler> sampler = TokenSampler::Create(model);
  if (!sampler.ok()) return sampler.status();
  std::mt19937_64 rng(seed);
  Workload workload;
  const size_t count = std::min(entries.size(), static_cast<size_t>(n));
  for (size_t i = 0; i < count; ++i) {
    const TraceEntry& entry = entries[i];
    RequestSpec spec;
    if (entry.prompt.has_value()) {
      absl::StatusOr<int> prompt_len = count_tokens(*entry.prompt);
      if (!prompt_len.ok()) return prompt_len.status();
      spec.text = *entry.prompt;
      spec.prompt_len = *prompt_len;
    } else {
      spec.prompt_len = *entry.prompt_len;
    }
    const std::optional<int> max_tokens = FitOutput(
        spec.prompt_len, entry.output_len.value_or(lengths.output_len), model.max_context);
    if (!max_tokens.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", entry.line, ": field '",
                       entry.prompt.has_value() ? "prompt" : "prompt_len", "': ", spec.prompt_len,
                       " prompt tokens leave no room to generate in the model context of ",
                       model.max_context, " tokens"));
    }
    if (!spec.text.has_value()) spec.token_ids = sampler->Prompt(spec.prompt_len, rng);
    spec.max_tokens = *max_tokens;
    workload.requests.push_back(std::move(spec));
    workload.arrival_s.push_back(entry.arrival_s);
  }
  return workload;
}

}  // namespace inferd::inferload
