// tests/unit/spec_decode/spec_verifier_lossless_test.cc — rejection sampling
// is lossless: over 200,000 seeded speculative steps on an 8-token toy
// model, the first two emitted tokens are distributed as the target's
// (chi-square, p-value > 1e-4), for a sampling draft model (chain with q)
// and for deterministic proposals (one child; a tree with 3 children), with
// and without temperature / top-k / top-p / min-p. The same harness rejects
// deliberately wrong rules, so the test can fail.
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/sampling/candidate_set.h"
#include "engine/sampling/sampler.h"
#include "engine/spec_decode/spec_verifier.h"
#include "gtest/gtest.h"
#include "tests/unit/spec_decode/spec_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::ChiSquare;
using ::inferd::testing::ChiSquareCritical;
using ::inferd::testing::ChiSquarePValue;
using ::inferd::testing::ChiSquareResult;
using ::inferd::testing::DrawFrom;
using ::inferd::testing::NaiveTargetProbs;
using ::inferd::testing::RandomLogits;
using ::inferd::testing::Softmax;
using ::inferd::testing::ToyModel;

constexpr int64_t kVocab = 8;
constexpr int kDraws = 200000;
// Significance: a correct rule fails with probability 1e-4 per check (and
// never, with these fixed seeds); a wrong one is caught far below it.
constexpr double kAlpha = 1e-4;

// One speculative step of a sequence at the empty prefix.
struct Problem {
  std::vector<float> rows;         // [num_nodes, vocab] target logits
  std::vector<int32_t> tokens;     // [num_nodes - 1]
  std::vector<int32_t> parents;    // [num_nodes - 1]
  std::vector<float> draft_probs;  // [num_nodes - 1, vocab]; empty: deterministic
  int32_t num_nodes() const { return static_cast<int32_t>(tokens.size()) + 1; }
  const float* Row(int32_t node) const { return rows.data() + node * kVocab; }
};

// Emits the step's tokens, advancing `state`.
using VerifyFn =
    std::function<std::vector<int32_t>(Problem*, const SamplingParams&, SamplingState*)>;

std::vector<int32_t> RealVerify(Problem* problem, const SamplingParams& params,
                                SamplingState* state) {
  SpecVerifyInput in;
  in.logits = problem->rows.data();
  in.vocab = kVocab;
  in.tokens = problem->tokens;
  in.parents = problem->parents;
  in.draft_probs = problem->draft_probs.empty() ? nullptr : problem->draft_probs.data();
  in.params = &params;
  in.state = state;
  return VerifySpeculative(in).tokens;
}

// Rows of the target along a fixed tree: row j = logits after node j's path.
Problem TreeProblem(const ToyModel& target, std::vector<int32_t> tokens,
                    std::vector<int32_t> parents) {
  Problem problem;
  problem.tokens = std::move(tokens);
  problem.parents = std::move(parents);
  for (int32_t node = 0; node < problem.num_nodes(); ++node) {
    std::vector<int32_t> prefix;
    for (int32_t a = node; a != 0; a = problem.parents[a - 1]) {
      prefix.insert(prefix.begin(), problem.tokens[a - 1]);
    }
    const std::vector<float> row = target.Logits(prefix);
    problem.rows.insert(problem.rows.end(), row.begin(), row.end());
  }
  return problem;
}

// Draws a chain of `length` (1 or 2) tokens from the draft model
// (temperature 1) and attaches the target's rows and the draft's
// distributions. With length 1, the bonus is the second token.
Problem SampledDraftChain(const ToyModel& target, const ToyModel& draft, int length,
                          Rng* draft_rng) {
  std::vector<int32_t> tokens, parents;
  std::vector<float> draft_probs;
  for (int32_t j = 0; j < length; ++j) {
    const std::vector<double> q = Softmax(draft.Logits(tokens));
    for (double v : q) draft_probs.push_back(static_cast<float>(v));
    tokens.push_back(DrawFrom(q, draft_rng->Uniform()));
    parents.push_back(j);
  }
  Problem problem = TreeProblem(target, tokens, parents);
  problem.draft_probs = std::move(draft_probs);
  return problem;
}

struct Outcome {
  std::vector<int64_t> first;      // [vocab] counts of the first emitted token
  std::vector<int64_t> first_two;  // [vocab * vocab] counts of (first, second)
  int64_t steps_with_accepts = 0;  // steps that emitted 2 tokens or more
};

// Runs kDraws sequences: one speculative step from `make`, then (if it
// emitted a single token) one plain Sampler step after it, so every sequence
// has two tokens, as generation would give them.
Outcome RunSequences(const ToyModel& target, const std::function<Problem(Rng*)>& make,
                     const VerifyFn& verify, const SamplingParams& params, uint64_t seed) {
  Outcome out;
  out.first.assign(kVocab, 0);
  out.first_two.assign(kVocab * kVocab, 0);
  SamplingState state = Sampler::NewState(params, seed, {}, kVocab);
  Rng draft_rng(seed ^ 0x5eed);
  for (int i = 0; i < kDraws; ++i) {
    Problem problem = make(&draft_rng);
    std::vector<int32_t> emitted = verify(&problem, params, &state);
    if (emitted.size() >= 2) {
      ++out.steps_with_accepts;
    } else {
      std::vector<float> row = target.Logits({emitted[0]});
      emitted.push_back(Sampler::Sample(row.data(), kVocab, params, &state, nullptr));
    }
    ++out.first[emitted[0]];
    ++out.first_two[emitted[0] * kVocab + emitted[1]];
  }
  return out;
}

struct Verdict {
  ChiSquareResult first, first_two;
  double accept_rate = 0;
};

Verdict Judge(const ToyModel& target, const Outcome& outcome, const SamplingParams& params) {
  const std::vector<double> p0 = NaiveTargetProbs(target.Logits({}), params);
  std::vector<double> joint(kVocab * kVocab, 0.0);
  for (int32_t a = 0; a < kVocab; ++a) {
    const std::vector<double> p1 = NaiveTargetProbs(target.Logits({a}), params);
    for (int32_t b = 0; b < kVocab; ++b) joint[a * kVocab + b] = p0[a] * p1[b];
  }
  Verdict v;
  v.first = ChiSquare(outcome.first, p0);
  v.first_two = ChiSquare(outcome.first_two, joint);
  v.accept_rate = static_cast<double>(outcome.steps_with_accepts) / kDraws;
  return v;
}

void ExpectLossless(const Verdict& v) {
  EXPECT_EQ(v.first.impossible, 0) << "tokens the target gives probability 0";
  EXPECT_EQ(v.first_two.impossible, 0) << "pairs the target gives probability 0";
  EXPECT_GT(v.first.p_value, kAlpha)
      << "first token: chi2 " << v.first.stat << " df " << v.first.df << " (critical "
      << ChiSquareCritical(v.first.df, kAlpha) << ")";
  EXPECT_GT(v.first_two.p_value, kAlpha)
      << "first two tokens: chi2 " << v.first_two.stat << " df " << v.first_two.df << " (critical "
      << ChiSquareCritical(v.first_two.df, kAlpha) << ")";
  // Both branches (accept, reject) must have been exercised.
  EXPECT_GT(v.accept_rate, 0.02);
  EXPECT_LT(v.accept_rate, 0.98);
}

std::vector<std::pair<std::string, SamplingParams>> Variants() {
  std::vector<std::pair<std::string, SamplingParams>> out;
  SamplingParams p;
  out.emplace_back("T1", p);
  p.temperature = 0.8f;
  p.top_k = 3;
  out.emplace_back("T0.8 top_k 3", p);
  p = SamplingParams();
  p.top_p = 0.7f;
  out.emplace_back("top_p 0.7", p);
  p = SamplingParams();
  p.temperature = 1.3f;
  p.top_k = 5;
  p.top_p = 0.9f;
  p.min_p = 0.1f;
  out.emplace_back("T1.3 top_k 5 top_p 0.9 min_p 0.1", p);
  return out;
}

const ToyModel& Target() {
  static const ToyModel model(kVocab, 11, 1.5f);
  return model;
}
const ToyModel& Draft() {  // a different model: q differs from p everywhere
  static const ToyModel model(kVocab, 29, 1.5f);
  return model;
}

// Ids of the draft's `n` best tokens after `prefix` (a top-s proposer).
std::vector<int32_t> DraftTop(const std::vector<int32_t>& prefix, int n) {
  const std::vector<float> logits = Draft().Logits(prefix);
  std::vector<int32_t> ids(kVocab);
  for (int32_t i = 0; i < kVocab; ++i) ids[i] = i;
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  ids.resize(n);
  return ids;
}

// One deterministic child: the draft's argmax.
Problem SingleChild() { return TreeProblem(Target(), {DraftTop({}, 1)[0]}, {0}); }

// A tree: the root's 3 children are the draft's top 3; child 1 and child 3
// get the draft's argmax after them; child 2 gets the draft's top 2.
Problem ThreeChildTree() {
  const std::vector<int32_t> top = DraftTop({}, 3);
  const std::vector<int32_t> after1 = DraftTop({top[0]}, 1);
  const std::vector<int32_t> after2 = DraftTop({top[1]}, 2);
  const std::vector<int32_t> after3 = DraftTop({top[2]}, 1);
  return TreeProblem(Target(), {top[0], top[1], top[2], after1[0], after2[0], after2[1], after3[0]},
                     {0, 0, 0, 1, 2, 2, 3});
}

// Runs the real verifier over every variant, expects losslessness and
// prints the figures.
void CheckEveryVariant(const char* label, const std::function<Problem(Rng*)>& make, uint64_t seed) {
  for (const auto& [name, params] : Variants()) {
    SCOPED_TRACE(::testing::Message() << label << ", " << name);
    const Verdict v =
        Judge(Target(), RunSequences(Target(), make, RealVerify, params, ++seed), params);
    ExpectLossless(v);
    std::printf(
        "%-14s %-34s first: chi2 %6.2f df %2d p %.3f | pairs: chi2 %6.2f df %2d p %.3f | "
        "steps accepting >= 1: %.3f\n",
        label, name.c_str(), v.first.stat, v.first.df, v.first.p_value, v.first_two.stat,
        v.first_two.df, v.first_two.p_value, v.accept_rate);
  }
}

TEST(SpecVerifierLosslessTest, DraftModelChainMatchesTheTarget) {
  CheckEveryVariant(
      "draft chain k2", [](Rng* rng) { return SampledDraftChain(Target(), Draft(), 2, rng); }, 100);
  // k = 1: the second token is the bonus whenever the draft is accepted.
  CheckEveryVariant(
      "draft chain k1", [](Rng* rng) { return SampledDraftChain(Target(), Draft(), 1, rng); }, 150);
}

TEST(SpecVerifierLosslessTest, DeterministicSingleChildMatchesTheTarget) {
  const Problem fixed = SingleChild();
  CheckEveryVariant(
      "single child", [&fixed](Rng*) { return fixed; }, 200);
}

TEST(SpecVerifierLosslessTest, DeterministicTreeMatchesTheTarget) {
  const Problem fixed = ThreeChildTree();
  CheckEveryVariant(
      "3-child tree", [&fixed](Rng*) { return fixed; }, 300);
}

// --- The same harness against deliberately wrong rules (test code). ---

enum class Bug {
  // Draft-model chains:
  kAcceptWithP,         // accept x with probability p(x) instead of min(1, p(x)/q(x))
  kResampleFromTarget,  // on rejection draw from p, not normalize(max(0, p - q))
  kPointMassResidual,   // on rejection draw from p without x (the deterministic rule)
  // Deterministic trees:
  kNoResidual,       // accept each child with p(c); all rejected: draw from p
  kNoRenormalising,  // accept each child with r(c), the residual not renormalised
};

const char* BugName(Bug bug) {
  switch (bug) {
    case Bug::kAcceptWithP:
      return "accept with p(x)";
    case Bug::kResampleFromTarget:
      return "resample from p";
    case Bug::kPointMassResidual:
      return "point-mass residual";
    case Bug::kNoResidual:
      return "no residual";
    case Bug::kNoRenormalising:
      return "residual not renormalised";
  }
  return "?";
}

std::vector<int32_t> BuggyVerify(Bug bug, Problem* problem, const SamplingParams& params,
                                 SamplingState* state) {
  std::vector<int32_t> out;
  int32_t node = 0;
  while (true) {
    const std::vector<float> row(problem->Row(node), problem->Row(node) + kVocab);
    const std::vector<double> p = NaiveTargetProbs(row, params);
    std::vector<double> residual = p;  // unnormalised
    int32_t accepted = -1;
    for (int32_t c = node + 1; c < problem->num_nodes() && accepted < 0; ++c) {
      if (problem->parents[c - 1] != node) continue;
      const int32_t x = problem->tokens[c - 1];
      const double u = state->rng.Uniform();
      if (!problem->draft_probs.empty()) {  // a chain with q
        const float* q = problem->draft_probs.data() + (c - 1) * kVocab;
        if (bug == Bug::kAcceptWithP ? u < p[x] : u * q[x] < p[x]) {
          accepted = c;
        } else if (bug == Bug::kPointMassResidual) {
          residual[x] = 0;
        } else if (bug != Bug::kResampleFromTarget) {
          for (int64_t i = 0; i < kVocab; ++i) residual[i] = std::max(0.0, p[i] - q[i]);
        }
        continue;
      }
      double total = 0;
      for (double r : residual) total += r;
      if (bug == Bug::kNoResidual ? u < p[x] : u < residual[x]) {  // (right: u * total < r[x])
        accepted = c;
      } else if (bug == Bug::kNoRenormalising) {
        residual[x] = 0;
      }
    }
    if (accepted < 0) {
      double total = 0;
      for (double r : residual) total += r;
      for (double& r : residual) r /= total;
      out.push_back(DrawFrom(residual, state->rng.Uniform()));
      return out;
    }
    out.push_back(problem->tokens[accepted - 1]);
    node = accepted;
  }
}

TEST(SpecVerifierLosslessTest, TheHarnessRejectsWrongRules) {
  const SamplingParams params;  // temperature 1, no filters
  const auto chain = [](Rng* rng) { return SampledDraftChain(Target(), Draft(), 2, rng); };
  const Problem tree = ThreeChildTree();
  const auto fixed_tree = [&tree](Rng*) { return tree; };
  uint64_t seed = 400;
  for (Bug bug : {Bug::kAcceptWithP, Bug::kResampleFromTarget, Bug::kPointMassResidual,
                  Bug::kNoResidual, Bug::kNoRenormalising}) {
    const bool on_chain = bug == Bug::kAcceptWithP || bug == Bug::kResampleFromTarget ||
                          bug == Bug::kPointMassResidual;
    const auto verify = [bug](Problem* pr, const SamplingParams& sp, SamplingState* st) {
      return BuggyVerify(bug, pr, sp, st);
    };
    const Verdict v =
        Judge(Target(),
              RunSequences(Target(), on_chain ? std::function<Problem(Rng*)>(chain) : fixed_tree,
                           verify, params, ++seed),
              params);
    // Caught by the first token alone or by the pairs.
    EXPECT_LT(std::min(v.first.p_value, v.first_two.p_value), kAlpha) << BugName(bug);
    std::printf(
        "wrong rule %-26s first: chi2 %9.1f df %d p %.3g | pairs: chi2 %9.1f df %d p %.3g\n",
        BugName(bug), v.first.stat, v.first.df, v.first.p_value, v.first_two.stat, v.first_two.df,
        v.first_two.p_value);
  }
}

// The chi-square p-value against closed forms: df = 2k has
// Q = exp(-x/2) sum_{i<k} (x/2)^i / i!, df = 1 has erfc(sqrt(x/2)); and
// against printed table critical values.
TEST(SpecVerifierLosslessTest, ChiSquarePValueIsExact) {
  for (int k : {1, 4, 32}) {
    for (double x : {0.5, 3.0, 10.0, 60.0, 150.0}) {
      double term = 1, sum = 0;
      for (int i = 0; i < k; ++i) {
        sum += term;
        term *= (x / 2) / (i + 1);
      }
      const double expected = std::exp(-x / 2) * sum;
      EXPECT_NEAR(ChiSquarePValue(x, 2 * k), expected, 1e-10 * expected + 1e-300)
          << "df " << 2 * k << " x " << x;
    }
  }
  for (double x : {0.1, 1.0, 3.84, 20.0}) {
    EXPECT_NEAR(ChiSquarePValue(x, 1), std::erfc(std::sqrt(x / 2)), 1e-12) << x;
  }
  EXPECT_NEAR(ChiSquareCritical(1, 0.05), 3.841, 1e-3);
  EXPECT_NEAR(ChiSquareCritical(7, 0.001), 24.322, 1e-3);
  EXPECT_NEAR(ChiSquareCritical(10, 0.01), 23.209, 1e-3);
}

// The accessor the verifier builds p from: CandidateSet::FillProbabilities
// against the definition, over filters and vocabularies (ties included).
TEST(SpecVerifierLosslessTest, FillProbabilitiesIsTheSamplersDistribution) {
  CandidateSet set;
  for (int64_t vocab : {1, 2, 7, 100, 1000}) {
    for (float quantum : {0.0f, 0.5f}) {
      const std::vector<float> logits = RandomLogits(vocab, 77 + vocab, 3.0f, quantum);
      for (float t : {0.5f, 1.0f, 2.0f}) {
        for (int32_t k : {0, 1, 5, 200}) {
          for (float top_p : {1.0f, 0.9f, 0.3f}) {
            for (float min_p : {0.0f, 0.05f}) {
              SamplingParams params;
              params.temperature = t;
              params.top_k = k;
              params.top_p = top_p;
              params.min_p = min_p;
              set.Reset(logits.data(), vocab, t, k);
              set.TopP(top_p);
              set.MinP(min_p);
              std::vector<double> got(vocab, -1.0);
              set.FillProbabilities(vocab, got.data());
              const std::vector<double> want = NaiveTargetProbs(logits, params);
              for (int64_t i = 0; i < vocab; ++i) {
                ASSERT_NEAR(got[i], want[i], 1e-12)
                    << "vocab " << vocab << " quantum " << quantum << " T " << t << " k " << k
                    << " top_p " << top_p << " min_p " << min_p << " id " << i;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace inferd::engine
