// The scheduler is a pure planner: these tests drive it with a fake model
// (append a token to every sampling sequence) and no clock.
#include "engine/scheduler/scheduler.h"

#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

class SchedulerHarness {
 public:
  SchedulerHarness(int64_t num_blocks, int32_t block_size, SchedulerConfig cfg,
                   bool prefix_caching = true)
      : kv(num_blocks, block_size, prefix_caching),
        scheduler(cfg, &kv),
        slots(num_blocks * block_size, kEmptySlot) {}

  // A sequence with its own prompt tokens (shared with no other).
  Sequence* Add(int64_t prompt_len, int32_t priority = 0) {
    std::vector<int32_t> tokens;
    for (int64_t i = 0; i < prompt_len; ++i) {
      tokens.push_back(static_cast<int32_t>(next_id * 1000 + i));
    }
    return AddTokens(std::move(tokens), priority);
  }

  Sequence* AddTokens(std::vector<int32_t> tokens, int32_t priority = 0,
                      absl::Time deadline = absl::InfiniteFuture()) {
    auto seq = std::make_unique<Sequence>();
    seq->id = next_id++;
    seq->arrival = seq->id;
    seq->priority = priority;
    seq->deadline = deadline;
    seq->num_prompt_tokens = static_cast<int64_t>(tokens.size());
    seq->token_ids = std::move(tokens);
    Sequence* raw = seq.get();
    seqs[raw->id] = std::move(seq);
    scheduler.Add(raw);
    return raw;
  }

  // One step with a fake model that writes, for every computed position, a
  // fingerprint of the sequence's tokens up to it into the KV slot the block
  // table names, and checks that every position the step attends to holds
  // the right fingerprint (so a prefix hit, a shared block or a recompute
  // that reads the wrong KV fails the test). Every sampling sequence then
  // gains a token.
  SchedulerOutput Step(absl::Time now = absl::InfinitePast()) {
    SchedulerOutput out = scheduler.Schedule(now);
    for (const ScheduledSequence& s : out.scheduled) {
      const Sequence& seq = *seqs.at(s.id);
      const std::vector<int32_t>& table = kv.BlockTable(s.id);
      const int64_t end = s.num_computed_before + s.num_new_tokens;
      EXPECT_GE(static_cast<int64_t>(table.size()) * kv.block_size(), end);
      for (int64_t pos = 0; pos < end; ++pos) {
        int64_t& slot =
            slots[table[pos / kv.block_size()] * kv.block_size() + pos % kv.block_size()];
        if (pos >= s.num_computed_before) {
          slot = Fingerprint(seq, pos);
        } else {
          EXPECT_EQ(slot, Fingerprint(seq, pos)) << "sequence " << s.id << " position " << pos;
        }
      }
    }
    scheduler.Update(out);
    for (const ScheduledSequence& s : out.scheduled) {
      if (s.samples) seqs[s.id]->token_ids.push_back(7);
    }
    return out;
  }

  static int64_t Fingerprint(const Sequence& seq, int64_t pos) {
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i <= pos; ++i)
      h = (h ^ static_cast<uint32_t>(seq.token_ids[i])) * 1099511628211ull;
    return static_cast<int64_t>(h >> 1);
  }

  static constexpr int64_t kEmptySlot = -1;
  KvCacheManager kv;
  Scheduler scheduler;
  std::vector<int64_t> slots;  // [num_blocks * block_size] fingerprints
  std::map<SeqId, std::unique_ptr<Sequence>> seqs;
  SeqId next_id = 1;
};

std::vector<int32_t> Iota(int64_t n, int32_t first = 0) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

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
  // each) until they grow to 5 tokens. No prefix caching: b recomputes all.
  SchedulerHarness h(4, 2, {8, 100}, /*prefix_caching=*/false);
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

TEST(SchedulerTest, PreemptedSequenceResumesFromItsCachedBlocks) {
  SchedulerHarness h(4, 2, {8, 100});
  Sequence* a = h.Add(3);
  Sequence* b = h.Add(3);
  h.Step();
  h.Step();
  SchedulerOutput o = h.Step();  // b preempted with 4 tokens computed
  ASSERT_EQ(o.preempted, std::vector<SeqId>{b->id});
  h.scheduler.Remove(a->id);
  o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 1u);
  EXPECT_EQ(o.scheduled[0].id, b->id);
  // b freed its tail block first, so a's next block evicted that one; b's
  // head block was still cached.
  EXPECT_EQ(o.scheduled[0].num_computed_before, 2);
  EXPECT_EQ(o.scheduled[0].num_new_tokens, 3);
  EXPECT_EQ(b->num_cached_tokens, 0);  // usage counts the first admission only
  EXPECT_TRUE(h.kv.CheckIntegrity().ok());
}

TEST(SchedulerTest, PrefixHitSharesCachedBlocksAndComputesTheRest) {
  SchedulerHarness h(32, 4, {8, 100});
  Sequence* a = h.AddTokens(Iota(10));
  SchedulerOutput o = h.Step();
  EXPECT_EQ(o.prefix_cache_queries, 10);
  EXPECT_EQ(o.prefix_cache_hits, 0);
  // b shares a's first 9 tokens: two full blocks (8 tokens) are reused.
  std::vector<int32_t> tokens = Iota(9);
  tokens.push_back(500);
  tokens.push_back(501);
  Sequence* b = h.AddTokens(tokens);
  o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 2u);
  EXPECT_EQ(o.scheduled[1].id, b->id);
  EXPECT_EQ(o.scheduled[1].num_computed_before, 8);
  EXPECT_EQ(o.scheduled[1].num_new_tokens, 3);
  EXPECT_EQ(o.prefix_cache_queries, 11);
  EXPECT_EQ(o.prefix_cache_hits, 8);
  EXPECT_EQ(b->num_cached_tokens, 8);
  const std::vector<int32_t>& ta = h.kv.BlockTable(a->id);
  const std::vector<int32_t>& tb = h.kv.BlockTable(b->id);
  EXPECT_EQ(ta[0], tb[0]);
  EXPECT_EQ(ta[1], tb[1]);
  EXPECT_NE(ta[2], tb[2]);
  EXPECT_TRUE(h.kv.CheckIntegrity().ok());
  // Both finish: every block is free again; the 2 shared full blocks stay
  // cached (neither third block is full: 11 tokens computed each).
  h.scheduler.Remove(a->id);
  h.scheduler.Remove(b->id);
  EXPECT_EQ(h.kv.num_free_blocks(), 32);
  EXPECT_EQ(h.kv.num_cached_free_blocks(), 2);
  EXPECT_TRUE(h.kv.CheckIntegrity().ok());
}

TEST(SchedulerTest, FullyCachedPromptStillComputesItsLastToken) {
  SchedulerHarness h(32, 4, {8, 100});
  Sequence* a = h.AddTokens(Iota(8));
  h.Step();
  h.Step();  // a's 2 prompt blocks are full and cached
  h.scheduler.Remove(a->id);
  Sequence* b = h.AddTokens(Iota(8));
  SchedulerOutput o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 1u);
  // Logits need the last prompt token computed: only the first block is reused.
  EXPECT_EQ(o.scheduled[0].num_computed_before, 4);
  EXPECT_EQ(o.scheduled[0].num_new_tokens, 4);
  EXPECT_TRUE(o.scheduled[0].samples);
  EXPECT_EQ(b->num_cached_tokens, 4);
}

TEST(SchedulerTest, PrefixCachingOffNeverShares) {
  SchedulerHarness h(32, 4, {8, 100}, /*prefix_caching=*/false);
  h.AddTokens(Iota(12));
  h.Step();
  Sequence* b = h.AddTokens(Iota(12));
  SchedulerOutput o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 2u);
  EXPECT_EQ(o.scheduled[1].num_computed_before, 0);
  EXPECT_EQ(o.prefix_cache_hits, 0);
  EXPECT_EQ(b->num_cached_tokens, 0);
  EXPECT_EQ(h.kv.num_cached_free_blocks(), 0);
}

TEST(SchedulerTest, DecodesAreBudgetedBeforeARecomputeAheadOfThem) {
  // a (priority 0) is recomputing 20 tokens; b and c (arrived later) decode.
  // Budget 8: b and c get their token, a's chunk takes the other 6.
  SchedulerHarness h(64, 4, {8, 8}, /*prefix_caching=*/false);
  Sequence* a = h.Add(20);
  h.Step();
  h.Step();
  h.Step();  // a: 8 + 8 + 4, sampled
  Sequence* b = h.Add(3);
  Sequence* c = h.Add(3);
  h.Step();  // a decodes, b and c prefill
  // Force a back to a full recompute, as after a preemption.
  h.scheduler.Remove(a->id);
  Sequence* a2 = h.AddTokens(a->token_ids, /*priority=*/-1);
  SchedulerOutput o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 3u);
  EXPECT_EQ(o.scheduled[0].id, b->id);  // running first
  EXPECT_EQ(o.scheduled[0].num_new_tokens, 1);
  EXPECT_EQ(o.scheduled[1].id, c->id);
  EXPECT_EQ(o.scheduled[1].num_new_tokens, 1);
  EXPECT_EQ(o.scheduled[2].id, a2->id);
  EXPECT_EQ(o.scheduled[2].num_new_tokens, 6);
  // Next step a2 runs first in serving order (priority -1) but still leaves
  // the decodes their tokens.
  o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 3u);
  EXPECT_EQ(o.scheduled[0].id, a2->id);
  EXPECT_EQ(o.scheduled[0].num_new_tokens, 6);
  EXPECT_EQ(o.num_batched_tokens, 8);
}

TEST(SchedulerTest, PartialPrefillsShareTheBudgetUpToTheCap) {
  // One slot (the default): the long prompt takes the whole budget and the
  // short one waits for it.
  {
    SchedulerHarness h(64, 4, {8, 20, /*max_num_partial_prefills=*/1});
    h.Add(100);
    Sequence* s = h.Add(8);
    SchedulerOutput o = h.Step();
    ASSERT_EQ(o.scheduled.size(), 1u);
    EXPECT_EQ(o.scheduled[0].num_new_tokens, 20);
    EXPECT_EQ(s->status, SequenceStatus::kWaiting);
  }
  // Two slots: each prefill gets half, the short prompt finishes in one step.
  {
    SchedulerHarness h(64, 4, {8, 20, /*max_num_partial_prefills=*/2});
    h.Add(100);
    Sequence* s = h.Add(8);
    SchedulerOutput o = h.Step();
    ASSERT_EQ(o.scheduled.size(), 2u);
    EXPECT_EQ(o.scheduled[0].num_new_tokens, 10);
    EXPECT_EQ(o.scheduled[1].id, s->id);
    EXPECT_EQ(o.scheduled[1].num_new_tokens, 8);
    EXPECT_TRUE(o.scheduled[1].samples);
  }
  // Two slots, three long prompts: only two are in progress at a time.
  {
    SchedulerHarness h(64, 4, {8, 20, /*max_num_partial_prefills=*/2});
    h.Add(100);
    h.Add(100);
    Sequence* third = h.Add(100);
    for (int i = 0; i < 3; ++i) {
      SchedulerOutput o = h.Step();
      EXPECT_EQ(o.scheduled.size(), 2u);
      EXPECT_EQ(o.num_batched_tokens, 20);
      EXPECT_EQ(third->status, SequenceStatus::kWaiting);
    }
  }
}

TEST(SchedulerTest, WithoutChunkedPrefillAPromptRunsWholeOrWaits) {
  SchedulerConfig cfg{8, 16};
  cfg.enable_chunked_prefill = false;
  SchedulerHarness h(64, 4, cfg);
  Sequence* a = h.Add(16);
  Sequence* b = h.Add(10);
  SchedulerOutput o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 1u);  // a takes the whole step, b does not fit
  EXPECT_EQ(o.scheduled[0].id, a->id);
  EXPECT_EQ(o.scheduled[0].num_new_tokens, 16);
  o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 2u);  // a decodes, b fits whole in the other 15
  EXPECT_EQ(o.scheduled[1].id, b->id);
  EXPECT_EQ(o.scheduled[1].num_new_tokens, 10);
}

TEST(SchedulerTest, DeadlinesExpireWaitingAndRunningSequences) {
  SchedulerHarness h(64, 4, {1, 100});
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  Sequence* running = h.AddTokens(Iota(5), 0, t0 + absl::Seconds(10));
  Sequence* waiting = h.AddTokens(Iota(5, 100), 0, t0 + absl::Seconds(1));
  Sequence* forever = h.AddTokens(Iota(5, 200));
  SchedulerOutput o = h.Step(t0);
  EXPECT_TRUE(o.expired.empty());
  EXPECT_EQ(running->status, SequenceStatus::kRunning);
  o = h.Step(t0 + absl::Seconds(2));  // `waiting` never ran: it expires unscheduled
  EXPECT_EQ(o.expired, std::vector<SeqId>{waiting->id});
  EXPECT_EQ(waiting->status, SequenceStatus::kFinished);
  EXPECT_EQ(waiting->num_computed_tokens, 0);
  o = h.Step(t0 + absl::Seconds(11));  // `running` expires mid-stream, blocks freed
  EXPECT_EQ(o.expired, std::vector<SeqId>{running->id});
  EXPECT_TRUE(h.kv.BlockTable(running->id).empty());
  ASSERT_EQ(o.scheduled.size(), 1u);
  EXPECT_EQ(o.scheduled[0].id, forever->id);
  EXPECT_EQ(h.scheduler.num_running(), 1);
  EXPECT_EQ(h.scheduler.num_waiting(), 0);
  EXPECT_TRUE(h.kv.CheckIntegrity().ok());
}

// Thousands of steps of random arrivals (many sharing prompt prefixes),
// lengths, priorities, aborts, deadlines, pool sizes and scheduler settings:
// after every step the KV cache is consistent and every attended position
// holds the right KV (the harness's fingerprints), and in the end every
// sequence finished, was aborted or expired (nothing starves, nothing is
// lost) and the pool is entirely free.
TEST(SchedulerTest, RandomizedStressKeepsIntegrityAndProgress) {
  std::mt19937 rng(1234);
  int64_t total_steps = 0, total_hits = 0, total_preemptions = 0, total_expired = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const int32_t block_size = 1 + static_cast<int32_t>(rng() % 8);
    const int64_t max_len = 64;
    const int64_t num_blocks = (max_len + block_size - 1) / block_size + rng() % 40;
    SchedulerConfig cfg;
    cfg.max_num_seqs = 1 + static_cast<int32_t>(rng() % 8);
    cfg.enable_chunked_prefill = rng() % 4 != 0;
    cfg.max_num_batched_tokens =
        cfg.enable_chunked_prefill ? 1 + static_cast<int64_t>(rng() % 48) : max_len;
    cfg.max_num_partial_prefills = 1 + static_cast<int32_t>(rng() % 3);
    const bool prefix_caching = rng() % 4 != 0;
    SchedulerHarness h(num_blocks, block_size, cfg, prefix_caching);
    // A few shared prefixes, so prefix hits, shared blocks and evictions happen.
    std::vector<std::vector<int32_t>> prefixes;
    for (int i = 0; i < 3; ++i) prefixes.push_back(Iota(1 + rng() % 30, 10000 * (i + 1)));
    std::map<SeqId, int64_t> target_len;  // finish when num_tokens reaches it
    int added = 0, finished = 0, aborted = 0, expired = 0;
    absl::Time now = absl::FromUnixSeconds(0);
    for (int step = 0; step < 600 || h.scheduler.HasWork(); ++step) {
      ASSERT_LT(step, 20000) << "no progress in trial " << trial;
      now += absl::Milliseconds(10);
      if (step < 600 && rng() % 3 == 0) {
        std::vector<int32_t> tokens;
        if (rng() % 2 == 0) tokens = prefixes[rng() % prefixes.size()];
        const int64_t own = 1 + rng() % 20;
        for (int64_t i = 0; i < own; ++i) tokens.push_back(static_cast<int32_t>(rng() % 50));
        if (static_cast<int64_t>(tokens.size()) >= max_len) tokens.resize(max_len - 1);
        const absl::Time deadline = rng() % 8 == 0 ? now + absl::Milliseconds(10 * (1 + rng() % 40))
                                                   : absl::InfiniteFuture();
        const int64_t prompt = static_cast<int64_t>(tokens.size());
        Sequence* s = h.AddTokens(std::move(tokens), static_cast<int32_t>(rng() % 3), deadline);
        target_len[s->id] = std::min<int64_t>(max_len, prompt + 1 + rng() % 24);
        ++added;
      }
      if (step < 600 && rng() % 17 == 0 && !target_len.empty()) {
        auto it = std::next(target_len.begin(), rng() % target_len.size());
        h.scheduler.Remove(it->first);
        target_len.erase(it);
        ++aborted;
      }
      SchedulerOutput o = h.Step(now);
      ASSERT_LE(o.num_batched_tokens, cfg.max_num_batched_tokens);
      total_hits += o.prefix_cache_hits;
      total_preemptions += static_cast<int64_t>(o.preempted.size());
      for (SeqId id : o.expired) {
        ASSERT_EQ(target_len.erase(id), 1u);
        ++expired;
      }
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
      ASSERT_TRUE(h.kv.CheckIntegrity().ok())
          << "trial " << trial << " step " << step << ": " << h.kv.CheckIntegrity();
      ASSERT_LE(h.scheduler.num_running(), cfg.max_num_seqs);
      ++total_steps;
    }
    EXPECT_EQ(finished + aborted + expired, added);
    EXPECT_EQ(h.kv.num_free_blocks(), num_blocks);  // cached blocks count as free
    EXPECT_EQ(h.kv.num_sequences(), 0);
    if (!prefix_caching) {
      EXPECT_EQ(h.kv.num_cached_free_blocks(), 0);
    }
    total_expired += expired;
  }
  // The run exercised what it claims to.
  EXPECT_GT(total_steps, 20000);
  EXPECT_GT(total_hits, 0);
  EXPECT_GT(total_preemptions, 0);
  EXPECT_GT(total_expired, 0);
}

// Speculative decoding: a decoding sequence's draft rides along in its step
// (1 + k tokens), the rejected positions are rolled back and their blocks
// return to the pool.
TEST(SchedulerDraftTest, DraftRidesAlongAndRollBackFreesRejectedBlocks) {
  SchedulerHarness h(32, 4, {8, 64});
  Sequence* s = h.Add(6);
  h.Step();  // prefill: 6 computed, 7 tokens
  ASSERT_EQ(s->num_computed_tokens, 6);
  const int64_t free_before = h.kv.num_free_blocks();
  s->draft.tokens = {50, 51, 52, 53, 54, 55, 56};
  SchedulerOutput o = h.scheduler.Schedule(absl::InfinitePast());
  ASSERT_EQ(o.scheduled.size(), 1u);
  EXPECT_EQ(o.scheduled[0].num_new_tokens, 8);
  EXPECT_EQ(o.scheduled[0].num_draft_tokens, 7);
  EXPECT_TRUE(o.scheduled[0].samples);
  EXPECT_EQ(h.kv.BlockTable(s->id).size(), 4u);  // positions 0..13
  h.scheduler.Update(o);
  EXPECT_EQ(s->num_computed_tokens, 14);
  // One draft token accepted: positions 0..7 stay valid.
  h.scheduler.RollBack(s, 8);
  EXPECT_EQ(s->num_computed_tokens, 8);
  EXPECT_EQ(h.kv.BlockTable(s->id).size(), 2u);
  EXPECT_EQ(h.kv.num_free_blocks(), free_before);
  EXPECT_TRUE(h.kv.CheckIntegrity().ok());
  s->draft.Clear();
  s->token_ids.push_back(50);  // the accepted token and the correction
  s->token_ids.push_back(9);
  o = h.scheduler.Schedule(absl::InfinitePast());
  ASSERT_EQ(o.scheduled.size(), 1u);
  EXPECT_EQ(o.scheduled[0].num_computed_before, 8);
  EXPECT_EQ(o.scheduled[0].num_new_tokens, 1);
  EXPECT_EQ(o.scheduled[0].num_draft_tokens, 0);
}

TEST(SchedulerDraftTest, DraftsAreCutSoEveryDecodeKeepsItsToken) {
  SchedulerHarness h(64, 4, {8, 10});
  std::vector<Sequence*> seqs;
  for (int i = 0; i < 4; ++i) seqs.push_back(h.Add(2));
  h.Step();  // 4 prompts of 2 tokens: 8 of the 10-token budget
  for (Sequence* s : seqs) {
    ASSERT_TRUE(s->decoding());
    s->draft.tokens = {1, 2, 3, 4};
  }
  const SchedulerOutput o = h.scheduler.Schedule(absl::InfinitePast());
  ASSERT_EQ(o.scheduled.size(), 4u);
  // Serving order: the first keeps its whole draft, the second what is left
  // after one token for each later decode, the rest decode plainly.
  EXPECT_EQ(o.scheduled[0].num_draft_tokens, 4);
  EXPECT_EQ(o.scheduled[1].num_draft_tokens, 2);
  EXPECT_EQ(o.scheduled[2].num_draft_tokens, 0);
  EXPECT_EQ(o.scheduled[3].num_draft_tokens, 0);
  EXPECT_EQ(o.num_batched_tokens, 10);
  EXPECT_EQ(seqs[1]->draft.size(), 2);
}

TEST(SchedulerDraftTest, DraftIsDroppedBeforeAnyoneIsPreempted) {
  // 4 blocks of 4: two sequences of 7 tokens hold 2 blocks each; a draft of
  // 3 would need a third block for one of them.
  SchedulerHarness h(4, 4, {8, 64}, /*prefix_caching=*/false);
  Sequence* a = h.Add(6);
  Sequence* b = h.Add(6);
  h.Step();
  ASSERT_EQ(h.kv.num_free_blocks(), 0);
  a->draft.tokens = {1, 2, 3};
  const SchedulerOutput o = h.scheduler.Schedule(absl::InfinitePast());
  EXPECT_TRUE(o.preempted.empty());
  ASSERT_EQ(o.scheduled.size(), 2u);
  EXPECT_EQ(o.scheduled[0].num_draft_tokens, 0);
  EXPECT_TRUE(a->draft.tokens.empty());
  EXPECT_EQ(b->status, SequenceStatus::kRunning);
}

TEST(SchedulerDraftTest, PreemptionClearsTheDraft) {
  SchedulerHarness h(4, 2, {8, 100}, /*prefix_caching=*/false);
  Sequence* a = h.Add(3);
  Sequence* b = h.Add(3);
  h.Step();
  b->draft.tokens = {5};
  // Growing a's table past the pool preempts b (the latest arrival).
  for (int i = 0; i < 6 && b->status == SequenceStatus::kRunning; ++i) {
    b->draft.tokens.assign(1, 5);
    SchedulerOutput o = h.scheduler.Schedule(absl::InfinitePast());
    h.scheduler.Update(o);
    for (const ScheduledSequence& s : o.scheduled) {
      Sequence* seq = s.id == a->id ? a : b;
      if (s.num_draft_tokens > 0) h.scheduler.RollBack(seq, s.num_computed_before + 1);
      seq->draft.Clear();
      seq->token_ids.push_back(7);
    }
  }
  EXPECT_EQ(b->status, SequenceStatus::kWaiting);
  EXPECT_TRUE(b->draft.tokens.empty());
  EXPECT_TRUE(h.kv.CheckIntegrity().ok());
}

}  // namespace
}  // namespace inferd::engine
