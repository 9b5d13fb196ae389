// tests/unit/loadtest/workload_test.cc — default lengths that adapt to the
// model context, clamping so every request fits (prompt + max_tokens <=
// max_context), and the random, shared-prefix, dataset and trace workloads.
#include "loadtest/inferload/workload.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loadtest/inferload/lengths.h"

namespace inferd::inferload {
namespace {

using ::testing::HasSubstr;

// stories260K: vocabulary 512, context 512, BOS 1, EOS 2.
ModelLimits Stories() {
  return {.vocab_size = 512, .max_context = 512, .bos_id = 1, .eos_ids = {2}, .adds_bos = true};
}

// ResolveLengths, which must succeed.
Lengths Resolve(WorkloadKind kind, const LengthOptions& options, int64_t max_context) {
  absl::StatusOr<Lengths> lengths = ResolveLengths(kind, options, max_context);
  EXPECT_TRUE(lengths.ok()) << lengths.status();
  return lengths.ok() ? *lengths : Lengths();
}

int64_t LongestRequest(WorkloadKind kind, const Lengths& l) {
  switch (kind) {
    case WorkloadKind::kRandom:
      return l.input().hi + l.output().hi;
    case WorkloadKind::kSharedPrefix:
      return l.prefix_len + l.suffix().hi + l.output().hi;
    default:
      return 1 + l.output().hi;
  }
}

TEST(InferloadLengthsTest, DefaultsAdaptToTheContext) {
  const Lengths small = Resolve(WorkloadKind::kRandom, {}, 512);
  EXPECT_EQ(small.input_len, 128);  // min(256, 512/4)
  EXPECT_EQ(small.output_len, 128);
  EXPECT_TRUE(small.notes.empty());
  const Lengths large = Resolve(WorkloadKind::kRandom, {}, 8192);
  EXPECT_EQ(large.input_len, 256);
  EXPECT_EQ(large.output_len, 128);
  const Lengths shared = Resolve(WorkloadKind::kSharedPrefix, {}, 512);
  EXPECT_EQ(shared.prefix_len, 256);  // min(512, 512/2)
  EXPECT_EQ(shared.suffix_len, 64);   // min(64, 512/8)
  EXPECT_EQ(shared.num_prefixes, 4);
  EXPECT_TRUE(shared.notes.empty());
  EXPECT_LE(LongestRequest(WorkloadKind::kSharedPrefix, shared), 512);
}

TEST(InferloadLengthsTest, ClampsTooLongLengthsToTheContext) {
  for (const int64_t ctx : {2, 3, 16, 100, 512, 4096}) {
    for (const WorkloadKind kind : {WorkloadKind::kRandom, WorkloadKind::kSharedPrefix,
                                    WorkloadKind::kDataset, WorkloadKind::kTrace}) {
      if (kind == WorkloadKind::kSharedPrefix && ctx < 3) continue;  // see the next test
      LengthOptions options;
      options.input_len = 5000;
      options.output_len = 6000;
      options.prefix_len = 4000;
      options.suffix_len = 900;
      options.input_len_range = 0.5;
      const Lengths l = Resolve(kind, options, ctx);
      EXPECT_LE(LongestRequest(kind, l), ctx) << "ctx " << ctx;
      EXPECT_GE(l.output_len, 1);
      ASSERT_FALSE(l.notes.empty()) << "ctx " << ctx << " kind " << static_cast<int>(kind);
      EXPECT_THAT(l.notes.front(), HasSubstr("to fit the model context"));
    }
  }
}

TEST(InferloadLengthsTest, SharedPrefixNeedsThreeTokensOfContext) {
  const absl::StatusOr<Lengths> lengths = ResolveLengths(WorkloadKind::kSharedPrefix, {}, 2);
  ASSERT_FALSE(lengths.ok());
  EXPECT_EQ(lengths.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(ResolveLengths(WorkloadKind::kSharedPrefix, {}, 3).ok());
}

TEST(InferloadLengthsTest, ShrinksTheLongestFirst) {
  LengthOptions options;
  options.input_len = 400;
  options.output_len = 300;
  options.input_len_range = 0;
  options.output_len_range = 0;
  const Lengths l = Resolve(WorkloadKind::kRandom, options, 512);
  EXPECT_EQ(l.input_len, 256);
  EXPECT_EQ(l.output_len, 256);
  ASSERT_EQ(l.notes.size(), 2u);
  EXPECT_EQ(l.notes[0], "--input-len 400 -> 256 to fit the model context of 512 tokens");
}

TEST(InferloadLengthsTest, RangesAndFitOutput) {
  EXPECT_EQ(RangeAround(100, 0.25).lo, 75);
  EXPECT_EQ(RangeAround(100, 0.25).hi, 125);
  EXPECT_EQ(RangeAround(100, 0).lo, 100);
  EXPECT_EQ(RangeAround(100, 0).hi, 100);
  EXPECT_EQ(RangeAround(1, 0.9).lo, 1);
  EXPECT_EQ(RangeAround(1, 0.9).hi, 1);
  EXPECT_EQ(FitOutput(500, 128, 512), 12);
  EXPECT_EQ(FitOutput(100, 128, 512), 128);
  EXPECT_EQ(FitOutput(511, 128, 512), 1);
  EXPECT_FALSE(FitOutput(512, 128, 512).has_value());
}

TEST(InferloadWorkloadTest, RandomPromptsFitAvoidSpecialIdsAndAreSeeded) {
  const ModelLimits model = Stories();
  const Lengths lengths = Resolve(WorkloadKind::kRandom, {}, model.max_context);
  const auto workload = RandomWorkload(300, lengths, model, 5);
  ASSERT_TRUE(workload.ok()) << workload.status();
  ASSERT_EQ(workload->requests.size(), 300u);
  std::set<int> lens;
  for (const RequestSpec& r : workload->requests) {
    ASSERT_FALSE(r.text.has_value());
    ASSERT_EQ(r.prompt_len, static_cast<int>(r.token_ids.size()));
    EXPECT_LE(r.prompt_len + r.max_tokens, model.max_context);
    EXPECT_GE(r.prompt_len, lengths.input().lo);
    EXPECT_LE(r.prompt_len, lengths.input().hi);
    EXPECT_GE(r.max_tokens, lengths.output().lo);
    EXPECT_LE(r.max_tokens, lengths.output().hi);
    EXPECT_EQ(r.token_ids.front(), 1);  // BOS, as a text prompt would start
    for (size_t i = 1; i < r.token_ids.size(); ++i) {
      ASSERT_GE(r.token_ids[i], 0);
      ASSERT_LT(r.token_ids[i], 512);
      ASSERT_NE(r.token_ids[i], 1);
      ASSERT_NE(r.token_ids[i], 2);
    }
    lens.insert(r.prompt_len);
  }
  EXPECT_GT(lens.size(), 10u);  // lengths are drawn, not fixed
  const auto again = RandomWorkload(300, lengths, model, 5);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->requests[17].token_ids, workload->requests[17].token_ids);
}

TEST(InferloadWorkloadTest, VocabularyOfOnlySpecialIdsIsAnError) {
  const ModelLimits model = {.vocab_size = 2, .max_context = 64, .bos_id = 0, .eos_ids = {1}};
  EXPECT_FALSE(TokenSampler::Create(model).ok());
  EXPECT_FALSE(RandomWorkload(1, Resolve(WorkloadKind::kRandom, {}, 64), model, 0).ok());
}

TEST(InferloadWorkloadTest, SharedPrefixRequestsShareTheirPrefix) {
  const ModelLimits model = Stories();
  LengthOptions options;
  options.num_prefixes = 3;
  const Lengths lengths = Resolve(WorkloadKind::kSharedPrefix, options, model.max_context);
  const auto workload = SharedPrefixWorkload(60, lengths, model, 11);
  ASSERT_TRUE(workload.ok()) << workload.status();
  std::vector<std::vector<int32_t>> prefixes(3);
  for (const RequestSpec& r : workload->requests) {
    ASSERT_GE(r.prefix_index, 0);
    ASSERT_LT(r.prefix_index, 3);
    EXPECT_LE(r.prompt_len + r.max_tokens, model.max_context);
    EXPECT_GT(r.prompt_len, lengths.prefix_len);
    const std::vector<int32_t> prefix(r.token_ids.begin(),
                                      r.token_ids.begin() + lengths.prefix_len);
    if (prefixes[r.prefix_index].empty()) prefixes[r.prefix_index] = prefix;
    EXPECT_EQ(prefix, prefixes[r.prefix_index]);
  }
  for (const auto& prefix : prefixes) ASSERT_FALSE(prefix.empty()) << "a prefix never picked";
  EXPECT_NE(prefixes[0], prefixes[1]);
  EXPECT_NE(prefixes[1], prefixes[2]);
}

DatasetEntry Entry(std::string prompt, std::optional<int> output_len, int line) {
  DatasetEntry entry;
  entry.prompt = std::move(prompt);
  entry.output_len = output_len;
  entry.line = line;
  return entry;
}

// A trace line with a text prompt (`prompt_len` 0) or a random one.
TraceEntry Line(double arrival_s, std::string prompt, int prompt_len, std::optional<int> output_len,
                int line) {
  TraceEntry entry;
  entry.arrival_s = arrival_s;
  if (prompt_len > 0) {
    entry.prompt_len = prompt_len;
  } else {
    entry.prompt = std::move(prompt);
  }
  entry.output_len = output_len;
  entry.line = line;
  return entry;
}

// One token per word, plus BOS.
absl::StatusOr<int> CountWords(const std::string& text) {
  return static_cast<int>(std::vector<std::string>(absl::StrSplit(text, ' ')).size()) + 1;
}

TEST(InferloadWorkloadTest, DatasetCyclesSkipsTooLongAndClampsOutput) {
  ModelLimits model = Stories();
  model.max_context = 8;
  const Lengths lengths = Resolve(WorkloadKind::kDataset, {}, model.max_context);
  const std::vector<DatasetEntry> entries = {Entry("a b", 4, 1),                    // 3 tokens
                                             Entry("a b c d e f g h", 1, 2),        // 9: too long
                                             Entry("a b c d e", std::nullopt, 3)};  // 6 tokens
  const auto workload = DatasetWorkload(5, entries, "d.jsonl", lengths, model, CountWords);
  ASSERT_TRUE(workload.ok()) << workload.status();
  EXPECT_EQ(workload->skipped_prompts, 1);
  ASSERT_EQ(workload->requests.size(), 5u);
  EXPECT_EQ(workload->requests[0].text, "a b");
  EXPECT_EQ(workload->requests[0].max_tokens, 4);
  EXPECT_EQ(workload->requests[1].text, "a b c d e");
  EXPECT_EQ(workload->requests[1].max_tokens, 2);  // clamped: 6 + 2 = 8
  EXPECT_EQ(workload->requests[2].text, "a b");
  for (const RequestSpec& r : workload->requests) EXPECT_LE(r.prompt_len + r.max_tokens, 8);

  const std::vector<DatasetEntry> too_long = {Entry("a b c d e f g h", std::nullopt, 1)};
  const auto none = DatasetWorkload(2, too_long, "d.jsonl", lengths, model, CountWords);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("d.jsonl: no prompt fits"));
}

TEST(InferloadWorkloadTest, TraceGivesTimesTextAndRandomPrompts) {
  const ModelLimits model = Stories();
  const Lengths lengths = Resolve(WorkloadKind::kTrace, {}, model.max_context);
  const std::vector<TraceEntry> entries = {
      Line(0, "Once upon", 0, 5, 1), Line(0.5, "", 20, std::nullopt, 2),
      Line(0.75, "", 500, 100, 3), Line(2, "", 3, std::nullopt, 4)};
  const auto workload = TraceWorkload(3, entries, "t.jsonl", lengths, model, CountWords, 0);
  ASSERT_TRUE(workload.ok()) << workload.status();
  ASSERT_EQ(workload->requests.size(), 3u);
  EXPECT_EQ(workload->arrival_s, (std::vector<double>{0, 0.5, 0.75}));
  EXPECT_EQ(workload->requests[0].text, "Once upon");
  EXPECT_EQ(workload->requests[0].prompt_len, 3);
  EXPECT_EQ(workload->requests[0].max_tokens, 5);
  EXPECT_EQ(workload->requests[1].token_ids.size(), 20u);
  EXPECT_EQ(workload->requests[1].max_tokens, lengths.output_len);
  EXPECT_EQ(workload->requests[2].max_tokens, 12);  // 500 + 12 = 512

  const std::vector<TraceEntry> too_long = {Line(0, "", 512, std::nullopt, 9)};
  const auto bad = TraceWorkload(1, too_long, "t.jsonl", lengths, model, CountWords, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("t.jsonl:9: field 'prompt_len'"));
}

}  // namespace
}  // namespace inferd::inferload
