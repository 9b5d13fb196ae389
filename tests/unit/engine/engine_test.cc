// The engine end to end on the real stories260K checkpoint: batch
// invariance (concurrency, chunked prefill, preemption by recompute), stop
// conditions, aborts, admission errors. Skips when ../shared is absent.
#include "engine/engine.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/engine_test_util.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

using engine::Engine;
using engine::EngineConfig;
using engine::FinishReason;
using engine::Request;

const std::vector<std::vector<int32_t>> kPrompts = {
    {1, 403, 407, 261, 378},
    {1, 291, 376, 400, 428},
    {1, 317, 391, 266, 267},
    {1, 385, 328, 432, 274, 287, 272, 277, 264, 261, 370, 352, 266, 268, 388},
    {1},
    {1, 403, 407},
    {1, 291},
    {1, 317, 391, 266, 267, 298, 414, 353, 261, 273, 421, 433, 426, 338, 394, 261, 370, 268},
};

std::unique_ptr<Engine> MakeEngine(int32_t max_batched_tokens = 2048, int64_t kv_bytes = 64 << 20,
                                   int32_t max_num_seqs = 64) {
  EngineConfig cfg;
  cfg.model_dir = SharedPath("models/stories260K");
  cfg.max_num_batched_tokens = max_batched_tokens;
  cfg.kv_cache_memory_bytes = kv_bytes;
  cfg.max_num_seqs = max_num_seqs;
  auto e = Engine::Create(cfg);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *std::move(e) : nullptr;
}

// 16 requests: greedy or seeded sampling, mixed prompt and output lengths.
std::vector<Request> MixedRequests(bool sampled) {
  std::vector<Request> out;
  for (int i = 0; i < 16; ++i) {
    Request r = Greedy("r" + std::to_string(i), kPrompts[i % kPrompts.size()], 20 + 13 * i);
    r.sampling.ignore_eos = (i % 3 == 0);
    if (sampled) {
      r.sampling.temperature = 0.8f;
      r.sampling.top_p = 0.95f;
      r.sampling.seed = 1000 + i;
    }
    out.push_back(std::move(r));
  }
  return out;
}

// Runs each request alone, then all together with staggered starts, on
// `batched`; every sequence must produce exactly the same tokens.
void ExpectBatchInvariant(Engine& alone, Engine& batched, bool sampled) {
  std::vector<Request> reqs = MixedRequests(sampled);
  std::vector<Collected> solo;
  for (const Request& r : reqs) solo.push_back(RunOne(alone, r));
  std::vector<std::shared_ptr<engine::OutputChannel>> channels;
  for (size_t i = 0; i < reqs.size(); ++i) {
    channels.push_back(SubmitOrDie(batched, reqs[i]));
    if (i % 4 == 3) std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  for (size_t i = 0; i < reqs.size(); ++i) {
    Collected together = Drain(*channels[i]);
    EXPECT_EQ(together.ids, solo[i].ids) << "request " << i;
    EXPECT_EQ(together.text, solo[i].text) << "request " << i;
    EXPECT_EQ(together.finish_reason, solo[i].finish_reason) << "request " << i;
  }
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { INFERD_REQUIRE_SHARED("models/stories260K"); }
};

TEST_F(EngineTest, GreedyIsBatchInvariant) {
  auto e = MakeEngine();
  ExpectBatchInvariant(*e, *e, /*sampled=*/false);
}

TEST_F(EngineTest, SeededSamplingIsBatchInvariant) {
  auto e = MakeEngine();
  ExpectBatchInvariant(*e, *e, /*sampled=*/true);
}

TEST_F(EngineTest, ChunkedPrefillDoesNotChangeOutputs) {
  auto whole = MakeEngine();
  auto chunked = MakeEngine(/*max_batched_tokens=*/7);
  ExpectBatchInvariant(*whole, *chunked, /*sampled=*/false);
  ExpectBatchInvariant(*whole, *chunked, /*sampled=*/true);
}

TEST_F(EngineTest, PreemptionByRecomputeDoesNotChangeOutputs) {
  auto roomy = MakeEngine();
  // 512-token context in 16-token blocks: 32 blocks is the smallest legal pool
  // (one full sequence); 16 concurrent sequences need far more.
  const int64_t bytes_per_block = 2 * 5 * 16 * 32 * 4;
  auto tight = MakeEngine(2048, 34 * bytes_per_block);
  ASSERT_NE(tight, nullptr);
  ExpectBatchInvariant(*roomy, *tight, /*sampled=*/true);
  EXPECT_GT(tight->GetStats().num_preemptions, 0);
  EXPECT_EQ(tight->GetStats().num_kv_blocks_free, tight->GetStats().num_kv_blocks_total);
}

std::unique_ptr<Engine> MakeEngineWith(EngineConfig cfg) {
  cfg.model_dir = SharedPath("models/stories260K");
  auto e = Engine::Create(cfg);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *std::move(e) : nullptr;
}

// 16 requests over 3 long shared prefixes (46-50 tokens) with distinct
// suffixes, half greedy and half seeded sampling.
std::vector<Request> SharedPrefixRequests() {
  std::vector<std::vector<int32_t>> prefixes;
  for (int p = 0; p < 3; ++p) {
    std::vector<int32_t> prefix = {1};
    for (int i = 0; i < 45 + p * 2; ++i) prefix.push_back(260 + (i * 7 + p * 31) % 250);
    prefixes.push_back(std::move(prefix));
  }
  std::vector<Request> out;
  for (int i = 0; i < 16; ++i) {
    std::vector<int32_t> prompt = prefixes[i % 3];
    for (int j = 0; j <= i % 5; ++j) prompt.push_back(300 + (i * 13 + j) % 200);
    Request r = Greedy("p" + std::to_string(i), std::move(prompt), 40 + 10 * i);
    r.sampling.ignore_eos = true;
    if (i % 2 == 1) {
      r.sampling.temperature = 0.9f;
      r.sampling.seed = 77 + i;
    }
    out.push_back(std::move(r));
  }
  return out;
}

// Chunked prefill (an 8-token budget, two partial prefills), prefix hits
// (shared prefixes, small blocks) and preemption (a pool barely above one
// full context) all at once: every stream equals its solo run on an engine
// with none of them (no prefix caching, whole prompts, a roomy pool).
TEST_F(EngineTest, SharedPrefixesTinyPoolTinyBudgetAreBatchInvariant) {
  EngineConfig plain;
  plain.enable_prefix_caching = false;
  plain.block_size = 4;
  auto reference = MakeEngineWith(plain);
  ASSERT_NE(reference, nullptr);
  EngineConfig stressed;
  stressed.block_size = 4;
  stressed.max_num_batched_tokens = 8;
  stressed.max_num_partial_prefills = 2;
  // 512-token context in 4-token blocks: 128 blocks hold one full sequence.
  const int64_t bytes_per_block = 2 * 5 * 4 * 32 * 4;
  stressed.kv_cache_memory_bytes = 140 * bytes_per_block;
  auto e = MakeEngineWith(stressed);
  ASSERT_NE(e, nullptr);

  std::vector<Request> reqs = SharedPrefixRequests();
  std::vector<Collected> solo;
  for (const Request& r : reqs) solo.push_back(RunOne(*reference, r));
  std::vector<std::shared_ptr<engine::OutputChannel>> channels;
  for (size_t i = 0; i < reqs.size(); ++i) {
    channels.push_back(SubmitOrDie(*e, reqs[i]));
    if (i % 4 == 3) std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  int64_t cached_tokens = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    Collected together = Drain(*channels[i]);
    EXPECT_EQ(together.ids, solo[i].ids) << "request " << i;
    EXPECT_EQ(together.text, solo[i].text) << "request " << i;
    EXPECT_EQ(solo[i].usage.cached_tokens, 0);
    cached_tokens += together.usage.cached_tokens;
  }
  const engine::EngineStats stats = e->GetStats();
  EXPECT_GT(stats.num_preemptions, 0);
  EXPECT_GT(stats.prefix_cache_hits, 0);
  EXPECT_EQ(stats.prefix_cache_hits, cached_tokens);
  EXPECT_GT(stats.prefix_cache_queries, stats.prefix_cache_hits);
  EXPECT_EQ(stats.num_kv_blocks_free, stats.num_kv_blocks_total);  // nothing owned
  EXPECT_GT(stats.cached_free_blocks, 0);                          // but still cached
}

TEST_F(EngineTest, RepeatedPromptReportsCachedTokensAndSameOutput) {
  auto e = MakeEngine();
  std::vector<int32_t> prompt = kPrompts[7];  // 18 tokens: one full 16-token block
  Collected first = RunOne(*e, Greedy("a", prompt, 20));
  Collected second = RunOne(*e, Greedy("b", prompt, 20));
  EXPECT_EQ(first.usage.cached_tokens, 0);
  EXPECT_EQ(second.usage.cached_tokens, 16);
  EXPECT_EQ(second.ids, first.ids);
  // Switched off, nothing is reused.
  EngineConfig off;
  off.enable_prefix_caching = false;
  auto plain = MakeEngineWith(off);
  ASSERT_NE(plain, nullptr);
  RunOne(*plain, Greedy("a", prompt, 20));
  Collected again = RunOne(*plain, Greedy("b", prompt, 20));
  EXPECT_EQ(again.usage.cached_tokens, 0);
  EXPECT_EQ(again.ids, first.ids);
  EXPECT_EQ(plain->GetStats().cached_free_blocks, 0);
}

TEST_F(EngineTest, ChunkedPrefillOffNeedsABudgetCoveringTheContext) {
  EngineConfig cfg;
  cfg.model_dir = SharedPath("models/stories260K");
  cfg.enable_chunked_prefill = false;
  cfg.max_num_batched_tokens = 100;
  auto e = Engine::Create(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("max_num_batched_tokens"), std::string::npos);
  cfg.max_num_batched_tokens = 512;
  auto whole = MakeEngineWith(cfg);
  ASSERT_NE(whole, nullptr);
  auto chunked = MakeEngine(/*max_batched_tokens=*/7);
  ExpectBatchInvariant(*chunked, *whole, /*sampled=*/true);
}

TEST_F(EngineTest, StopStringEndsTheStreamBeforeIt) {
  auto e = MakeEngine();
  Request r = Greedy("s", kPrompts[0], 100);
  Collected full = RunOne(*e, r);
  // ", there was a little girl named Lily. ..."
  ASSERT_NE(full.text.find("Lily"), std::string::npos);
  r.sampling.stop = {"Lily"};
  Collected stopped = RunOne(*e, r);
  EXPECT_EQ(stopped.finish_reason, FinishReason::kStopString);
  EXPECT_EQ(stopped.text, full.text.substr(0, full.text.find("Lily")));
  EXPECT_LT(stopped.ids.size(), full.ids.size());
}

TEST_F(EngineTest, StopTokenIdIsExcludedFromTheOutput) {
  auto e = MakeEngine();
  Request r = Greedy("t", kPrompts[0], 100);
  Collected full = RunOne(*e, r);
  ASSERT_GT(full.ids.size(), 10u);
  r.sampling.stop_token_ids = {full.ids[5]};
  Collected stopped = RunOne(*e, r);
  EXPECT_EQ(stopped.finish_reason, FinishReason::kStop);
  // Stops at the first occurrence of that id, which it does not include.
  size_t first = 0;
  while (full.ids[first] != full.ids[5]) ++first;
  EXPECT_EQ(stopped.ids, std::vector<int32_t>(full.ids.begin(), full.ids.begin() + first));
}

TEST_F(EngineTest, MaxTokensUsageAndLogprobs) {
  auto e = MakeEngine();
  Request r = Greedy("m", kPrompts[3], 7);
  r.sampling.logprobs = 3;
  Collected c = RunOne(*e, r);
  EXPECT_EQ(c.finish_reason, FinishReason::kLength);
  EXPECT_EQ(c.ids.size(), 7u);
  EXPECT_EQ(c.usage.prompt_tokens, 15);
  EXPECT_EQ(c.usage.completion_tokens, 7);
  ASSERT_EQ(c.logprobs.size(), 7u);
  for (size_t i = 0; i < c.ids.size(); ++i) {
    EXPECT_EQ(c.logprobs[i].token_id, c.ids[i]);
    ASSERT_EQ(c.logprobs[i].top.size(), 3u);
    EXPECT_EQ(c.logprobs[i].top[0].first, c.ids[i]);  // greedy picks the top token
    EXPECT_LE(c.logprobs[i].logprob, 0.0f);
  }
}

TEST_F(EngineTest, AbortMidStreamFreesEveryBlock) {
  auto e = MakeEngine();
  std::vector<std::shared_ptr<engine::OutputChannel>> chans;
  for (int i = 0; i < 6; ++i) {
    Request r = Greedy("a" + std::to_string(i), kPrompts[i], 400);
    r.sampling.ignore_eos = true;
    chans.push_back(SubmitOrDie(*e, r));
  }
  chans[0]->WaitPop();  // streaming has started
  for (int i = 0; i < 6; ++i) e->Abort("a" + std::to_string(i));
  for (auto& ch : chans) {
    Collected c = Drain(*ch);
    EXPECT_EQ(c.finish_reason, FinishReason::kAbort);
  }
  engine::EngineStats s = e->GetStats();
  EXPECT_EQ(s.num_kv_blocks_free, s.num_kv_blocks_total);
  EXPECT_EQ(s.num_running, 0);
  EXPECT_EQ(s.num_waiting, 0);
  e->Abort("never-existed");  // harmless
}

TEST_F(EngineTest, AbortAllEndsRunningAndWaitingRequestsWithTheStatus) {
  // One sequence at a time: one request runs, the others wait.
  auto e = MakeEngine(2048, 64 << 20, /*max_num_seqs=*/1);
  std::vector<std::shared_ptr<engine::OutputChannel>> chans;
  for (int i = 0; i < 3; ++i) {
    Request r = Greedy("all" + std::to_string(i), kPrompts[i], 400);
    r.sampling.ignore_eos = true;
    chans.push_back(SubmitOrDie(*e, r));
  }
  chans[0]->WaitPop();  // streaming has started
  e->AbortAll(absl::UnavailableError("draining"));
  for (auto& ch : chans) {
    Collected c = Drain(*ch);
    EXPECT_EQ(c.finish_reason, FinishReason::kAbort);
    EXPECT_EQ(c.status.code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(c.status.message(), "draining");
    EXPECT_LT(c.usage.completion_tokens, 400);
  }
  engine::EngineStats s = e->GetStats();
  EXPECT_EQ(s.num_kv_blocks_free, s.num_kv_blocks_total);
  EXPECT_EQ(s.num_running + s.num_waiting, 0);
  // Later requests run as usual.
  EXPECT_TRUE(RunOne(*e, Greedy("after", kPrompts[0], 5)).status.ok());
}

TEST_F(EngineTest, DebugStallFilePausesTheStepLoopWhileItExists) {
  const std::filesystem::path stall =
      std::filesystem::path(::testing::TempDir()) / "engine_test_stall";
  std::filesystem::remove(stall);
  EngineConfig cfg;
  cfg.model_dir = SharedPath("models/stories260K");
  cfg.debug_stall_file = stall.string();
  auto created = Engine::Create(cfg);
  ASSERT_TRUE(created.ok()) << created.status();
  Engine& e = **created;
  EXPECT_TRUE(RunOne(e, Greedy("before", kPrompts[0], 5)).status.ok());
  const int64_t steps = e.GetStats().num_steps;
  { std::ofstream(stall.string()) << "stall"; }
  Request stalled = Greedy("stalled", kPrompts[0], 5);
  stalled.sampling.ignore_eos = true;
  auto ch = SubmitOrDie(e, stalled);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(e.GetStats().num_steps, steps);
  EXPECT_EQ(e.GetStats().num_waiting, 1);
  EXPECT_FALSE(ch->TryPop().has_value());
  std::filesystem::remove(stall);
  Collected c = Drain(*ch);
  EXPECT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.usage.completion_tokens, 5);
  EXPECT_GT(e.GetStats().num_steps, steps);
}

TEST_F(EngineTest, DeadlineInThePastFailsWithDeadlineExceeded) {
  auto e = MakeEngine();
  Request r = Greedy("d", kPrompts[0], 50);
  r.deadline = absl::Now() - absl::Seconds(1);
  Collected c = RunOne(*e, r);
  EXPECT_EQ(c.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(c.ids.empty());
}

TEST_F(EngineTest, AdmissionErrorsHaveTheRightCodes) {
  auto e = MakeEngine(2048, 64 << 20, 1);
  auto submit = [&](Request r) {
    return e->Submit(std::move(r), std::make_shared<engine::OutputChannel>()).code();
  };
  EXPECT_EQ(submit(Greedy("e1", {}, 5)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(submit(Greedy("e2", {1, 99999}, 5)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(submit(Greedy("e3", {1, -4}, 5)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(submit(Greedy("e4", {1}, 512)), absl::StatusCode::kInvalidArgument);  // > context
  Request bad_temp = Greedy("e5", {1}, 5);
  bad_temp.sampling.temperature = -1;
  EXPECT_EQ(submit(bad_temp), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(submit(Greedy("", {1}, 5)), absl::StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, FullWaitingQueueIsResourceExhausted) {
  EngineConfig cfg;
  cfg.model_dir = SharedPath("models/stories260K");
  cfg.max_num_seqs = 1;
  cfg.max_queue_len = 2;
  auto e = Engine::Create(cfg);
  ASSERT_TRUE(e.ok());
  std::vector<std::shared_ptr<engine::OutputChannel>> chans;
  int exhausted = 0;
  for (int i = 0; i < 50; ++i) {
    Request r = Greedy("q" + std::to_string(i), {1}, 300);
    r.sampling.ignore_eos = true;
    auto ch = std::make_shared<engine::OutputChannel>();
    absl::Status s = (*e)->Submit(std::move(r), ch);
    if (s.code() == absl::StatusCode::kResourceExhausted) {
      ++exhausted;
    } else {
      ASSERT_TRUE(s.ok()) << s;
      chans.push_back(ch);
    }
  }
  EXPECT_GT(exhausted, 0);
  EXPECT_LE(chans.size(), 4u);  // 1 running + 2 waiting (+ an inbox race)
  for (int i = 0; i < 50; ++i) (*e)->Abort("q" + std::to_string(i));
  for (auto& ch : chans) Drain(*ch);
}

TEST_F(EngineTest, DuplicateLiveRequestIdIsRejected) {
  auto e = MakeEngine();
  Request r = Greedy("dup", {1}, 300);
  r.sampling.ignore_eos = true;
  auto ch = SubmitOrDie(*e, r);
  EXPECT_EQ(e->Submit(r, std::make_shared<engine::OutputChannel>()).code(),
            absl::StatusCode::kAlreadyExists);
  e->Abort("dup");
  Drain(*ch);
  EXPECT_TRUE(RunOne(*e, Greedy("dup", {1}, 3)).status.ok());  // reusable once finished
}

}  // namespace
}  // namespace inferd::testing

namespace inferd::testing {
namespace {

// Expert-load counters (debugging): off by default; when on, every MoE layer
// counts k token slots per computed token.
TEST(EngineExpertLoadTest, CountsKSlotsPerComputedTokenInEveryMoeLayer) {
  INFERD_REQUIRE_SHARED("models/stories260K-moe-upcycled");
  EngineConfig cfg;
  cfg.model_dir = SharedPath("models/stories260K-moe-upcycled");
  cfg.kv_cache_memory_bytes = 16 << 20;
  auto off = Engine::Create(cfg);
  ASSERT_TRUE(off.ok()) << off.status();
  Collected c = RunOne(**off, Greedy("x", kPrompts[0], 20));
  EXPECT_TRUE((*off)->GetStats().expert_load.empty());

  cfg.track_expert_load = true;
  auto on = Engine::Create(cfg);
  ASSERT_TRUE(on.ok()) << on.status();
  c = RunOne(**on, Greedy("y", kPrompts[0], 20));
  ASSERT_EQ(c.ids.size(), 20u);
  // Computed tokens: the 5-token prompt and 19 fed-back outputs (the last
  // sampled token is never fed). Top-2 of 4 experts in each of 5 layers.
  const auto load = (*on)->GetStats().expert_load;
  ASSERT_EQ(load.size(), 5u);
  for (const auto& [layer, counts] : load) {
    ASSERT_EQ(counts.size(), 4u);
    int64_t total = 0;
    for (int64_t n : counts) total += n;
    EXPECT_EQ(total, (5 + 19) * 2) << "layer " << layer;
  }
}

}  // namespace
}  // namespace inferd::testing
