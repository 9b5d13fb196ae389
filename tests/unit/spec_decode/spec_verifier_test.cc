// tests/unit/spec_decode/spec_verifier_test.cc — the acceptance rules case by
// case: greedy exact match against repeated Sampler::Sample calls (chains,
// trees, penalties), sampled verification with no draft against one
// Sampler::Sample call, typical acceptance at its threshold, logprobs, the
// penalty history and seeded determinism. Distributions: see
// spec_verifier_lossless_test.cc.
#include "engine/spec_decode/spec_verifier.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "engine/sampling/logprobs.h"
#include "engine/sampling/penalties.h"
#include "engine/sampling/sampler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/spec_decode/spec_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::RandomLogits;
using ::inferd::testing::Softmax;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A draft over the target's rows. rows [num_nodes, vocab].
struct Draft {
  int64_t vocab = 0;
  std::vector<float> rows;
  std::vector<int32_t> tokens;
  std::vector<int32_t> parents;
  std::vector<float> draft_probs;  // empty: deterministic
  int32_t num_nodes() const { return static_cast<int32_t>(tokens.size()) + 1; }
  std::vector<float> Row(int32_t node) const {
    return std::vector<float>(rows.begin() + node * vocab, rows.begin() + (node + 1) * vocab);
  }
};

Draft MakeDraft(int64_t vocab, std::vector<float> rows, std::vector<int32_t> tokens = {},
                std::vector<int32_t> parents = {}) {
  Draft d;
  d.vocab = vocab;
  d.rows = std::move(rows);
  d.tokens = std::move(tokens);
  d.parents = std::move(parents);
  return d;
}

// Runs the verifier on a copy of the rows (they are scratch).
SpecVerifyResult Verify(const Draft& d, const SamplingParams& params, SamplingState* state,
                        const TypicalAcceptance* typical = nullptr, bool want_logprobs = false) {
  std::vector<float> rows = d.rows;
  SpecVerifyInput in;
  in.logits = rows.data();
  in.vocab = d.vocab;
  in.tokens = d.tokens;
  in.parents = d.parents;
  in.draft_probs = d.draft_probs.empty() ? nullptr : d.draft_probs.data();
  in.params = &params;
  in.state = state;
  in.typical = typical;
  in.want_logprobs = want_logprobs;
  return VerifySpeculative(in);
}

// Rows whose greedy token (no penalties) is `argmax[j]` for row j: a logit
// of 5 there, random values in [-1, 1) elsewhere.
std::vector<float> RowsWithArgmax(const std::vector<int32_t>& argmax, int64_t vocab,
                                  uint64_t seed) {
  Rng rng(seed);
  std::vector<float> rows;
  for (int32_t a : argmax) {
    for (int64_t i = 0; i < vocab; ++i) {
      rows.push_back(i == a ? 5.0f : static_cast<float>(2 * rng.Uniform() - 1));
    }
  }
  return rows;
}

// The reference for greedy: Sampler::Sample on a copy of each row along the
// path, moving to the first child holding the sampled token.
struct Reference {
  std::vector<int32_t> path, tokens;
};
Reference GreedyReference(const Draft& d, const SamplingParams& params, SamplingState* state) {
  Reference ref;
  int32_t node = 0;
  while (true) {
    std::vector<float> row = d.Row(node);
    const int32_t x = Sampler::Sample(row.data(), d.vocab, params, state, nullptr);
    ref.tokens.push_back(x);
    int32_t next = -1;
    for (int32_t j = 1; j < d.num_nodes() && next < 0; ++j) {
      if (d.parents[j - 1] == node && d.tokens[j - 1] == x) next = j;
    }
    if (next < 0) return ref;
    ref.path.push_back(next);
    node = next;
  }
}

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

TEST(SpecVerifierTest, GreedyChainAllAcceptedGivesTheBonus) {
  Draft d = MakeDraft(6, RowsWithArgmax({2, 4, 1, 5}, 6, 1), {2, 4, 1}, {0, 1, 2});
  SamplingState state = Sampler::NewState(Greedy(), 1, {}, 6);
  const SpecVerifyResult r = Verify(d, Greedy(), &state);
  EXPECT_THAT(r.path, ElementsAre(1, 2, 3));
  EXPECT_THAT(r.tokens, ElementsAre(2, 4, 1, 5));  // 5: the bonus from the last row
  EXPECT_THAT(r.logprobs, IsEmpty());
}

TEST(SpecVerifierTest, GreedyRejectionGivesTheCorrection) {
  Draft d = MakeDraft(6, RowsWithArgmax({2, 4, 1, 5}, 6, 1), {0, 4, 1}, {0, 1, 2});
  SamplingState state = Sampler::NewState(Greedy(), 1, {}, 6);
  SpecVerifyResult r = Verify(d, Greedy(), &state);
  EXPECT_THAT(r.path, IsEmpty());
  EXPECT_THAT(r.tokens, ElementsAre(2));  // first rejected: the correction only
  d.tokens = {2, 3, 1};
  r = Verify(d, Greedy(), &state);
  EXPECT_THAT(r.path, ElementsAre(1));
  EXPECT_THAT(r.tokens, ElementsAre(2, 4));
}

TEST(SpecVerifierTest, GreedyTreeTakesTheFirstMatchingChild) {
  // Root children 1 (0), 2 (2), 3 (2, a duplicate of 2); node 4 (4) under
  // node 3, node 5 (4) under node 2, node 6 (3) under node 5. Row argmaxes:
  // root 2, node 2: 4, node 5: 1. The path is 2 -> 5, then correction 1.
  Draft d = MakeDraft(6, RowsWithArgmax({2, 0, 4, 4, 0, 1, 0}, 6, 2), {0, 2, 2, 4, 4, 3},
                      {0, 0, 0, 3, 2, 5});
  SamplingState state = Sampler::NewState(Greedy(), 1, {}, 6);
  const SpecVerifyResult r = Verify(d, Greedy(), &state);
  EXPECT_THAT(r.path, ElementsAre(2, 5));
  EXPECT_THAT(r.tokens, ElementsAre(2, 4, 1));
}

TEST(SpecVerifierTest, GreedyNoDraftIsOneSamplerCall) {
  Draft d = MakeDraft(5, {0.5f, 3.0f, 3.0f, -1.0f, 2.0f});
  SamplingState state = Sampler::NewState(Greedy(), 1, {}, 5);
  const SpecVerifyResult r = Verify(d, Greedy(), &state);
  EXPECT_THAT(r.path, IsEmpty());
  EXPECT_THAT(r.tokens, ElementsAre(1));  // ties: the lowest id
}

TEST(SpecVerifierTest, GreedyPenaltiesSeeTheAcceptedPrefix) {
  // Row 1 prefers token 3 (2.0) over token 1 (1.5). Once 3 is emitted at the
  // root, a repetition penalty of 2 makes it 1.0 < 1.5: the second draft 3
  // is rejected and 1 is the correction. Without the penalty both pass.
  std::vector<float> rows = {0, 0,    0, 4, 0,   // root: argmax 3
                             0, 1.5f, 0, 2, 0,   // node 1
                             0, 0,    0, 0, 4};  // node 2
  Draft d = MakeDraft(5, rows, {3, 3}, {0, 1});
  SamplingState plain_state = Sampler::NewState(Greedy(), 1, {}, 5);
  EXPECT_THAT(Verify(d, Greedy(), &plain_state).tokens, ElementsAre(3, 3, 4));

  SamplingParams rep = Greedy();
  rep.repetition_penalty = 2.0f;
  SamplingState rep_state = Sampler::NewState(rep, 1, {}, 5);
  const SpecVerifyResult r = Verify(d, rep, &rep_state);
  EXPECT_THAT(r.path, ElementsAre(1));
  EXPECT_THAT(r.tokens, ElementsAre(3, 1));
  EXPECT_EQ(rep_state.seen[3], 1);
  EXPECT_EQ(rep_state.seen[1], 1);

  SamplingParams presence = Greedy();
  presence.presence_penalty = 0.6f;  // 2.0 - 0.6 = 1.4 < 1.5
  SamplingState presence_state = Sampler::NewState(presence, 1, {}, 5);
  EXPECT_THAT(Verify(d, presence, &presence_state).tokens, ElementsAre(3, 1));
  EXPECT_EQ(presence_state.output_counts[3], 1);
  EXPECT_EQ(presence_state.output_counts[1], 1);
}

// Random trees, random rows (with ties), drafts that often hold the greedy
// token, every penalty: the verifier equals repeated Sampler::Sample calls,
// and leaves the same penalty history behind.
TEST(SpecVerifierTest, GreedyEqualsRepeatedSamplerCallsOnRandomTrees) {
  std::vector<SamplingParams> configs(6, Greedy());
  configs[1].repetition_penalty = 1.3f;
  configs[2].presence_penalty = 0.7f;
  configs[3].frequency_penalty = 0.4f;
  configs[3].repetition_penalty = 1.1f;
  configs[4].temperature = 0.99e-5f;  // below the sampler's greedy threshold
  configs[5].frequency_penalty = 0.5f;
  configs[5].presence_penalty = 0.2f;
  Rng rng(4242);
  int accepted_total = 0, steps = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const SamplingParams& params = configs[trial % configs.size()];
    const int64_t vocab = 3 + static_cast<int64_t>(rng.Next() % 6);
    const int32_t num_nodes = 1 + static_cast<int32_t>(rng.Next() % 10);
    Draft d;
    d.vocab = vocab;
    d.rows = RandomLogits(num_nodes * vocab, 1000 + trial, 2.0f, trial % 2 ? 0.5f : 0.0f);
    for (int32_t j = 1; j < num_nodes; ++j) {
      const int32_t parent = static_cast<int32_t>(rng.Next() % static_cast<uint64_t>(j));
      d.parents.push_back(parent);
      // Mostly the parent row's raw argmax (penalties may still reject it).
      const std::vector<float> row = d.Row(parent);
      const int32_t argmax =
          static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
      d.tokens.push_back(rng.Uniform() < 0.7 ? argmax : static_cast<int32_t>(rng.Next() % vocab));
    }
    const std::vector<int32_t> prompt = {static_cast<int32_t>(trial % vocab)};
    SamplingState state = Sampler::NewState(params, 9, prompt, vocab);
    SamplingState ref_state = Sampler::NewState(params, 9, prompt, vocab);
    const SpecVerifyResult r = Verify(d, params, &state);
    const Reference ref = GreedyReference(d, params, &ref_state);
    ASSERT_EQ(r.tokens, ref.tokens) << "trial " << trial;
    ASSERT_EQ(r.path, ref.path) << "trial " << trial;
    ASSERT_EQ(state.seen, ref_state.seen) << "trial " << trial;
    ASSERT_EQ(state.output_counts, ref_state.output_counts) << "trial " << trial;
    ASSERT_EQ(state.rng.Next(), ref_state.rng.Next()) << "greedy never draws";
    accepted_total += static_cast<int>(r.path.size());
    ++steps;
  }
  // The drafts were accepted often enough to exercise long paths.
  EXPECT_GT(accepted_total, steps);
}

// The greedy / sampled boundary is the sampler's (1e-5): just below it no
// RNG draw is made; at it, rejection sampling draws once for the child and
// once for the bonus.
TEST(SpecVerifierTest, GreedyThresholdIsTheSamplers) {
  const Draft d = MakeDraft(6, RowsWithArgmax({2, 4}, 6, 5), {2}, {0});
  for (const auto& [temperature, draws] : {std::pair<float, int>{0.99e-5f, 0}, {1e-5f, 2}}) {
    SamplingParams params;
    params.temperature = temperature;
    SamplingState state = Sampler::NewState(params, 12, {}, 6);
    const SpecVerifyResult r = Verify(d, params, &state);
    EXPECT_THAT(r.tokens, ElementsAre(2, 4)) << temperature;
    Rng ref(12);
    for (int i = 0; i < draws; ++i) ref.Next();
    EXPECT_EQ(state.rng.Next(), ref.Next()) << temperature;
  }
}

// With no draft, sampled verification is exactly one Sampler::Sample call:
// same token, same logprob, same RNG state after.
TEST(SpecVerifierTest, SampledNoDraftIsOneSamplerCall) {
  std::vector<SamplingParams> configs(4);
  configs[1].top_k = 5;
  configs[1].temperature = 0.7f;
  configs[2].top_p = 0.8f;
  configs[2].repetition_penalty = 1.2f;
  configs[3].min_p = 0.1f;
  configs[3].logprobs = 3;
  for (size_t c = 0; c < configs.size(); ++c) {
    const SamplingParams& params = configs[c];
    SamplingState state = Sampler::NewState(params, 31 + c, {1, 2}, 50);
    SamplingState ref_state = Sampler::NewState(params, 31 + c, {1, 2}, 50);
    for (int step = 0; step < 40; ++step) {
      Draft d = MakeDraft(50, RandomLogits(50, 500 + step));
      const SpecVerifyResult r = Verify(d, params, &state, nullptr, /*want_logprobs=*/true);
      std::vector<float> row = d.rows;
      TokenLogprob lp;
      const int32_t want = Sampler::Sample(row.data(), 50, params, &ref_state, &lp);
      ASSERT_THAT(r.tokens, ElementsAre(want)) << "config " << c << " step " << step;
      if (params.logprobs >= 0) {
        ASSERT_EQ(r.logprobs.size(), 1u);
        EXPECT_EQ(r.logprobs[0].token_id, lp.token_id);
        EXPECT_EQ(r.logprobs[0].logprob, lp.logprob);
        EXPECT_EQ(r.logprobs[0].top, lp.top);
      } else {
        EXPECT_THAT(r.logprobs, IsEmpty());
      }
    }
    EXPECT_EQ(state.rng.Next(), ref_state.rng.Next()) << "config " << c;
  }
}

// A chain of two drafts [7, 7] where row 1 strongly prefers 7 (logit +6):
// with a presence penalty of 50 recorded for the first 7, the second 7 has
// probability ~0 and is never accepted; without it, it usually is.
TEST(SpecVerifierTest, SampledPenaltiesSeeTheAcceptedPrefix) {
  const int64_t vocab = 10;
  std::vector<float> rows(3 * vocab, 0.0f);
  rows[0 * vocab + 7] = 6.0f;
  rows[1 * vocab + 7] = 6.0f;
  Draft d = MakeDraft(vocab, rows, {7, 7}, {0, 1});
  for (bool with_probs : {false, true}) {
    if (with_probs) d.draft_probs.assign(2 * vocab, 1.0f / vocab);  // a uniform draft
    SamplingParams penalised;
    penalised.presence_penalty = 50.0f;
    const SamplingParams plain;
    int second_seven = 0, plain_second_seven = 0, first_seven = 0;
    for (int i = 0; i < 2000; ++i) {  // fresh sequences
      SamplingState state = Sampler::NewState(penalised, 5 + i, {}, vocab);
      const SpecVerifyResult r = Verify(d, penalised, &state);
      if (r.tokens[0] == 7) ++first_seven;
      if (r.tokens.size() >= 2 && r.tokens[0] == 7 && r.tokens[1] == 7) ++second_seven;
      // Every emitted token was recorded (the counts the penalties read).
      std::vector<int32_t> counts(vocab, 0);
      for (int32_t t : r.tokens) ++counts[t];
      ASSERT_EQ(state.output_counts, counts) << with_probs;
      SamplingState plain_state = Sampler::NewState(plain, 5 + i, {}, vocab);
      const SpecVerifyResult p = Verify(d, plain, &plain_state);
      if (p.tokens.size() >= 2 && p.tokens[0] == 7 && p.tokens[1] == 7) ++plain_second_seven;
    }
    EXPECT_GT(first_seven, 1500) << with_probs;
    EXPECT_EQ(second_seven, 0) << with_probs;
    EXPECT_GT(plain_second_seven, 1000) << with_probs;
  }
}

TEST(SpecVerifierTest, LogprobsComeFromEachTokensOwnRawRow) {
  const int64_t vocab = 12;
  SamplingParams params;
  params.logprobs = 4;
  params.temperature = 0.9f;
  params.frequency_penalty = 0.3f;
  TypicalAcceptance typical;
  for (int mode = 0; mode < 4; ++mode) {  // greedy, tree, draft chain, typical
    SamplingParams p = params;
    if (mode == 0) p.temperature = 0.0f;
    SamplingState state = Sampler::NewState(p, 17, {}, vocab);
    int emitted = 0;
    for (int trial = 0; trial < 200; ++trial) {
      Draft d = MakeDraft(vocab, RandomLogits(4 * vocab, 900 + trial, 1.0f));
      d.rows[2] = std::numeric_limits<float>::quiet_NaN();  // sanitized as the sampler does
      if (mode == 2) {
        d.parents = {0, 1, 2};
        d.draft_probs.assign(3 * vocab, 1.0f / vocab);
      } else {
        d.parents = {0, 0, 1};
      }
      for (int32_t j = 0; j < 3; ++j) {
        const std::vector<float> row = d.Row(d.parents[j]);
        d.tokens.push_back(
            static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin()));
      }
      const SpecVerifyResult r =
          Verify(d, p, &state, mode == 3 ? &typical : nullptr, /*want_logprobs=*/true);
      ASSERT_EQ(r.logprobs.size(), r.tokens.size());
      for (size_t i = 0; i < r.tokens.size(); ++i) {
        const int32_t node = i == 0 ? 0 : r.path[i - 1];
        std::vector<float> row = d.Row(node);
        if (node == 0) row[2] = -std::numeric_limits<float>::infinity();
        TokenLogprob want;
        FillLogprobs(row.data(), vocab, r.tokens[i], 4, &want);
        EXPECT_EQ(r.logprobs[i].token_id, r.tokens[i]);
        EXPECT_EQ(r.logprobs[i].logprob, want.logprob) << "mode " << mode << " token " << i;
        EXPECT_EQ(r.logprobs[i].top, want.top) << "mode " << mode << " token " << i;
      }
      emitted += static_cast<int>(r.tokens.size());
    }
    EXPECT_GT(emitted, 200) << "mode " << mode << ": some drafts accepted";
  }
}

TEST(SpecVerifierTest, SameSeedSameResultsDifferentSeedsDiffer) {
  const int64_t vocab = 20;
  SamplingParams params;
  params.top_k = 10;
  params.repetition_penalty = 1.1f;
  auto run = [&](uint64_t seed, bool with_probs) {
    SamplingState state = Sampler::NewState(params, seed, {3}, vocab);
    std::vector<int32_t> all;
    for (int trial = 0; trial < 300; ++trial) {
      Draft d = MakeDraft(vocab, RandomLogits(4 * vocab, trial, 1.0f), {1, 2, 3});
      d.parents = with_probs ? std::vector<int32_t>{0, 1, 2} : std::vector<int32_t>{0, 0, 1};
      if (with_probs) {
        const std::vector<double> q = Softmax(RandomLogits(vocab, 77, 1.0f));
        for (int j = 0; j < 3; ++j) {
          for (double v : q) d.draft_probs.push_back(static_cast<float>(v));
        }
      }
      const SpecVerifyResult r = Verify(d, params, &state);
      all.insert(all.end(), r.tokens.begin(), r.tokens.end());
      all.push_back(-1);
    }
    return all;
  };
  for (bool with_probs : {false, true}) {
    const std::vector<int32_t> a = run(123, with_probs);
    EXPECT_EQ(run(123, with_probs), a);
    EXPECT_NE(run(124, with_probs), a);
  }
}

// Typical acceptance: p(x) > min(epsilon, delta * exp(-H)). Rows at T = 0.7
// with the candidate's probability a relative 1e-4 above or below the
// threshold, set through epsilon (delta huge) or through delta (epsilon 1).
TEST(SpecVerifierTest, TypicalAcceptsOnlyAboveTheThreshold) {
  const int64_t vocab = 6;
  SamplingParams params;
  params.temperature = 0.7f;
  const std::vector<float> root = {0.3f, 1.2f, -0.4f, 0.9f, -2.0f, 0.1f};
  const std::vector<double> p = Softmax(root, 0.7);
  double entropy = 0;
  for (double x : p) entropy -= x * std::log(x);
  for (int32_t candidate : {1, 3, 4}) {
    Draft d = MakeDraft(vocab, {}, {candidate}, {0});
    d.rows = root;
    d.rows.insert(d.rows.end(), root.begin(), root.end());
    for (double margin : {1e-4, -1e-4}) {
      const bool above = margin > 0;  // p(candidate) above the threshold
      const double threshold = p[candidate] * (1 - margin);
      for (bool through_epsilon : {true, false}) {
        TypicalAcceptance typical;
        if (through_epsilon) {
          typical.epsilon = static_cast<float>(threshold);
          typical.delta = 1e6f;
        } else {
          typical.epsilon = 1.0f;
          typical.delta = static_cast<float>(threshold / std::exp(-entropy));
        }
        SamplingState state = Sampler::NewState(params, 3, {}, vocab);
        const SpecVerifyResult r = Verify(d, params, &state, &typical);
        EXPECT_EQ(r.path.size(), above ? 1u : 0u)
            << "candidate " << candidate << " p " << p[candidate] << " margin " << margin
            << (through_epsilon ? " (epsilon)" : " (delta)");
        EXPECT_EQ(r.tokens.size(), above ? 2u : 1u);
        if (above) {
          EXPECT_EQ(r.tokens[0], candidate);
        }
      }
    }
  }
}

// Rows that put ~1/2 on tokens 1 and 2 each and ~1e-11 elsewhere: H ~ ln 2,
// so the threshold is min(0.09, 0.3 / 2) = 0.09; 1 and 2 pass, others fail.
std::vector<float> TwoTokenRows(int32_t num_nodes, int64_t vocab) {
  std::vector<float> rows;
  for (int32_t node = 0; node < num_nodes; ++node) {
    for (int64_t i = 0; i < vocab; ++i) rows.push_back(i == 1 || i == 2 ? 5.0f : -20.0f);
  }
  return rows;
}

// Over a tree, the deepest node whose whole path passes wins (ties: lowest
// index); a rejected node's subtree is out whatever its own probabilities;
// the final token is Sampler::Sample on the winner's row after the path.
TEST(SpecVerifierTest, TypicalKeepsTheLongestAcceptedPath) {
  const int64_t vocab = 6;
  // node (token) under parent: 1 (1) 0, 2 (2) 0, 3 (4) 0 fails, 4 (2) 2,
  // 5 (1) 3, 6 (1) 5 — under the rejected 3, out though they pass their
  // rows —, 7 (2) 4, 8 (1) 1, 9 (3) 8 fails, 10 (1) 8. Depth 3: 7
  // (2 -> 4 -> 7) and 10 (1 -> 8 -> 10); 6 would be, were 3 accepted.
  Draft d = MakeDraft(vocab, TwoTokenRows(11, vocab), {1, 2, 4, 2, 1, 1, 2, 1, 3, 1},
                      {0, 0, 0, 2, 3, 5, 4, 1, 8, 8});
  SamplingParams params;
  params.temperature = 1.0f;
  params.frequency_penalty = 0.01f;  // small: the final draw sees the path's history
  const TypicalAcceptance typical;   // epsilon 0.09, delta 0.3
  SamplingState state = Sampler::NewState(params, 8, {}, vocab);
  const SpecVerifyResult r = Verify(d, params, &state, &typical);
  EXPECT_THAT(r.path, ElementsAre(2, 4, 7));

  SamplingState ref = Sampler::NewState(params, 8, {}, vocab);
  for (int32_t t : {2, 2, 2}) RecordToken(t, vocab, params, &ref);
  std::vector<float> last = d.Row(7);
  const int32_t want = Sampler::Sample(last.data(), vocab, params, &ref, nullptr);
  EXPECT_THAT(r.tokens, ElementsAre(2, 2, 2, want));
  EXPECT_EQ(state.output_counts, ref.output_counts);
  EXPECT_EQ(state.rng.Next(), ref.rng.Next()) << "one draw: the final token";
}

// Penalties at a node see exactly its own path: with a presence penalty of
// 10, token 1 fails right after a 1 and passes right after a 2.
TEST(SpecVerifierTest, TypicalPenaltiesFollowEachPath) {
  const int64_t vocab = 6;
  // node (token) under parent: 1 (1) 0, 2 (2) 0, 3 (1) 1, 4 (1) 2.
  Draft d = MakeDraft(vocab, TwoTokenRows(5, vocab), {1, 2, 1, 1}, {0, 0, 1, 2});
  const TypicalAcceptance typical;
  const SamplingParams plain;
  SamplingState plain_state = Sampler::NewState(plain, 2, {}, vocab);
  EXPECT_THAT(Verify(d, plain, &plain_state, &typical).path, ElementsAre(1, 3));  // lower index
  SamplingParams presence;
  presence.presence_penalty = 10.0f;
  SamplingState state = Sampler::NewState(presence, 2, {}, vocab);
  const SpecVerifyResult r = Verify(d, presence, &state, &typical);
  EXPECT_THAT(r.path, ElementsAre(2, 4));  // 3 (1 after 1) fails; 4 (1 after 2) passes
  EXPECT_EQ(state.output_counts[2], 1 + (r.tokens[2] == 2 ? 1 : 0));
}

TEST(SpecVerifierTest, TypicalIsIgnoredWhenGreedy) {
  Draft d = MakeDraft(6, RowsWithArgmax({2, 4, 1}, 6, 3), {2, 3}, {0, 1});
  const TypicalAcceptance typical{.epsilon = 0.0f, .delta = 0.0f};  // would accept anything
  SamplingState state = Sampler::NewState(Greedy(), 1, {}, 6);
  const SpecVerifyResult r = Verify(d, Greedy(), &state, &typical);
  EXPECT_THAT(r.path, ElementsAre(1));
  EXPECT_THAT(r.tokens, ElementsAre(2, 4));
}

TEST(SpecVerifierDeathTest, DraftProbsNeedAChain) {
  Draft d = MakeDraft(4, std::vector<float>(12, 0.0f), {1, 2}, {0, 0});
  d.draft_probs.assign(8, 0.25f);
  SamplingParams params;
  SamplingState state = Sampler::NewState(params, 1, {}, 4);
  EXPECT_DEATH(Verify(d, params, &state), "draft_probs requires a chain");
}

TEST(SpecVerifierDeathTest, MalformedDraftsAbort) {
  SamplingParams params;
  SamplingState state = Sampler::NewState(params, 1, {}, 4);
  Draft forward = MakeDraft(4, std::vector<float>(12, 0.0f), {1, 2}, {0, 2});
  EXPECT_DEATH(Verify(forward, params, &state), "node 2 has parent 2");
  Draft outside = MakeDraft(4, std::vector<float>(8, 0.0f), {4}, {0});
  EXPECT_DEATH(Verify(outside, params, &state), "outside the vocabulary");
}

}  // namespace
}  // namespace inferd::engine
