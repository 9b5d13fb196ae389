// Forks (the n choices of one prompt, Scheduler::AddFork): the planner and the
// KV cache manager alone, with a fake model that writes a fingerprint of each
// sequence's tokens into every KV slot it computes and checks every slot it
// attends to, and that applies the plan's block copies after the step. A
// child reading a block its fork did not give it, or a write into a shared
// block, fails the fingerprint check; refcounts and the free pool are checked
// against the manager's integrity rules.
#include <map>
#include <memory>
#include <numeric>
#include <vector>

#include "engine/scheduler/scheduler.h"
#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

class ForkHarness {
 public:
  ForkHarness(int64_t num_blocks, int32_t block_size, SchedulerConfig cfg, bool prefix_caching)
      : kv(num_blocks, block_size, prefix_caching),
        scheduler(cfg, &kv),
        slots(num_blocks * block_size, -1) {}

  Sequence* Make(std::vector<int32_t> tokens, absl::Time deadline = absl::InfiniteFuture()) {
    auto seq = std::make_unique<Sequence>();
    seq->id = next_id++;
    seq->arrival = seq->id;
    seq->deadline = deadline;
    seq->num_prompt_tokens = static_cast<int64_t>(tokens.size());
    seq->token_ids = std::move(tokens);
    Sequence* raw = seq.get();
    seqs[raw->id] = std::move(seq);
    return raw;
  }

  // A parent and `n` children of the same prompt.
  std::vector<Sequence*> AddGroup(const std::vector<int32_t>& prompt, int n,
                                  absl::Time deadline = absl::InfiniteFuture()) {
    std::vector<Sequence*> group;
    group.push_back(Make(prompt, deadline));
    scheduler.Add(group[0]);
    for (int i = 0; i < n; ++i) {
      group.push_back(Make(prompt, deadline));
      scheduler.AddFork(group.back(), group[0]->id);
    }
    return group;
  }

  SchedulerOutput Step(absl::Time now = absl::InfinitePast()) {
    SchedulerOutput out = scheduler.Schedule(now);
    for (const ScheduledSequence& s : out.scheduled) {
      const Sequence& seq = *seqs.at(s.id);
      const std::vector<int32_t>& table = kv.BlockTable(s.id);
      const int64_t end = s.num_computed_before + s.num_new_tokens;
      EXPECT_GE(static_cast<int64_t>(table.size()) * kv.block_size(), end);
      for (int64_t pos = 0; pos < end; ++pos) {
        int64_t& slot = slots[Slot(table, pos)];
        if (pos >= s.num_computed_before) {
          slot = Fingerprint(seq, pos);
        } else {
          EXPECT_EQ(slot, Fingerprint(seq, pos)) << "sequence " << s.id << " position " << pos;
        }
      }
    }
    // The engine copies after the forward pass.
    for (const KvBlockCopy& c : out.kv_copies) {
      for (int32_t r = 0; r < c.num_tokens; ++r) {
        slots[c.dst_block * kv.block_size() + r] = slots[c.src_block * kv.block_size() + r];
      }
    }
    scheduler.Update(out);
    for (const ScheduledSequence& s : out.scheduled) {
      if (s.samples) seqs[s.id]->token_ids.push_back(Token(s.id));
    }
    // A forked child samples its first token from its parent's row.
    for (const ForkedSequence& f : out.forks) seqs[f.child]->token_ids.push_back(Token(f.child));
    EXPECT_TRUE(kv.CheckIntegrity().ok()) << kv.CheckIntegrity();
    return out;
  }

  // The fake model's token: differs per sequence, so children diverge.
  static int32_t Token(SeqId id) { return static_cast<int32_t>(500 + id); }

  // Every position a sequence has computed holds its own fingerprint.
  void ExpectKvOf(const Sequence& seq) {
    const std::vector<int32_t>& table = kv.BlockTable(seq.id);
    for (int64_t pos = 0; pos < seq.num_computed_tokens; ++pos) {
      EXPECT_EQ(slots[Slot(table, pos)], Fingerprint(seq, pos))
          << "sequence " << seq.id << " position " << pos;
    }
  }

  int64_t Slot(const std::vector<int32_t>& table, int64_t pos) const {
    return table[pos / kv.block_size()] * kv.block_size() + pos % kv.block_size();
  }

  static int64_t Fingerprint(const Sequence& seq, int64_t pos) {
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i <= pos; ++i) {
      h = (h ^ static_cast<uint32_t>(seq.token_ids[i])) * 1099511628211ull;
    }
    return static_cast<int64_t>(h >> 1);
  }

  void RemoveAll() {
    for (auto& [id, seq] : seqs) scheduler.Remove(id);
  }

  KvCacheManager kv;
  Scheduler scheduler;
  std::vector<int64_t> slots;
  std::map<SeqId, std::unique_ptr<Sequence>> seqs;
  SeqId next_id = 1;
};

std::vector<int32_t> Prompt(int64_t n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), 11);
  return v;
}

class SchedulerForkTest : public ::testing::TestWithParam<bool> {};  // prefix caching

TEST_P(SchedulerForkTest, ChildrenShareFullBlocksAndCopyThePartialOne) {
  ForkHarness h(32, 4, {8, 64}, GetParam());
  std::vector<Sequence*> g = h.AddGroup(Prompt(10), 3);  // blocks: 4 + 4 + 2 tokens
  EXPECT_EQ(h.scheduler.num_waiting(), 4);
  EXPECT_EQ(h.scheduler.num_fork_children(), 3);

  SchedulerOutput o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 1u);  // only the parent computes
  EXPECT_EQ(o.scheduled[0].id, g[0]->id);
  EXPECT_EQ(o.num_batched_tokens, 10);
  ASSERT_EQ(o.forks.size(), 3u);
  ASSERT_EQ(o.kv_copies.size(), 3u);
  const std::vector<int32_t> parent = h.kv.BlockTable(g[0]->id);
  ASSERT_EQ(parent.size(), 3u);
  std::vector<int32_t> copies;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(o.forks[i].parent, g[0]->id);
    EXPECT_EQ(o.forks[i].child, g[i + 1]->id);
    const std::vector<int32_t>& child = h.kv.BlockTable(g[i + 1]->id);
    ASSERT_EQ(child.size(), 3u);
    EXPECT_EQ(child[0], parent[0]);
    EXPECT_EQ(child[1], parent[1]);
    EXPECT_NE(child[2], parent[2]);  // copy-on-write of the partial block
    EXPECT_EQ(o.kv_copies[i].src_block, parent[2]);
    EXPECT_EQ(o.kv_copies[i].dst_block, child[2]);
    EXPECT_EQ(o.kv_copies[i].num_tokens, 2);
    copies.push_back(child[2]);
    EXPECT_EQ(g[i + 1]->num_computed_tokens, 10);
    EXPECT_EQ(g[i + 1]->status, SequenceStatus::kRunning);
  }
  EXPECT_EQ(h.scheduler.num_running(), 4);
  EXPECT_EQ(h.scheduler.num_waiting(), 0);
  EXPECT_EQ(h.kv.num_free_blocks(), 32 - 3 - 3);

  // Each then decodes one token a step, writing only its own blocks.
  for (int step = 0; step < 9; ++step) {
    o = h.Step();
    EXPECT_EQ(o.scheduled.size(), 4u);
    EXPECT_EQ(o.num_batched_tokens, 4);  // no prompt recomputed
    EXPECT_TRUE(o.forks.empty());
  }
  for (Sequence* s : g) h.ExpectKvOf(*s);
  h.RemoveAll();
  EXPECT_EQ(h.kv.num_free_blocks(), 32);
  EXPECT_EQ(h.kv.num_sequences(), 0);
  EXPECT_TRUE(h.kv.CheckIntegrity().ok());
}

TEST_P(SchedulerForkTest, PromptOfWholeBlocksSharesEveryBlockAndCopiesNothing) {
  ForkHarness h(32, 4, {8, 64}, GetParam());
  std::vector<Sequence*> g = h.AddGroup(Prompt(8), 2);
  SchedulerOutput o = h.Step();
  EXPECT_EQ(o.forks.size(), 2u);
  EXPECT_TRUE(o.kv_copies.empty());
  EXPECT_EQ(h.kv.BlockTable(g[1]->id), h.kv.BlockTable(g[0]->id));
  EXPECT_EQ(h.kv.num_free_blocks(), 30);
  for (int step = 0; step < 6; ++step) h.Step();
  for (Sequence* s : g) h.ExpectKvOf(*s);
  h.RemoveAll();
  EXPECT_EQ(h.kv.num_free_blocks(), 32);
}

TEST_P(SchedulerForkTest, ChunkedPromptForksOnlyInTheStepThatCompletesIt) {
  ForkHarness h(64, 4, {8, 8}, GetParam());
  std::vector<Sequence*> g = h.AddGroup(Prompt(21), 2);
  std::vector<int64_t> chunks;
  for (int i = 0; i < 3; ++i) {
    SchedulerOutput o = h.Step();
    ASSERT_EQ(o.scheduled.size(), 1u);
    chunks.push_back(o.scheduled[0].num_new_tokens);
    EXPECT_EQ(o.forks.size(), i == 2 ? 2u : 0u) << "step " << i;
  }
  EXPECT_EQ(chunks, (std::vector<int64_t>{8, 8, 5}));
  SchedulerOutput o = h.Step();
  EXPECT_EQ(o.num_batched_tokens, 3);
  for (Sequence* s : g) h.ExpectKvOf(*s);
  h.RemoveAll();
  EXPECT_EQ(h.kv.num_free_blocks(), 64);
}

TEST_P(SchedulerForkTest, ChildrenPastTheSequenceCapComputeTheirOwnPrompt) {
  ForkHarness h(64, 4, {2, 64}, GetParam());
  std::vector<Sequence*> g = h.AddGroup(Prompt(6), 2);
  SchedulerOutput o = h.Step();
  ASSERT_EQ(o.forks.size(), 1u);  // the cap is 2: the parent and one child
  EXPECT_EQ(o.forks[0].child, g[1]->id);
  EXPECT_EQ(g[2]->status, SequenceStatus::kWaiting);
  EXPECT_EQ(h.scheduler.num_waiting(), 1);
  EXPECT_EQ(h.scheduler.num_fork_children(), 0);
  h.scheduler.Remove(g[1]->id);  // room for the last one: a plain prefill
  o = h.Step();
  bool prefilled = false;
  for (const ScheduledSequence& s : o.scheduled) {
    if (s.id == g[2]->id) prefilled = s.num_new_tokens + s.num_computed_before == 6;
  }
  EXPECT_TRUE(prefilled);
  h.ExpectKvOf(*g[2]);
  h.RemoveAll();
  EXPECT_EQ(h.kv.num_free_blocks(), 64);
}

TEST_P(SchedulerForkTest, ChildWithoutABlockForItsCopyWaitsAndComputesItsPrompt) {
  // 2 blocks: the parent's 6-token prompt takes both, none left to copy into.
  ForkHarness h(2, 4, {8, 64}, GetParam());
  std::vector<Sequence*> g = h.AddGroup(Prompt(6), 1);
  SchedulerOutput o = h.Step();
  EXPECT_TRUE(o.forks.empty());
  EXPECT_EQ(g[1]->status, SequenceStatus::kWaiting);
  EXPECT_EQ(h.scheduler.num_waiting(), 1);
  h.scheduler.Remove(g[0]->id);
  EXPECT_EQ(h.kv.num_free_blocks(), 2);
  o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 1u);
  EXPECT_EQ(o.scheduled[0].id, g[1]->id);
  h.ExpectKvOf(*g[1]);
  h.RemoveAll();
  EXPECT_EQ(h.kv.num_free_blocks(), 2);
}

TEST_P(SchedulerForkTest, RemovingTheParentBeforeItsPromptReleasesOrDropsChildren) {
  ForkHarness h(32, 4, {8, 4}, GetParam());
  std::vector<Sequence*> g = h.AddGroup(Prompt(10), 3);
  h.Step();                      // 4 of 10 prompt tokens
  h.scheduler.Remove(g[2]->id);  // a waiting child: gone, held nothing
  EXPECT_EQ(g[2]->status, SequenceStatus::kFinished);
  EXPECT_EQ(h.scheduler.num_fork_children(), 2);
  EXPECT_EQ(h.scheduler.num_waiting(), 2);
  h.scheduler.Remove(g[0]->id);  // the parent: its children wait on their own
  EXPECT_EQ(h.scheduler.num_fork_children(), 0);
  EXPECT_EQ(h.scheduler.num_waiting(), 2);
  EXPECT_EQ(h.kv.num_free_blocks(), 32);
  for (int i = 0; i < 12; ++i) h.Step();
  h.ExpectKvOf(*g[1]);
  h.ExpectKvOf(*g[3]);
  EXPECT_GT(g[1]->num_output_tokens(), 0);
  EXPECT_GT(g[3]->num_output_tokens(), 0);
  h.RemoveAll();
  EXPECT_EQ(h.kv.num_free_blocks(), 32);
  EXPECT_FALSE(h.scheduler.HasWork());
}

TEST_P(SchedulerForkTest, PreemptedChildRecomputesItsOwnPromptAndOutput) {
  // 7 blocks of 4: parent and 2 children fork a 6-token prompt (2 + 1 + 1
  // blocks), then their decodes outgrow the pool and the latest child is
  // preempted; it recomputes everything it had, reading only its own KV.
  ForkHarness h(7, 4, {8, 64}, GetParam());
  std::vector<Sequence*> g = h.AddGroup(Prompt(6), 2);
  h.Step();
  int preemptions = 0;
  for (int i = 0; i < 30 && preemptions == 0; ++i) {
    preemptions += static_cast<int>(h.Step().preempted.size());
  }
  ASSERT_GT(preemptions, 0);
  EXPECT_EQ(g[2]->num_preemptions, 1);
  h.scheduler.Remove(g[0]->id);  // room for the victim to come back
  h.scheduler.Remove(g[1]->id);
  SchedulerOutput o = h.Step();
  ASSERT_EQ(o.scheduled.size(), 1u);
  EXPECT_EQ(o.scheduled[0].id, g[2]->id);
  EXPECT_EQ(o.scheduled[0].num_computed_before + o.scheduled[0].num_new_tokens,
            g[2]->num_tokens() - 1);
  h.ExpectKvOf(*g[2]);
  h.RemoveAll();
  EXPECT_EQ(h.kv.num_free_blocks(), 7);
}

TEST_P(SchedulerForkTest, ChildrenOfAnExpiredParentExpireWithIt) {
  ForkHarness h(32, 4, {8, 64}, GetParam());
  const absl::Time deadline = absl::FromUnixSeconds(100);
  std::vector<Sequence*> g = h.AddGroup(Prompt(10), 2, deadline);
  SchedulerOutput o = h.scheduler.Schedule(absl::FromUnixSeconds(200));
  EXPECT_TRUE(o.scheduled.empty());
  ASSERT_EQ(o.expired.size(), 3u);
  EXPECT_EQ(o.expired[0], g[0]->id);
  EXPECT_FALSE(h.scheduler.HasWork());
  EXPECT_EQ(h.scheduler.num_waiting(), 0);
  EXPECT_EQ(h.kv.num_free_blocks(), 32);
}

INSTANTIATE_TEST_SUITE_P(PrefixCaching, SchedulerForkTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("On") : std::string("Off");
                         });

}  // namespace
}  // namespace inferd::engine
