// Medusa heads against ../shared/golden/stories260K-spec.json: the heads'
// top-5 ids and logits at the first 8 positions of 5 prompts, the per-step
// accepted counts of chain speculation (top-1 per head, k = 4) along the
// target's greedy continuations, and the held-out acceptance (100 prompts x
// 128 greedy ids) that an independent implementation measured. Then the
// candidate tree: the default tree is re-derived from self-generated stories
// (see medusa_tree.cc) and measured on the held-out prompts against the chain.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "engine/spec_decode/medusa_heads.h"
#include "engine/spec_decode/medusa_tree.h"
#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "nlohmann/json.hpp"
#include "tests/golden/spec_decode/target_model.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

// Ranks searched per head when measuring trees; deeper ranks count as misses.
constexpr int32_t kRanks = 16;
constexpr int32_t kHeads = 4;

class MedusaGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    INFERD_REQUIRE_SHARED("golden/stories260K-spec.json");
    INFERD_REQUIRE_SHARED("models/stories260K");
    INFERD_REQUIRE_SHARED("models/stories260K-medusa");
    std::ifstream in(SharedPath("golden/stories260K-spec.json"));
    golden_ = nlohmann::json::parse(in);
    target_ = TargetModel::Load(SharedPath("models/stories260K"), 1500);
    ASSERT_NE(target_, nullptr);
    auto heads =
        engine::MedusaHeads::Load(SharedPath("models/stories260K-medusa"), target_->config());
    ASSERT_TRUE(heads.ok()) << heads.status();
    heads_ = *std::move(heads);
    ASSERT_EQ(heads_->num_heads(), kHeads);
  }

  // For every continuation position m (hidden at t = prompt_len - 1 + m) and
  // head k, the rank of the target's id m + 1 + k in the head's top-kRanks
  // (kRanks when absent or past the end): [n][kHeads].
  std::vector<std::array<int32_t, kHeads>> Ranks(const std::vector<int32_t>& prompt,
                                                 const std::vector<int32_t>& cont) {
    std::vector<int32_t> seq = prompt;
    seq.insert(seq.end(), cont.begin(), cont.end());
    std::vector<float> hidden, logits;
    target_->Run(seq, &hidden, &logits);
    const int64_t n = static_cast<int64_t>(cont.size());
    const int64_t h = target_->hidden();
    std::vector<int32_t> top(n * kHeads * kRanks);
    heads_->TopS(engine::TensorView::HostF32(hidden.data() + (prompt.size() - 1) * h, {n, h}),
                 kRanks, top.data(), nullptr);
    std::vector<std::array<int32_t, kHeads>> ranks(n);
    for (int64_t m = 0; m < n; ++m) {
      for (int32_t k = 0; k < kHeads; ++k) {
        ranks[m][k] = kRanks;
        if (m + 1 + k >= n) continue;
        const int32_t* row = top.data() + (m * kHeads + k) * kRanks;
        for (int32_t r = 0; r < kRanks; ++r) {
          if (row[r] == cont[m + 1 + k]) ranks[m][k] = r;
        }
      }
    }
    return ranks;
  }

  std::vector<std::vector<int32_t>> HeldOutPrompts() const {
    return golden_["acceptance"]["heldout_prompts"].get<std::vector<std::vector<int32_t>>>();
  }

  nlohmann::json golden_;
  std::unique_ptr<TargetModel> target_;
  std::unique_ptr<engine::MedusaHeads> heads_;
};

// Greedy verification of `tree` along a continuation of n ids: at i committed
// ids the root is id i (the target's own pick) and the step keeps the deepest
// tree path whose tokens are ids i + 1, i + 2, ... (at most n - i - 1 deep).
// Returns the accepted count of every step.
std::vector<int32_t> TreeSteps(const engine::MedusaTree& tree,
                               const std::vector<std::array<int32_t, kHeads>>& ranks) {
  const int32_t n = static_cast<int32_t>(ranks.size());
  std::vector<int32_t> steps;
  for (int32_t i = 0; i < n;) {
    int32_t node = 0;
    int32_t accepted = 0;
    while (accepted < std::min(tree.max_depth, n - i - 1)) {
      int32_t next = -1;
      for (int32_t j = 1; j < tree.size(); ++j) {
        if (tree.parents[j] == node && tree.rank[j] == ranks[i][accepted]) next = j;
      }
      if (next < 0) break;
      node = next;
      ++accepted;
    }
    steps.push_back(accepted);
    i += 1 + accepted;
  }
  return steps;
}

double TokensPerStep(const std::vector<int32_t>& steps) {
  double tokens = 0;
  for (int32_t a : steps) tokens += 1 + a;
  return tokens / static_cast<double>(steps.size());
}

// Top-1 of heads 0..k-1: "0;0,0;...".
engine::MedusaTree Chain(int32_t k) {
  auto t = engine::ParseMedusaTree("chain", k);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TEST_F(MedusaGoldenTest, HeadsTop5AtTheFirstEightPositionsMatchTheReference) {
  const int64_t h = target_->hidden();
  const int64_t vocab = target_->vocab();
  int checked = 0;
  double max_hidden_diff = 0, max_logit_diff = 0;
  for (const auto& p : golden_["prompts"]) {
    const auto prompt = p["prompt_ids"].get<std::vector<int32_t>>();
    const auto cont = p["target_generated_ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> seq = prompt;
    seq.insert(seq.end(), cont.begin(), cont.end());
    std::vector<float> hidden, logits;
    target_->Run(seq, &hidden, &logits);
    // The engine's target reproduces the reference continuation.
    for (size_t t = prompt.size() - 1; t + 1 < seq.size(); ++t) {
      ASSERT_EQ(kernels::Argmax(logits.data() + t * vocab, vocab), seq[t + 1])
          << "prompt \"" << p["prompt"].get<std::string>() << "\" position " << t;
    }
    for (const auto& f : p["medusa_first8"]) {
      const int64_t t = f["hidden_sequence_position"];
      ASSERT_EQ(t, static_cast<int64_t>(prompt.size()) - 1 + f["m"].get<int64_t>());
      ASSERT_EQ(seq[t], f["input_id"].get<int32_t>());
      const auto want_hidden = f["hidden"].get<std::vector<float>>();
      ASSERT_EQ(static_cast<int64_t>(want_hidden.size()), h);
      for (int64_t c = 0; c < h; ++c) {
        max_hidden_diff =
            std::max(max_hidden_diff, double{std::fabs(hidden[t * h + c] - want_hidden[c])});
      }
      std::vector<int32_t> ids(kHeads * 5);
      std::vector<float> vals(kHeads * 5);
      heads_->TopS(engine::TensorView::HostF32(hidden.data() + t * h, {1, h}), 5, ids.data(),
                   vals.data());
      for (const auto& head : f["heads"]) {
        const int32_t k = head["head"];
        const auto want_ids = head["top5_ids"].get<std::vector<int32_t>>();
        const auto want_logits = head["top5_logits"].get<std::vector<float>>();
        EXPECT_EQ(std::vector<int32_t>(ids.begin() + k * 5, ids.begin() + (k + 1) * 5), want_ids)
            << "prompt \"" << p["prompt"].get<std::string>() << "\" m " << f["m"] << " head " << k;
        for (int r = 0; r < 5; ++r) {
          const double d = std::fabs(vals[k * 5 + r] - want_logits[r]);
          max_logit_diff = std::max(max_logit_diff, d);
          EXPECT_LE(d, 1e-4) << "m " << f["m"] << " head " << k << " rank " << r;
        }
        EXPECT_EQ(head["top1_matches_target"].get<bool>(),
                  ids[k * 5] == seq[head["predicts_sequence_position"].get<int64_t>()]);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 5 * 8 * kHeads);
  EXPECT_LE(max_hidden_diff, 1e-4);
  std::printf("medusa first8: %d head rows, max |hidden diff| %.3g, max |head logit diff| %.3g\n",
              checked, max_hidden_diff, max_logit_diff);
}

TEST_F(MedusaGoldenTest, ChainK4AcceptedPerStepMatchesTheReference) {
  const engine::MedusaTree chain = Chain(kHeads);
  for (const auto& p : golden_["prompts"]) {
    const auto prompt = p["prompt_ids"].get<std::vector<int32_t>>();
    const auto cont = p["target_generated_ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> steps = TreeSteps(chain, Ranks(prompt, cont));
    EXPECT_EQ(steps, p["spec_greedy_medusa_chain_k4_accepted_per_step"].get<std::vector<int32_t>>())
        << "prompt \"" << p["prompt"].get<std::string>() << "\"";
  }
}

TEST_F(MedusaGoldenTest, HeldOutAcceptanceMatchesTheReference) {
  const nlohmann::json& want = golden_["acceptance"]["greedy"];
  const auto prompts = HeldOutPrompts();
  ASSERT_EQ(prompts.size(), 100u);
  const int32_t max_new = want["max_new"];
  const auto conts = target_->Greedy(prompts, max_new);
  ASSERT_EQ(conts.size(), prompts.size());
  std::vector<std::vector<std::array<int32_t, kHeads>>> ranks;
  for (size_t i = 0; i < prompts.size(); ++i) ranks.push_back(Ranks(prompts[i], conts[i]));

  const auto want_rates = want["medusa_head_top1_match_rate"].get<std::vector<double>>();
  for (int32_t k = 0; k < kHeads; ++k) {
    int64_t hits = 0, total = 0;
    for (const auto& r : ranks) {
      for (size_t m = 0; m + 1 + k < r.size(); ++m) {
        hits += r[m][k] == 0 ? 1 : 0;
        ++total;
      }
    }
    const double rate = static_cast<double>(hits) / static_cast<double>(total);
    std::printf("head %d top-1 = target: %.4f (%lld / %lld), reference %.4f\n", k, rate,
                static_cast<long long>(hits), static_cast<long long>(total), want_rates[k]);
    // Equal counts, up to 2 positions where near-tied logits may order
    // differently in another implementation.
    EXPECT_NEAR(rate, want_rates[k], 2.5 / static_cast<double>(total)) << "head " << k;
  }
  for (const auto& chain_want : want["medusa_chain"]) {
    const int32_t k = chain_want["k"];
    const engine::MedusaTree chain = Chain(k);
    std::vector<int32_t> all;
    for (const auto& r : ranks) {
      const std::vector<int32_t> s = TreeSteps(chain, r);
      all.insert(all.end(), s.begin(), s.end());
    }
    std::printf("chain k=%d: %zu steps, %.4f tokens/step (reference %d steps, %.4f)\n", k,
                all.size(), TokensPerStep(all), chain_want["steps"].get<int>(),
                chain_want["mean_tokens_per_step"].get<double>());
    EXPECT_NEAR(static_cast<double>(all.size()), chain_want["steps"].get<double>(), 2.0)
        << "k " << k;
    EXPECT_NEAR(TokensPerStep(all), chain_want["mean_tokens_per_step"].get<double>(), 1e-3);
  }
}

// The default tree's derivation (medusa_tree.cc): on greedy stories the
// target writes from 126 one-token prompts ([BOS, t], t = 259, 261, ..., 509;
// none is a held-out prompt), count for every rank path (r1, ..., rd) the
// positions where head j - 1's rank-r_j candidate is the target's token j
// ahead for every j <= d. A node's path matching is what its acceptance
// needs, so a tree's expected tokens per step is 1 + the sum of its paths'
// frequencies, and the best tree of N nodes holds the N - 1 most frequent
// paths (prefix-closed, as a path is never more frequent than its prefix).
// The default keeps every path matching at least 1% of positions: a further
// node would add less than 0.01 tokens per step.
TEST_F(MedusaGoldenTest, DefaultTreeIsThePathsMatchingOnePercentOfSelfGeneratedStories) {
  std::vector<std::vector<int32_t>> prompts;
  for (int32_t t = 259; t < 511; t += 2) prompts.push_back({1, t});
  const auto conts = target_->Greedy(prompts, 128);
  ASSERT_EQ(conts.size(), prompts.size());
  std::map<std::vector<int32_t>, int64_t> counts;
  int64_t positions = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto ranks = Ranks(prompts[i], conts[i]);
    for (size_t m = 0; m + kHeads < ranks.size(); ++m) {
      ++positions;
      std::vector<int32_t> path;
      for (int32_t k = 0; k < kHeads && ranks[m][k] < kRanks; ++k) {
        path.push_back(ranks[m][k]);
        ++counts[path];
      }
    }
  }
  std::vector<std::pair<std::vector<int32_t>, int64_t>> best(counts.begin(), counts.end());
  std::stable_sort(best.begin(), best.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string derived;
  double expected = 1.0;  // the root's token always counts
  int32_t default_nodes = 1;
  double default_expected = 1.0;
  for (size_t j = 0; j < best.size() && j < 63; ++j) {
    const double freq = static_cast<double>(best[j].second) / static_cast<double>(positions);
    const int32_t nodes = static_cast<int32_t>(j) + 2;
    expected += freq;
    if (freq >= 0.01) {
      std::string text;
      for (int32_t r : best[j].first) text += (text.empty() ? "" : ",") + std::to_string(r);
      derived += (derived.empty() ? "" : ";") + text;
      default_nodes = nodes;
      default_expected = expected;
    }
    if (nodes % 8 == 0) {
      std::printf("best %d-node tree: %.4f expected tokens/step (its last path: %.4f)\n", nodes,
                  expected, freq);
    }
  }
  std::printf("paths matching >= 1%% of positions: %d nodes, %.4f expected tokens/step\n",
              default_nodes, default_expected);
  std::printf("derived from %lld positions: %s\n", static_cast<long long>(positions),
              derived.c_str());
  const auto derived_tree = engine::ParseMedusaTree(derived, kHeads);
  ASSERT_TRUE(derived_tree.ok()) << derived_tree.status();
  const auto def = engine::ParseMedusaTree("default", kHeads);
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ(engine::MedusaTreeSpec(*def), engine::MedusaTreeSpec(*derived_tree));
}

// On the held-out prompts (not used to pick it) the default tree commits
// clearly more tokens per step than the chain of all four heads, and nearly
// as many as the best tree of its size picked on the held-out data itself.
TEST_F(MedusaGoldenTest, DefaultTreeBeatsTheChainOnHeldOutPrompts) {
  const auto prompts = HeldOutPrompts();
  const auto conts = target_->Greedy(prompts, 128);
  ASSERT_EQ(conts.size(), prompts.size());
  const engine::MedusaTree chain = Chain(kHeads);
  const absl::StatusOr<engine::MedusaTree> def = engine::ParseMedusaTree("default", kHeads);
  ASSERT_TRUE(def.ok()) << def.status();
  std::vector<int32_t> chain_steps, tree_steps;
  std::map<std::vector<int32_t>, int64_t> counts;
  int64_t positions = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto ranks = Ranks(prompts[i], conts[i]);
    for (int32_t a : TreeSteps(chain, ranks)) chain_steps.push_back(a);
    for (int32_t a : TreeSteps(*def, ranks)) tree_steps.push_back(a);
    for (size_t m = 0; m + kHeads < ranks.size(); ++m) {
      ++positions;
      std::vector<int32_t> path;
      for (int32_t k = 0; k < kHeads && ranks[m][k] < kRanks; ++k) {
        path.push_back(ranks[m][k]);
        ++counts[path];
      }
    }
  }
  std::vector<int64_t> freq;
  for (const auto& [path, c] : counts) freq.push_back(c);
  std::sort(freq.rbegin(), freq.rend());
  double oracle = 1.0, tree_expected = 1.0;
  for (int32_t j = 0; j + 1 < def->size(); ++j) {
    oracle += static_cast<double>(freq[j]) / static_cast<double>(positions);
  }
  for (int32_t j = 1; j < def->size(); ++j) {
    std::vector<int32_t> path;
    for (int32_t n = j; n > 0; n = def->parents[n]) path.insert(path.begin(), def->rank[n]);
    tree_expected += static_cast<double>(counts[path]) / static_cast<double>(positions);
  }
  const double chain_tps = TokensPerStep(chain_steps);
  const double tree_tps = TokensPerStep(tree_steps);
  std::printf(
      "held-out greedy, tokens/step: chain k=4 %.4f, default tree (%d nodes) %.4f; "
      "expected per position: default %.4f, best %d-node tree on this data %.4f\n",
      chain_tps, def->size(), tree_tps, tree_expected, def->size(), oracle);
  EXPECT_GT(tree_tps, chain_tps * 1.15);
  EXPECT_GE(tree_expected, 0.97 * oracle);
}

// The default tree verified in one target pass with tree attention
// (TreeMaskWords, AssignTreeTokens and the target's heads output): every
// node's logits equal, bit for bit, those of plain causal decoding of its
// path, and walking the tree by the target's argmax accepts exactly what
// the greedy continuation predicts.
TEST_F(MedusaGoldenTest, DefaultTreeVerifiedWithTreeAttentionEqualsPlainDecodingOfEachPath) {
  const auto tree = engine::ParseMedusaTree("default", kHeads);
  ASSERT_TRUE(tree.ok()) << tree.status();
  const std::vector<uint64_t> words = engine::TreeMaskWords(*tree);
  const int32_t n = tree->size();
  const int64_t h = target_->hidden();
  const int64_t vocab = target_->vocab();
  const auto& p = golden_["prompts"][0];
  const auto prompt = p["prompt_ids"].get<std::vector<int32_t>>();
  const auto cont = p["target_generated_ids"].get<std::vector<int32_t>>();
  const auto ranks = Ranks(prompt, cont);
  const int32_t bs = TargetModel::kBlockSize;
  int32_t total_accepted = 0;
  for (int32_t i : {0, 3, 9, 20, 41}) {
    // Context: prompt + ids 0..i-1 (L tokens); the root is id i.
    std::vector<int32_t> context = prompt;
    context.insert(context.end(), cont.begin(), cont.begin() + i);
    const int32_t len = static_cast<int32_t>(context.size());
    std::vector<float> hidden, logits;
    target_->Run(context, &hidden, &logits);  // fills the cache, blocks 0, 1, ...
    std::vector<int32_t> top(kHeads * tree->top_s);
    heads_->TopS(engine::TensorView::HostF32(hidden.data() + (len - 1) * h, {1, h}), tree->top_s,
                 top.data(), nullptr);
    std::vector<int32_t> tokens(n);
    tokens[0] = cont[i];
    engine::AssignTreeTokens(*tree, top.data(), tokens.data() + 1);

    engine::InputBatch batch;
    batch.Clear();
    const int32_t blocks = (len + n + bs - 1) / bs;
    for (int32_t j = 0; j < n; ++j) {
      batch.token_ids.push_back(tokens[j]);
      batch.positions.push_back(len + tree->depth[j]);
      batch.slot_mapping.push_back(len + j);
      batch.logits_rows.push_back(j);
      batch.tree_mask.push_back(words[j]);
    }
    batch.query_start.push_back(n);
    batch.seq_lens.push_back(len + n);
    batch.max_blocks_per_seq = blocks;
    for (int32_t b = 0; b < blocks; ++b) batch.block_tables.push_back(b);
    std::vector<float> tree_logits(static_cast<size_t>(n) * vocab);
    target_->model().Forward(batch, target_->kv(),
                             engine::TensorView::HostF32(tree_logits.data(), {n, vocab}));

    for (int32_t j = 0; j < n; ++j) {
      std::vector<int32_t> path;
      for (int32_t node = j; node >= 0; node = tree->parents[node])
        path.insert(path.begin(), tokens[node]);
      std::vector<int32_t> plain = context;
      plain.insert(plain.end(), path.begin(), path.end());
      std::vector<float> plain_hidden, plain_logits;
      target_->Run(plain, &plain_hidden, &plain_logits);
      const float* want = plain_logits.data() + (plain.size() - 1) * vocab;
      for (int64_t v = 0; v < vocab; ++v) {
        ASSERT_EQ(tree_logits[j * vocab + v], want[v]) << "step " << i << " node " << j;
      }
    }
    int32_t node = 0, accepted = 0;
    while (true) {
      const int32_t next =
          static_cast<int32_t>(kernels::Argmax(tree_logits.data() + node * vocab, vocab));
      int32_t child = -1;
      for (int32_t j = 1; j < n; ++j) {
        if (tree->parents[j] == node && tokens[j] == next) child = j;
      }
      if (child < 0) break;
      EXPECT_EQ(next, cont[i + 1 + accepted]);
      node = child;
      ++accepted;
    }
    // The ranks-based count (no verification pass) agrees.
    int32_t want = 0;
    for (int32_t at = 0; want < kHeads;) {
      int32_t child = -1;
      for (int32_t j = 1; j < n; ++j) {
        if (tree->parents[j] == at && tree->rank[j] == ranks[i][want]) child = j;
      }
      if (child < 0) break;
      at = child;
      ++want;
    }
    EXPECT_EQ(accepted, want) << "step " << i;
    total_accepted += accepted;
  }
  std::printf("tree verification at 5 steps: %d draft tokens accepted\n", total_accepted);
}

}  // namespace
}  // namespace inferd::testing
