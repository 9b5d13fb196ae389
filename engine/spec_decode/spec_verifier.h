// engine/spec_decode/spec_verifier.h — the acceptance rules of speculative
// decoding (DESIGN §6): given the target's logits at every drafted position,
// which draft tokens a sequence keeps and which token it emits after them.
//
// Pure: no model, no KV cache, no engine state; it reads the logits and the
// draft, and advances only the sequence's SamplingState (penalty history and
// RNG), exactly as the non-speculative sampler would for the tokens emitted.
//
// Rules, by request:
//   - temperature < 1e-5 (greedy, as engine/sampling/sampler.cc decides):
//     exact match. At each node the target token is what Sampler::Sample
//     returns for that row (penalties included); the walk moves to the first
//     child (index order) holding it. Lossless: the output is token for token
//     that of non-speculative greedy decoding.
//   - sampled, draft_probs == nullptr (deterministic proposals: n-gram,
//     argmax / top-s heads; a chain or a tree): multi-candidate rejection
//     sampling (SpecInfer, Miao et al. 2024). At node u, r = p_u; each child
//     c in index order is accepted with probability r(c) / sum(r); when
//     rejected, r(c) = 0. If none is accepted the token is drawn from r.
//     Lossless: every emitted token is distributed as p given the tokens
//     before it.
//   - sampled, draft_probs given (a draft model that samples; chain only):
//     standard speculative sampling (Leviathan et al. 2023; Chen et al.
//     2023): accept x with probability min(1, p(x) / q(x)), else draw from
//     normalize(max(0, p - q)) (from p if that is all zero). Lossless.
//   - sampled with `typical` (Medusa's typical acceptance, opt-in; takes
//     precedence over the two rules above): LOSSY.
//     The output is not distributed as the target's; it trades fidelity for
//     longer accepted paths. See TypicalAcceptance.
// When the whole path is accepted, one more token (the bonus) is drawn from
// the last node's row with Sampler::Sample. With no draft at all
// (num_nodes == 1) VerifySpeculative is exactly one Sampler::Sample call.
//
// p_u, the target distribution at node u, is what Sampler::Sample would draw
// from for row u given the state after the accepted prefix: penalties ->
// temperature -> top-k -> top-p -> min-p. Every emitted token is recorded in
// the state before the next row is evaluated, so penalties see the accepted
// prefix exactly as in non-speculative decoding.
#ifndef INFERD_ENGINE_SPEC_DECODE_SPEC_VERIFIER_H_
#define INFERD_ENGINE_SPEC_DECODE_SPEC_VERIFIER_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "engine/request.h"
#include "engine/sampling/logits_constraint.h"
#include "engine/sampling/sampler.h"

namespace inferd::engine {

// Medusa's typical acceptance (lossy, opt-in): a candidate x is accepted when
// p_target(x) > min(epsilon, delta * exp(-H(p_target))), H the entropy of the
// target distribution after temperature (Medusa paper, Cai et al. 2024).
// p_target here is the temperature-scaled softmax of the penalised logits
// over the whole vocabulary (top-k / top-p / min-p do not apply to the test;
// they do apply to the final token's draw), H its exact entropy in nats.
// Over a tree, the deepest node whose whole path passes is kept (ties: the
// lowest index); the final token is drawn from that node's row with
// Sampler::Sample. No RNG draw is spent on acceptance.
struct TypicalAcceptance {
  float epsilon = 0.09f;
  float delta = 0.3f;
};

struct SpecVerifyInput {
  // Target logits, one row per tree node: row 0 belongs to the root (the last
  // committed token, which predicts the first new token); row j to node j.
  float* logits = nullptr;  // [num_nodes, vocab], used as scratch
  int64_t vocab = 0;
  // Draft nodes 1..num_nodes-1 in topological order: tokens[j-1] is node j's
  // token, parents[j-1] in [0, j) its parent. A chain has parents j-1.
  absl::Span<const int32_t> tokens;   // [num_nodes - 1]
  absl::Span<const int32_t> parents;  // [num_nodes - 1]
  // The distribution each draft token was sampled from (a chain from a draft
  // model that samples): [num_nodes - 1, vocab], row j-1 for node j. nullptr:
  // the proposals are deterministic (point masses: n-gram, argmax/top-s heads).
  const float* draft_probs = nullptr;
  const SamplingParams* params = nullptr;
  SamplingState* state = nullptr;  // penalty history + RNG; records every emitted token
  // Non-null: typical acceptance (only used when temperature > 0; then
  // draft_probs is ignored).
  const TypicalAcceptance* typical = nullptr;
  bool want_logprobs = false;  // fill result.logprobs (params->logprobs >= 0)
  // Structured output: non-null, positioned after the committed tokens.
  // Each visited node's row is masked (Mask) before anything reads it, each
  // emitted token is accepted (Accept), and the walk stops emitting once
  // the constraint is Done(). The target distribution at every node is
  // thus the constrained one, so greedy equals constrained greedy and the
  // rejection rules stay lossless with respect to it. Typical acceptance
  // is not used under a constraint (the lossless rules are). Afterwards the
  // constraint holds exactly the emitted tokens.
  LogitsConstraint* constraint = nullptr;
};

struct SpecVerifyResult {
  std::vector<int32_t> path;    // accepted node indices (>= 1), root excluded, root to leaf
  std::vector<int32_t> tokens;  // emitted tokens: the accepted nodes' tokens, then one more
                                // (the correction, or the bonus when the whole path was accepted)
  std::vector<TokenLogprob> logprobs;  // one per emitted token when want_logprobs
};

// Verifies one sequence's draft against its target logits. Ownership: reads
// `in.tokens`, `in.parents`, `in.draft_probs`, `in.params`; overwrites rows
// of `in.logits` (scratch); advances `*in.state` (records the emitted tokens
// in order; draws from its RNG: greedy never, rejection sampling once per
// child tested plus once for the emitted correction or bonus, typical
// acceptance once for the final token). Invariants (checked, aborting): the
// draft is well formed (sizes agree, parents[j-1] in [0, j), tokens in the
// vocabulary) and, with draft_probs, a chain. Logprobs of each emitted token
// are taken from its row's raw logits, as the sampler does; they are filled
// only when want_logprobs and params->logprobs >= 0.
SpecVerifyResult VerifySpeculative(const SpecVerifyInput& in);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_SPEC_VERIFIER_H_
