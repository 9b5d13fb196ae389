// Engine::SubmitGroup on the real stories260K checkpoint: the n choices of one
// prompt compute it once (EngineStats::prompt_tokens_computed), fork its KV,
// and still produce exactly what each would produce submitted alone, through
// partial and whole prompt blocks, chunked prefill and preemption by
// recompute; aborting the parent ends the group and frees every block.
// Skips when ../shared is absent.
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "gtest/gtest.h"
#include "tests/engine_test_util.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

using engine::Engine;
using engine::EngineConfig;
using engine::FinishReason;
using engine::OutputChannel;
using engine::Request;

std::unique_ptr<Engine> MakeEngine(EngineConfig cfg) {
  cfg.model_dir = SharedPath("models/stories260K");
  auto e = Engine::Create(cfg);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *std::move(e) : nullptr;
}

EngineConfig NoPrefixCaching() {
  EngineConfig cfg;
  cfg.enable_prefix_caching = false;  // so lone requests really recompute
  return cfg;
}

// A prompt of `n` tokens (BOS first).
std::vector<int32_t> Prompt(int n) {
  std::vector<int32_t> p = {1};
  for (int i = 1; i < n; ++i) p.push_back(260 + (i * 37) % 230);
  return p;
}

// Choice i of an n-choice request: its own id and, when seeded, seed + i
// (the HTTP front's derivation).
std::vector<Request> Choices(const Request& base, int n) {
  std::vector<Request> out;
  for (int i = 0; i < n; ++i) {
    Request r = base;
    r.request_id = base.request_id + "-" + std::to_string(i);
    if (r.sampling.seed.has_value()) *r.sampling.seed += static_cast<uint64_t>(i);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::shared_ptr<OutputChannel>> SubmitGroupOrDie(Engine& e,
                                                             std::vector<Request> group) {
  std::vector<std::shared_ptr<OutputChannel>> channels;
  for (size_t i = 0; i < group.size(); ++i) channels.push_back(std::make_shared<OutputChannel>());
  absl::Status s = e.SubmitGroup(std::move(group), channels);
  EXPECT_TRUE(s.ok()) << s;
  if (!s.ok()) {
    for (auto& ch : channels) {
      engine::RequestOutput fail;
      fail.finished = true;
      fail.status = s;
      ch->Push(std::move(fail));
    }
  }
  return channels;
}

std::vector<Collected> RunGroup(Engine& e, std::vector<Request> group) {
  std::vector<Collected> out;
  for (auto& ch : SubmitGroupOrDie(e, std::move(group))) out.push_back(Drain(*ch));
  return out;
}

class EngineForkTest : public ::testing::Test {
 protected:
  void SetUp() override { INFERD_REQUIRE_SHARED("models/stories260K"); }
};

TEST_F(EngineForkTest, SeededChoicesEqualLoneRequestsWithTheDerivedSeedsPromptComputedOnce) {
  auto grouped = MakeEngine(NoPrefixCaching());
  auto alone = MakeEngine(NoPrefixCaching());
  ASSERT_NE(grouped, nullptr);
  ASSERT_NE(alone, nullptr);
  // 16-token blocks: a partial last block (5, 21 tokens) and whole ones (32).
  for (int len : {5, 21, 32}) {
    SCOPED_TRACE(len);
    Request base = Greedy("s" + std::to_string(len), Prompt(len), 40);
    base.sampling.temperature = 0.9f;
    base.sampling.top_p = 0.95f;
    base.sampling.seed = 1234;
    base.sampling.ignore_eos = true;
    std::vector<Request> choices = Choices(base, 4);

    const int64_t alone_before = alone->GetStats().prompt_tokens_computed;
    std::vector<Collected> solo;
    for (const Request& r : choices) solo.push_back(RunOne(*alone, r));
    EXPECT_EQ(alone->GetStats().prompt_tokens_computed - alone_before, 4 * len);

    const int64_t before = grouped->GetStats().prompt_tokens_computed;
    std::vector<Collected> together = RunGroup(*grouped, choices);
    EXPECT_EQ(grouped->GetStats().prompt_tokens_computed - before, len);  // once

    ASSERT_EQ(together.size(), 4u);
    for (int i = 0; i < 4; ++i) {
      EXPECT_TRUE(together[i].status.ok()) << together[i].status;
      EXPECT_EQ(together[i].ids, solo[i].ids) << "choice " << i;
      EXPECT_EQ(together[i].text, solo[i].text) << "choice " << i;
      EXPECT_EQ(together[i].finish_reason, solo[i].finish_reason) << "choice " << i;
      EXPECT_EQ(together[i].usage.prompt_tokens, len);
      EXPECT_EQ(together[i].usage.completion_tokens, 40);
    }
    // Different seeds: the choices differ from each other.
    EXPECT_NE(together[0].ids, together[1].ids);
    engine::EngineStats s = grouped->GetStats();
    EXPECT_EQ(s.num_kv_blocks_free, s.num_kv_blocks_total);
    EXPECT_EQ(s.num_live_requests, 0);
  }
}

TEST_F(EngineForkTest, GreedyChoicesAllEqualTheSingleGreedyOutput) {
  auto e = MakeEngine(EngineConfig{});
  ASSERT_NE(e, nullptr);
  const Request base = Greedy("g", Prompt(13), 30);
  const Collected single = RunOne(*e, base);
  ASSERT_FALSE(single.ids.empty());
  std::vector<Collected> choices = RunGroup(*e, Choices(base, 4));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(choices[i].ids, single.ids) << "choice " << i;
    EXPECT_EQ(choices[i].text, single.text) << "choice " << i;
    EXPECT_EQ(choices[i].finish_reason, single.finish_reason) << "choice " << i;
  }
}

// Each choice keeps its own penalties' counts, stop-string filter and
// structured-output matcher from the fork on.
TEST_F(EngineForkTest, PenaltiesStopStringsAndConstraintsArePerChoice) {
  auto grouped = MakeEngine(EngineConfig{});
  auto alone = MakeEngine(EngineConfig{});
  ASSERT_NE(grouped, nullptr);
  ASSERT_NE(alone, nullptr);
  Request penalized = Greedy("p", Prompt(11), 60);
  penalized.sampling.temperature = 1.0f;
  penalized.sampling.seed = 5;
  penalized.sampling.presence_penalty = 0.5f;
  penalized.sampling.frequency_penalty = 0.3f;
  penalized.sampling.repetition_penalty = 1.2f;
  penalized.sampling.stop = {"e ", "."};
  Request constrained = Greedy("k", Prompt(7), 20);
  constrained.sampling.temperature = 1.0f;
  constrained.sampling.seed = 17;
  constrained.constraint.kind = engine::Constraint::Kind::kChoice;
  constrained.constraint.choices = {"yes", "no", "maybe", "the cat"};
  for (const Request& base : {penalized, constrained}) {
    SCOPED_TRACE(base.request_id);
    std::vector<Request> choices = Choices(base, 5);
    std::vector<Collected> together = RunGroup(*grouped, choices);
    for (int i = 0; i < 5; ++i) {
      const Collected solo = RunOne(*alone, choices[i]);
      EXPECT_TRUE(together[i].status.ok()) << together[i].status;
      EXPECT_EQ(together[i].ids, solo.ids) << "choice " << i;
      EXPECT_EQ(together[i].text, solo.text) << "choice " << i;
      EXPECT_EQ(together[i].finish_reason, solo.finish_reason) << "choice " << i;
    }
  }
}

TEST_F(EngineForkTest, ChunkedPromptAndTinyPoolPreemptionDoNotChangeTheChoices) {
  EngineConfig roomy = NoPrefixCaching();
  EngineConfig tight;
  tight.max_num_batched_tokens = 8;  // the 45-token prompt is chunked
  // 512-token context in 16-token blocks: 32 blocks is the smallest legal
  // pool; eight 45 + 300-token choices need far more, so they preempt.
  const int64_t bytes_per_block = 2 * 5 * 16 * 32 * 4;
  tight.kv_cache_memory_bytes = 34 * bytes_per_block;
  auto alone = MakeEngine(roomy);
  auto e = MakeEngine(tight);
  ASSERT_NE(alone, nullptr);
  ASSERT_NE(e, nullptr);
  Request base = Greedy("t", Prompt(45), 300);
  base.sampling.temperature = 1.0f;
  base.sampling.seed = 9;
  base.sampling.ignore_eos = true;
  std::vector<Request> choices = Choices(base, 8);
  std::vector<Collected> solo;
  for (const Request& r : choices) solo.push_back(RunOne(*alone, r));
  std::vector<Collected> together = RunGroup(*e, choices);
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(together[i].status.ok()) << together[i].status;
    EXPECT_EQ(together[i].ids, solo[i].ids) << "choice " << i;
  }
  engine::EngineStats s = e->GetStats();
  EXPECT_GT(s.num_preemptions, 0);
  EXPECT_EQ(s.num_kv_blocks_free, s.num_kv_blocks_total);
}

TEST_F(EngineForkTest, AbortOfTheParentEndsEveryChoiceAndFreesEveryBlock) {
  auto e = MakeEngine(EngineConfig{});
  ASSERT_NE(e, nullptr);
  Request base = Greedy("a", Prompt(21), 400);
  base.sampling.ignore_eos = true;
  auto channels = SubmitGroupOrDie(*e, Choices(base, 3));
  channels[2]->WaitPop();  // a forked child is streaming
  e->Abort("a-0");
  for (auto& ch : channels) {
    Collected c = Drain(*ch);
    EXPECT_EQ(c.finish_reason, FinishReason::kAbort);
    EXPECT_LT(c.ids.size(), 400u);
  }
  engine::EngineStats s = e->GetStats();
  EXPECT_EQ(s.num_kv_blocks_free, s.num_kv_blocks_total);
  EXPECT_EQ(s.num_running, 0);
  EXPECT_EQ(s.num_waiting, 0);
  EXPECT_EQ(s.num_live_requests, 0);
}

TEST_F(EngineForkTest, AbortOfOneChildLeavesTheOthers) {
  auto e = MakeEngine(EngineConfig{});
  ASSERT_NE(e, nullptr);
  Request base = Greedy("c", Prompt(9), 200);
  base.sampling.ignore_eos = true;
  auto channels = SubmitGroupOrDie(*e, Choices(base, 3));
  channels[1]->WaitPop();
  e->Abort("c-1");
  EXPECT_EQ(Drain(*channels[1]).finish_reason, FinishReason::kAbort);
  EXPECT_EQ(Drain(*channels[0]).finish_reason, FinishReason::kLength);
  EXPECT_EQ(Drain(*channels[2]).finish_reason, FinishReason::kLength);
  engine::EngineStats s = e->GetStats();
  EXPECT_EQ(s.num_kv_blocks_free, s.num_kv_blocks_total);
}

TEST_F(EngineForkTest, BadGroupsAreRefusedWhole) {
  auto e = MakeEngine(EngineConfig{});
  ASSERT_NE(e, nullptr);
  std::vector<Request> differ = Choices(Greedy("d", Prompt(5), 4), 2);
  differ[1].prompt_ids.push_back(300);
  auto channels = [](size_t n) {
    std::vector<std::shared_ptr<OutputChannel>> c;
    for (size_t i = 0; i < n; ++i) c.push_back(std::make_shared<OutputChannel>());
    return c;
  };
  EXPECT_EQ(e->SubmitGroup(differ, channels(2)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e->SubmitGroup({}, {}).code(), absl::StatusCode::kInvalidArgument);
  std::vector<Request> same_ids = {Greedy("x", Prompt(5), 4), Greedy("x", Prompt(5), 4)};
  EXPECT_EQ(e->SubmitGroup(same_ids, channels(2)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(e->SubmitGroup(Choices(Greedy("y", Prompt(5), 4), 2), channels(3)).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<Request> bad_sampling = Choices(Greedy("z", Prompt(5), 4), 2);
  bad_sampling[1].sampling.top_p = 2.0f;
  EXPECT_EQ(e->SubmitGroup(bad_sampling, channels(2)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e->GetStats().num_live_requests, 0);  // nothing of any of them was queued
}

}  // namespace
}  // namespace inferd::testing
