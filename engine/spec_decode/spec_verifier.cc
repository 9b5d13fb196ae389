// engine/spec_decode/spec_verifier.cc — greedy exact match, lossless
// rejection sampling (deterministic proposals over a tree; a sampling draft
// model over a chain) and Medusa's typical acceptance.
#include "engine/spec_decode/spec_verifier.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "common/check.h"
#include "engine/sampling/candidate_set.h"
#include "engine/sampling/logprobs.h"
#include "engine/sampling/penalties.h"
#include "kernels/ops.h"

namespace inferd::engine {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Per-thread buffers, reused across calls (the engine thread verifies one
// sequence at a time).
struct Scratch {
  std::vector<float> penalised;  // [vocab] a row after penalties
  std::vector<double> p;         // [vocab] the target distribution at a node
  std::vector<double> r;         // [vocab] the residual of rejection sampling
  CandidateSet candidates;
  // Typical acceptance:
  SamplingState path_state{0};    // the penalty history along one tree path
  std::vector<int32_t> path;      // [depth] that path's tokens, leaf first
  std::vector<uint8_t> accepted;  // [num_nodes] the node and its ancestors pass
  std::vector<int32_t> depth;     // [num_nodes]
};

Scratch& ThreadScratch(int64_t vocab) {
  thread_local Scratch scratch;
  scratch.penalised.resize(static_cast<size_t>(vocab));
  scratch.p.resize(static_cast<size_t>(vocab));
  scratch.r.resize(static_cast<size_t>(vocab));
  return scratch;
}

// A verification in progress: the input, the output and the tree's shape.
class Walk {
 public:
  Walk(const SpecVerifyInput& in, SpecVerifyResult* out)
      : in_(in),
        out_(out),
        num_nodes_(static_cast<int32_t>(in.tokens.size()) + 1),
        want_logprobs_(in.want_logprobs && in.params->logprobs >= 0),
        scratch_(ThreadScratch(in.vocab)) {}

  void Greedy();
  void RejectDeterministic();
  void RejectWithDraftProbs();
  void Typical();

 private:
  float* Row(int32_t node) const { return in_.logits + static_cast<int64_t>(node) * in_.vocab; }
  // Applies the constraint's mask to `node`'s row (the constraint sits at
  // the accepted path's end, which is `node`).
  void MaskRow(int32_t node) const {
    if (in_.constraint != nullptr) in_.constraint->Mask(Row(node), in_.vocab);
  }
  bool ConstraintDone() const { return in_.constraint != nullptr && in_.constraint->Done(); }
  int32_t Token(int32_t node) const { return in_.tokens[node - 1]; }
  int32_t Parent(int32_t node) const { return in_.parents[node - 1]; }
  // The first child of `node` after `after` (index order), or -1. Draft
  // trees are small; a scan keeps the walk allocation-free.
  int32_t NextChild(int32_t node, int32_t after) const {
    for (int32_t j = std::max(after, node) + 1; j < num_nodes_; ++j) {
      if (Parent(j) == node) return j;
    }
    return -1;
  }

  // Draws the next token from `node`'s row with Sampler::Sample (which
  // records it and fills its logprob) and emits it.
  int32_t EmitSampled(int32_t node);
  // Emits `token` as chosen at `node` (its row, sanitized, must still hold
  // the raw logits): logprob from that row, recorded in the state.
  void EmitChosen(int32_t node, int32_t token);
  // scratch_.p = the distribution Sampler::Sample draws from at `node`
  // given `state`'s history. Sanitizes the row in place.
  void TargetProbs(int32_t node, const SamplingState& state);
  // scratch_.p = softmax(penalised row / temperature) over the whole
  // vocabulary; returns its entropy (nats). Sanitizes the row in place.
  double TemperedSoftmax(int32_t node, const SamplingState& state);

  const SpecVerifyInput& in_;
  SpecVerifyResult* out_;
  const int32_t num_nodes_;
  const bool want_logprobs_;
  Scratch& scratch_;
};

// Inverse CDF over `w` [vocab] (unnormalised, total > 0) in id order: the
// first id whose running weight exceeds u * total; rounding past the end
// gives the last id of positive weight.
int32_t DrawDense(const double* w, int64_t vocab, double total, double u) {
  const double target = u * total;
  double cum = 0;
  int32_t last = -1;
  for (int64_t i = 0; i < vocab; ++i) {
    if (!(w[i] > 0)) continue;
    cum += w[i];
    last = static_cast<int32_t>(i);
    if (cum > target) return last;
  }
  return last;
}

double Sum(const double* w, int64_t vocab) {
  double s = 0;
  for (int64_t i = 0; i < vocab; ++i) s += w[i];
  return s;
}

int32_t Walk::EmitSampled(int32_t node) {
  TokenLogprob lp;
  const int32_t token =
      Sampler::Sample(Row(node), in_.vocab, *in_.params, in_.state, want_logprobs_ ? &lp : nullptr);
  out_->tokens.push_back(token);
  if (want_logprobs_) out_->logprobs.push_back(std::move(lp));
  if (in_.constraint != nullptr) in_.constraint->Accept(token);
  return token;
}

void Walk::EmitChosen(int32_t node, int32_t token) {
  out_->tokens.push_back(token);
  if (want_logprobs_) {
    FillLogprobs(Row(node), in_.vocab, token, in_.params->logprobs, &out_->logprobs.emplace_back());
  }
  RecordToken(token, in_.vocab, *in_.params, in_.state);
  if (in_.constraint != nullptr) in_.constraint->Accept(token);
}

void Walk::TargetProbs(int32_t node, const SamplingState& state) {
  const SamplingParams& params = *in_.params;
  float* row = Row(node);
  Sampler::SanitizeLogits(row, in_.vocab);
  float* penalised = scratch_.penalised.data();
  std::copy(row, row + in_.vocab, penalised);
  ApplyPenalties(penalised, in_.vocab, params, state);
  CandidateSet& set = scratch_.candidates;
  set.Reset(penalised, in_.vocab, params.temperature, params.top_k);
  if (set.size() == 0) {
    // Every logit -inf: the sampler takes the argmax (token 0), a point mass.
    std::fill(scratch_.p.begin(), scratch_.p.end(), 0.0);
    scratch_.p[kernels::Argmax(penalised, in_.vocab)] = 1.0;
    return;
  }
  set.TopP(params.top_p);
  set.MinP(params.min_p);
  set.FillProbabilities(in_.vocab, scratch_.p.data());
}

double Walk::TemperedSoftmax(int32_t node, const SamplingState& state) {
  float* row = Row(node);
  Sampler::SanitizeLogits(row, in_.vocab);
  float* penalised = scratch_.penalised.data();
  std::copy(row, row + in_.vocab, penalised);
  ApplyPenalties(penalised, in_.vocab, *in_.params, state);
  double* p = scratch_.p.data();
  const float max_logit = *std::max_element(penalised, penalised + in_.vocab);
  if (!(max_logit > kNegInf)) {  // every logit -inf: the sampler's point mass on 0
    std::fill(p, p + in_.vocab, 0.0);
    p[0] = 1.0;
    return 0.0;
  }
  const double inv_t = 1.0 / static_cast<double>(in_.params->temperature);
  double z = 0;
  for (int64_t i = 0; i < in_.vocab; ++i) {
    p[i] = std::exp((static_cast<double>(penalised[i]) - max_logit) * inv_t);
    z += p[i];
  }
  double entropy = 0;
  for (int64_t i = 0; i < in_.vocab; ++i) {
    p[i] /= z;
    if (p[i] > 0) entropy -= p[i] * std::log(p[i]);
  }
  return entropy;
}

void Walk::Greedy() {
  int32_t node = 0;
  while (true) {
    MaskRow(node);
    const int32_t x = EmitSampled(node);  // greedy: the argmax, no RNG draw
    int32_t next = -1;
    for (int32_t c = NextChild(node, -1); c >= 0; c = NextChild(node, c)) {
      if (Token(c) == x) {
        next = c;
        break;
      }
    }
    if (next < 0) return;  // x was the correction or the bonus
    out_->path.push_back(next);
    if (ConstraintDone()) return;  // nothing may follow x
    node = next;
  }
}

void Walk::RejectDeterministic() {
  const int64_t vocab = in_.vocab;
  int32_t node = 0;
  while (true) {
    MaskRow(node);
    int32_t child = NextChild(node, -1);
    if (child < 0) {  // a leaf: the bonus, exactly a Sampler::Sample draw
      EmitSampled(node);
      return;
    }
    TargetProbs(node, *in_.state);
    double* r = scratch_.r.data();
    std::copy(scratch_.p.begin(), scratch_.p.end(), r);
    double total = Sum(r, vocab);
    int32_t accepted = -1;
    for (; child >= 0; child = NextChild(node, child)) {
      const int32_t x = Token(child);
      // Accept with probability r(x) / total: the residual renormalised.
      if (in_.state->rng.Uniform() * total < r[x]) {
        accepted = child;
        break;
      }
      total -= r[x];
      r[x] = 0;
    }
    if (accepted >= 0) {
      EmitChosen(node, Token(accepted));
      out_->path.push_back(accepted);
      if (ConstraintDone()) return;
      node = accepted;
      continue;
    }
    // Every child rejected: draw from the residual (summed afresh; the
    // running total carries rounding). It is never empty in exact
    // arithmetic; if rounding emptied it, draw from p itself.
    const double u = in_.state->rng.Uniform();
    total = Sum(r, vocab);
    const int32_t token =
        total > 0 ? DrawDense(r, vocab, total, u) : DrawDense(scratch_.p.data(), vocab, 1.0, u);
    EmitChosen(node, token);
    return;
  }
}

void Walk::RejectWithDraftProbs() {
  const int64_t vocab = in_.vocab;
  for (int32_t node = 0;; ++node) {
    MaskRow(node);
    const int32_t child = node + 1;  // a chain (checked)
    if (child >= num_nodes_) {       // every draft token accepted: the bonus
      EmitSampled(node);
      return;
    }
    TargetProbs(node, *in_.state);
    const double* p = scratch_.p.data();
    const float* q = in_.draft_probs + static_cast<int64_t>(child - 1) * vocab;  // [vocab]
    const int32_t x = Token(child);
    // Accept with probability min(1, p(x) / q(x)) (q(x) == 0: iff p(x) > 0).
    if (in_.state->rng.Uniform() * q[x] < p[x]) {
      EmitChosen(node, x);
      out_->path.push_back(child);
      if (ConstraintDone()) return;
      continue;
    }
    double* r = scratch_.r.data();
    for (int64_t i = 0; i < vocab; ++i) r[i] = std::max(0.0, p[i] - static_cast<double>(q[i]));
    const double total = Sum(r, vocab);
    const double u = in_.state->rng.Uniform();
    EmitChosen(node, total > 0 ? DrawDense(r, vocab, total, u) : DrawDense(p, vocab, 1.0, u));
    return;
  }
}

void Walk::Typical() {
  const TypicalAcceptance& typical = *in_.typical;
  const bool penalties = Sampler::PenaltiesActive(*in_.params);
  std::vector<uint8_t>& accepted = scratch_.accepted;
  std::vector<int32_t>& depth = scratch_.depth;
  accepted.assign(static_cast<size_t>(num_nodes_), 0);
  depth.assign(static_cast<size_t>(num_nodes_), 0);
  accepted[0] = 1;
  for (int32_t node = 0; node < num_nodes_; ++node) {
    if (!accepted[node] || NextChild(node, -1) < 0) continue;
    const SamplingState* state = in_.state;
    if (penalties) {
      // The history as it would be after emitting the path root..node.
      SamplingState& path_state = scratch_.path_state;
      path_state.seen = in_.state->seen;
      path_state.output_counts = in_.state->output_counts;
      std::vector<int32_t>& tokens = scratch_.path;
      tokens.clear();
      for (int32_t a = node; a != 0; a = Parent(a)) tokens.push_back(Token(a));
      for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
        RecordToken(*it, in_.vocab, *in_.params, &path_state);
      }
      state = &path_state;
    }
    const double entropy = TemperedSoftmax(node, *state);
    const double threshold = std::min(static_cast<double>(typical.epsilon),
                                      static_cast<double>(typical.delta) * std::exp(-entropy));
    for (int32_t c = NextChild(node, -1); c >= 0; c = NextChild(node, c)) {
      accepted[c] = scratch_.p[Token(c)] > threshold;
      depth[c] = depth[node] + 1;
    }
  }
  int32_t best = 0;
  for (int32_t j = 1; j < num_nodes_; ++j) {
    if (accepted[j] && depth[j] > depth[best]) best = j;
  }
  for (int32_t a = best; a != 0; a = Parent(a)) out_->path.push_back(a);
  std::reverse(out_->path.begin(), out_->path.end());
  // Rows of accepted nodes are sanitized and otherwise raw: logprobs and
  // penalties see them as the sampler would.
  for (int32_t c : out_->path) EmitChosen(Parent(c), Token(c));
  EmitSampled(best);
}

}  // namespace

SpecVerifyResult VerifySpeculative(const SpecVerifyInput& in) {
  INFERD_CHECK(in.logits != nullptr);
  INFERD_CHECK_GT(in.vocab, 0);
  INFERD_CHECK(in.params != nullptr);
  INFERD_CHECK(in.state != nullptr);
  INFERD_CHECK_EQ(in.tokens.size(), in.parents.size()) << "one parent per draft token";
  for (size_t i = 0; i < in.tokens.size(); ++i) {
    const int32_t node = static_cast<int32_t>(i) + 1;
    INFERD_CHECK(in.parents[i] >= 0 && in.parents[i] < node)
        << "node " << node << " has parent " << in.parents[i] << " (must be in [0, node))";
    INFERD_CHECK(in.tokens[i] >= 0 && in.tokens[i] < in.vocab)
        << "node " << node << " has token " << in.tokens[i] << " outside the vocabulary";
    if (in.draft_probs != nullptr) {
      INFERD_CHECK_EQ(in.parents[i], node - 1) << "draft_probs requires a chain";
    }
  }

  SpecVerifyResult out;
  out.path.reserve(in.tokens.size());
  out.tokens.reserve(in.tokens.size() + 1);
  Walk walk(in, &out);
  const bool greedy = Sampler::IsGreedy(*in.params);
  if (greedy) {
    walk.Greedy();
  } else if (in.typical != nullptr && in.constraint == nullptr) {
    walk.Typical();
  } else if (in.draft_probs != nullptr) {
    walk.RejectWithDraftProbs();
  } else {
    walk.RejectDeterministic();
  }
  return out;
}

}  // namespace inferd::engine
