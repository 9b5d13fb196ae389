// The scheduler is a pure planner: these tests drive it with a fake model
// (append a token to every sampling sequence) and no clock.
#include "engine/scheduler/scheduler.h"

#include <map>
#include <memory>
#include <random>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

class SchedulerHarness {
 public:
  SchedulerHarness(int64_t num_blocks, int32_t block_size, SchedulerConfig cfg)
      : kv(num_blocks, block_size), scheduler(cfg, &kv) {}

  Sequence* Add(int64_t prompt_len, int32_t priority = 0) {
    auto seq = std::make_unique<Sequence>();
    seq->id = next_id++;
    seq->arrival = seq->id;
    seq->priority = priority;
    for (int64_t i = 0; i < prompt_len; ++i) seq->token_ids.push_back(static_cast<int32_t>(i));
    seq->num_prompt_tokens = prompt_len;
    Sequence* raw = seq.get();
    seqs[raw->id] = std::move(seq);
    scheduler.Add(raw);
    return raw;
  }

  // One step with a fake model: every sampling sequence gains a token.
  SchedulerOutput Step() {
    SchedulerOutput out = scheduler.Schedule();
    scheduler.Update(out);
    for (const ScheduledSequence& s : out.scheduled) {
      if (s.samples) seqs[s.id]->token_ids.push_back(1000);
    }
    return out;
  }

  KvCacheManager kv;
  Scheduler scheduler;
  std::map<SeqId, std::unique_ptr<Sequence>> seqs;
  SeqId next_id = 1;
};

TEST(SchedulerTest, PrefillThenOneTokenPerDecodeStep) {
  SchedulerHarness h(16, 4, {8, 64});
  Sequence* s = h.Add(10);
  SchedulerOutput o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 1u);
  EXPECT_EQ(o.scheduled[0].num_computed_before, 0);
  EXPECT_EQ(o.scheduled[0].num_new_tokens, 10);
  EXPECT_TRUE(o.scheduled[0].samples);
  EXPECT_EQ(s->num_computed_tokens, 10);
  EXPECT_EQ(s->num_tokens(), 11);
  for (int i = 0; i < 5; ++i) {
    o = h.Step();
    ASSERT_EQ(o.scheduled.size(), 1u);
    EXPECT_EQ(o.scheduled[0].num_new_tokens, 1);
    EXPECT_TRUE(o.scheduled[0].samples);
  }
  EXPECT_EQ(h.kv.BlockTable(s->id).size(), 4u);  // 15 tokens computed, 16 slots
  EXPECT_TRUE(h.kv.CheckIntegrity().ok());
}

TEST(SchedulerTest, LongPromptIsChunkedUnderTheTokenBudget) {
  SchedulerHarness h(64, 4, {8, 16});
  h.Add(50);
  std::vector<int64_t> chunks;
  std::vector<bool> samples;
  for (int i = 0; i < 4; ++i) {
    SchedulerOutput o = h.Step();
    ASSERT_EQ(o.scheduled.size(), 1u);
    chunks.push_back(o.scheduled[0].num_new_tokens);
    samples.push_back(o.scheduled[0].samples);
  }
  EXPECT_EQ(chunks, (std::vector<int64_t>{16, 16, 16, 2}));
  EXPECT_EQ(samples, (std::vector<bool>{false, false, false, true}));
}

TEST(SchedulerTest, DecodesKeepFlowingWhileANewPromptIsChunked) {
  SchedulerHarness h(64, 4, {8, 8});
  Sequence* a = h.Add(3);
  h.Step();  // a: prefill
  Sequence* b = h.Add(20);
  const std::vector<int64_t> expected_chunks = {7, 7, 6};
  for (int64_t chunk : expected_chunks) {
    SchedulerOutput o = h.Step();
    ASSERT_EQ(o.scheduled.size(), 2u);
    EXPECT_EQ(o.scheduled[0].id, a->id);  // the running decode comes first
    EXPECT_EQ(o.scheduled[0].num_new_tokens, 1);
    EXPECT_EQ(o.scheduled[1].id, b->id);
    EXPECT_EQ(o.scheduled[1].num_new_tokens, chunk);
    EXPECT_EQ(o.scheduled[1].samples, chunk == 6);
  }
  EXPECT_EQ(b->num_computed_tokens, 20);  // 7 + 7 + 6: the prompt is done
}

TEST(SchedulerTest, MaxNumSeqsCapsTheRunningSet) {
  SchedulerHarness h(64, 4, {2, 100});
  for (int i = 0; i < 5; ++i) h.Add(3);
  SchedulerOutput o = h.Step();
  EXPECT_EQ(o.scheduled.size(), 2u);
  EXPECT_EQ(h.scheduler.num_running(), 2);
  EXPECT_EQ(h.scheduler.num_waiting(), 3);
}

TEST(SchedulerTest, WaitingQueueIsOrderedByPriorityThenArrival) {
  SchedulerHarness h(64, 4, {1, 100});
  Sequence* low = h.Add(3, /*priority=*/5);
  Sequence* high = h.Add(3, /*priority=*/-1);
  Sequence* mid = h.Add(3, /*priority=*/0);
  ASSERT_EQ(h.scheduler.waiting().size(), 3u);
  EXPECT_EQ(h.scheduler.waiting()[0], high);
  EXPECT_EQ(h.scheduler.waiting()[1], mid);
  EXPECT_EQ(h.scheduler.waiting()[2], low);
}

TEST(SchedulerTest, PoolExhaustionPreemptsTheLatestAndKeepsItsTokens) {
  // 4 blocks of 2 tokens: two sequences of 3 prompt tokens fit (2 blocks
  // each) until they grow to 5 tokens.
  SchedulerHarness h(4, 2, {8, 100});
  Sequence* a = h.Add(3);
  Sequence* b = h.Add(3);
  h.Step();                      // both prefill: 4 tokens each after sampling
  h.Step();                      // both decode token 4 (fits): 5 tokens each
  SchedulerOutput o = h.Step();  // decoding token 5 needs a 3rd block each
  ASSERT_EQ(o.preempted.size(), 1u);
  EXPECT_EQ(o.preempted[0], b->id);
  ASSERT_EQ(o.scheduled.size(), 1u);
  EXPECT_EQ(o.scheduled[0].id, a->id);
  EXPECT_EQ(b->status, SequenceStatus::kWaiting);
  EXPECT_EQ(b->num_computed_tokens, 0);
  EXPECT_EQ(b->num_tokens(), 5);  // prompt + 2 generated tokens kept
  EXPECT_EQ(b->num_preemptions, 1);
  EXPECT_TRUE(h.kv.BlockTable(b->id).empty());
  EXPECT_TRUE(h.kv.CheckIntegrity().ok());
  // When a finishes, b recomputes prompt and output in one prefill.
  h.scheduler.Remove(a->id);
  o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 1u);
  EXPECT_EQ(o.scheduled[0].id, b->id);
  EXPECT_EQ(o.scheduled[0].num_new_tokens, 5);
  EXPECT_TRUE(o.scheduled[0].samples);
}

TEST(SchedulerTest, RemoveFreesBlocksFromEitherQueue) {
  SchedulerHarness h(8, 4, {1, 100});
  Sequence* a = h.Add(5);
  Sequence* b = h.Add(5);
  h.Step();
  EXPECT_EQ(h.kv.num_free_blocks(), 6);
  h.scheduler.Remove(b->id);  // waiting
  h.scheduler.Remove(a->id);  // running
  EXPECT_FALSE(h.scheduler.HasWork());
  EXPECT_EQ(h.kv.num_free_blocks(), 8);
  EXPECT_TRUE(h.kv.CheckIntegrity().ok());
}

// Thousands of steps of random arrivals, lengths, priorities, aborts and pool
// sizes: after every step the KV cache is consistent, and in the end every
// sequence finished (nothing starves, nothing is lost).
TEST(SchedulerTest, RandomizedStressKeepsIntegrityAndProgress) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 20; ++trial) {
    const int32_t block_size = 1 + static_cast<int32_t>(rng() % 8);
    const int64_t max_len = 64;
    const int64_t num_blocks = (max_len + block_size - 1) / block_size + rng() % 40;
    SchedulerConfig cfg{1 + static_cast<int32_t>(rng() % 8), 1 + static_cast<int64_t>(rng() % 48)};
    SchedulerHarness h(num_blocks, block_size, cfg);
    std::map<SeqId, int64_t> target_len;  // finish when num_tokens reaches it
    int added = 0, finished = 0, aborted = 0;
    for (int step = 0; step < 600 || h.scheduler.HasWork(); ++step) {
      ASSERT_LT(step, 20000) << "no progress in trial " << trial;
      if (step < 600 && rng() % 3 == 0) {
        const int64_t prompt = 1 + rng() % 40;
        Sequence* s = h.Add(prompt, static_cast<int32_t>(rng() % 3));
        target_len[s->id] = std::min<int64_t>(max_len, prompt + 1 + rng() % 24);
        ++added;
      }
      if (step < 600 && rng() % 17 == 0 && !target_len.empty()) {
        auto it = std::next(target_len.begin(), rng() % target_len.size());
        h.scheduler.Remove(it->first);
        target_len.erase(it);
        ++aborted;
      }
      h.Step();
      for (auto it = target_len.begin(); it != target_len.end();) {
        Sequence* s = h.seqs[it->first].get();
        if (s->num_tokens() >= it->second) {
          h.scheduler.Remove(s->id);
          it = target_len.erase(it);
          ++finished;
        } else {
          ++it;
        }
      }
      ASSERT_TRUE(h.kv.CheckIntegrity().ok()) << "trial " << trial << " step " << step;
      ASSERT_LE(h.scheduler.num_running(), cfg.max_num_seqs);
    }
    EXPECT_EQ(finished + aborted, added);
    EXPECT_EQ(h.kv.num_free_blocks(), num_blocks);
    EXPECT_EQ(h.kv.num_sequences(), 0);
  }
}

}  // namespace
}  // namespace inferd::engine
