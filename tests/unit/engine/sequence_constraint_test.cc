// The engine's side of structured output, on a small byte vocabulary with
// real compiled grammars: ConstraintCompiler's cache (hits, errors, LRU,
// threads), SequenceConstraint's mask (agreeing with IsAllowed and with the
// matcher, end tokens only where the grammar may end, EOS banned under
// ignore_eos), PruneDraft against a plain reference on random chains and
// trees, and constrained speculative verification against plain constrained
// greedy decoding on random logits.
#include "engine/sequence_constraint.h"

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/sampling/sampler.h"
#include "engine/spec_decode/spec_verifier.h"
#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/constraint_compiler.h"
#include "engine/structured_output/grammar_matcher.h"
#include "engine/structured_output/token_vocabulary.h"
#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

Constraint Make(Constraint::Kind kind, std::string text = "", std::vector<std::string> choices = {},
                bool allow_whitespace = false) {
  Constraint c;
  c.kind = kind;
  c.text = std::move(text);
  c.choices = std::move(choices);
  c.allow_whitespace = allow_whitespace;
  return c;
}

constexpr int32_t kEos = 0;
constexpr int32_t kSpecial = 1;

// 0: EOS, 1: another special token, then byte strings.
std::shared_ptr<const TokenVocabulary> Vocab() {
  std::vector<std::string> bytes = {"</s>", "<pad>", "a", "b", "c",  "ab", "bc", "abc",
                                    "ca",   "x",     "{", "}", "\"", "1",  "12", "\"a"};
  std::vector<bool> special(bytes.size(), false);
  special[kEos] = special[kSpecial] = true;
  return TokenVocabulary::FromBytes(bytes, special, {kEos});
}

std::shared_ptr<const CompiledGrammar> Compile(const std::string& gbnf,
                                               std::shared_ptr<const TokenVocabulary> vocab) {
  auto g = CompileGbnf(gbnf, std::move(vocab));
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *g : nullptr;
}

// a, b, c: 1 to 6 of them; "x" only first.
constexpr char kGrammar[] = "root ::= \"x\"? [abc] [abc]? [abc]? [abc]? [abc]? [abc]?";

bool Allowed(const std::vector<float>& row, int32_t id) { return !std::isinf(row[id]); }

TEST(ConstraintCompilerTest, CachesResultsAndErrorsPerConstraint) {
  ConstraintCompiler compiler(Vocab(), GrammarLimits{}, /*max_cached=*/2);
  Constraint a = Make(Constraint::Kind::kRegex, "[ab]+c");
  Constraint b = Make(Constraint::Kind::kChoice, "", {"ab", "c"});
  Constraint bad = Make(Constraint::Kind::kRegex, "(ab");
  auto a1 = compiler.Compile(a);
  auto a2 = compiler.Compile(a);
  ASSERT_TRUE(a1.ok()) << a1.status();
  ASSERT_TRUE(a2.ok());
  EXPECT_EQ(a1->get(), a2->get()) << "the second compile is a cache hit";
  // The key is kind + text + choices + options: a choice list that joins to
  // the same bytes is another constraint.
  Constraint b2 = b;
  b2.choices = {"a", "bc"};
  auto b1 = compiler.Compile(b);
  auto b3 = compiler.Compile(b2);
  ASSERT_TRUE(b1.ok());
  ASSERT_TRUE(b3.ok());
  EXPECT_NE(b1->get(), b3->get());
  // LRU of 2: a was evicted by b and b2.
  auto a3 = compiler.Compile(a);
  ASSERT_TRUE(a3.ok());
  EXPECT_NE(a1->get(), a3->get());
  auto e1 = compiler.Compile(bad);
  auto e2 = compiler.Compile(bad);
  EXPECT_EQ(e1.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e1.status(), e2.status());
  EXPECT_NE(e1.status().message().find("unclosed"), std::string::npos) << e1.status();
}

TEST(ConstraintCompilerTest, RefusesOversizedTextBeforeTranslating) {
  ConstraintCompiler compiler(Vocab(), GrammarLimits{});
  Constraint huge = Make(Constraint::Kind::kJsonSchema,
                         "{\"description\":\"" + std::string(600 << 10, 'x') + "\"}");
  auto r = compiler.Compile(huge);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("the limit is"), std::string::npos) << r.status();
}

TEST(ConstraintCompilerTest, ConcurrentCompilesAgree) {
  ConstraintCompiler compiler(Vocab(), GrammarLimits{}, 4);
  std::vector<Constraint> constraints = {
      Make(Constraint::Kind::kRegex, "a(b|c)*"),
      Make(Constraint::Kind::kJsonObject),
      Make(Constraint::Kind::kJsonObject, "", {}, /*allow_whitespace=*/true),
      Make(Constraint::Kind::kGrammar, kGrammar),
      Make(Constraint::Kind::kRegex, "[z-a]"),
  };

  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < constraints.size(); ++i) {
          auto r = compiler.Compile(constraints[(i + t + round) % constraints.size()]);
          const bool should_fail = (i + t + round) % constraints.size() == 4;
          if (r.ok() == should_fail) ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST(SequenceConstraintTest, MaskAgreesWithIsAllowedAndEndsOnlyWhereTheGrammarMay) {
  auto vocab = Vocab();
  std::mt19937 rng(1);
  for (int trial = 0; trial < 50; ++trial) {
    SamplingParams sp;
    SequenceConstraint c(Compile(kGrammar, vocab), vocab->bitmask_words(), sp, {kEos});
    GrammarMatcher reference(Compile(kGrammar, vocab));
    // The model's logits row is wider than the vocabulary (padding ids).
    const int64_t width = vocab->size() + 5;
    while (!c.Done()) {
      std::vector<float> row(width, 0.0f);
      c.Mask(row.data(), width);
      std::vector<int32_t> allowed;
      for (int32_t id = 0; id < width; ++id) {
        if (id >= vocab->size()) {
          EXPECT_FALSE(Allowed(row, id)) << "padding id " << id;
          continue;
        }
        EXPECT_EQ(Allowed(row, id), c.IsAllowed(id)) << id;
        if (id == kEos) {
          EXPECT_EQ(Allowed(row, id), reference.CanTerminate());
        } else if (id == kSpecial) {
          EXPECT_FALSE(Allowed(row, id));
        } else {
          EXPECT_EQ(Allowed(row, id), reference.IsTokenAllowed(id)) << id;
        }
        if (Allowed(row, id)) allowed.push_back(id);
      }
      ASSERT_FALSE(allowed.empty());
      const int32_t token = allowed[rng() % allowed.size()];
      c.Accept(token);
      if (token == kEos) {
        EXPECT_TRUE(c.Done());
        break;
      }
      ASSERT_TRUE(reference.AcceptToken(token));
      EXPECT_EQ(c.IsCompleted(), reference.IsCompleted());
      EXPECT_EQ(c.num_accepted_tokens(), reference.num_accepted_tokens());
    }
  }
}

TEST(SequenceConstraintTest, IgnoreEosBansEosAndStopTokensEndOnlyWhereAllowed) {
  auto vocab = Vocab();
  SamplingParams sp;
  sp.ignore_eos = true;
  sp.stop_token_ids = {9};  // "x": a text token the grammar allows only first
  SequenceConstraint c(Compile(kGrammar, vocab), vocab->bitmask_words(), sp, {kEos});
  std::vector<float> row(vocab->size());
  auto mask = [&] {
    std::fill(row.begin(), row.end(), 0.0f);
    c.Mask(row.data(), vocab->size());
  };
  mask();
  EXPECT_FALSE(Allowed(row, kEos));
  EXPECT_FALSE(Allowed(row, 9)) << "a stop token is an end: not before the grammar may end";
  c.Accept(2);  // "a"
  mask();
  EXPECT_FALSE(Allowed(row, kEos)) << "ignore_eos";
  EXPECT_TRUE(Allowed(row, 9)) << "the grammar may end here, so the stop token may come";
  c.Accept(9);
  EXPECT_TRUE(c.Done());
  EXPECT_FALSE(c.IsCompleted());
  EXPECT_EQ(c.num_accepted_tokens(), 1) << "an end token does not advance the matcher";
}

TEST(SequenceConstraintDeathTest, AcceptingAMaskedTokenAborts) {
  auto vocab = Vocab();
  SequenceConstraint c(Compile(kGrammar, vocab), vocab->bitmask_words(), SamplingParams{}, {kEos});
  EXPECT_DEATH(c.Accept(10), "masked out");
  EXPECT_DEATH(c.Accept(kEos), "cannot end");
}

// Reference for PruneDraft: node j is kept when its whole path from the root
// replays on a fresh matcher (each token allowed in turn; an end token or a
// completing token only last).
std::vector<int32_t> PathOf(const SpecDraft& d, int32_t node) {
  std::vector<int32_t> path;
  for (int32_t a = node; a != 0; a = d.is_tree() ? d.parents[a - 1] : a - 1) {
    path.insert(path.begin(), d.tokens[a - 1]);
  }
  return path;
}

bool ReferenceKeeps(const std::vector<int32_t>& prefix, const std::vector<int32_t>& path,
                    std::shared_ptr<const CompiledGrammar> grammar) {
  GrammarMatcher m(std::move(grammar));
  for (int32_t t : prefix) EXPECT_TRUE(m.AcceptToken(t));
  for (size_t i = 0; i < path.size(); ++i) {
    if (m.IsCompleted()) return false;
    if (path[i] == kEos) return i + 1 == path.size() && m.CanTerminate();
    if (!m.AcceptToken(path[i])) return false;
  }
  return true;
}

TEST(SequenceConstraintTest, PruneDraftMatchesAReferenceOnRandomChainsAndTrees) {
  auto vocab = Vocab();
  auto grammar = Compile(kGrammar, vocab);
  std::mt19937 rng(7);
  const std::vector<int32_t> tokens = {kEos, 2, 3, 4, 5, 6, 7, 8, 9, 13};
  for (int trial = 0; trial < 400; ++trial) {
    SequenceConstraint c(grammar, vocab->bitmask_words(), SamplingParams{}, {kEos});
    std::vector<int32_t> prefix;
    if (trial % 2 == 1) {  // start inside the grammar
      c.Accept(2);
      prefix.push_back(2);
    }
    SpecDraft draft;
    const int32_t n = 1 + static_cast<int32_t>(rng() % 10);
    const bool tree = trial % 3 != 0;
    for (int32_t j = 1; j <= n; ++j) {
      draft.tokens.push_back(tokens[rng() % tokens.size()]);
      if (tree) draft.parents.push_back(static_cast<int32_t>(rng() % j));
    }
    // Expected: the kept nodes, in order, with their paths.
    std::vector<std::vector<int32_t>> expected;
    for (int32_t j = 1; j <= n; ++j) {
      const std::vector<int32_t> path = PathOf(draft, j);
      bool keep = ReferenceKeeps(prefix, path, grammar);
      if (!tree && keep) {  // a chain keeps a prefix: every node before j too
        keep = expected.size() == static_cast<size_t>(j - 1);
      }
      if (keep) expected.push_back(path);
    }
    const int32_t accepted_before = c.num_accepted_tokens();
    c.PruneDraft(&draft);
    EXPECT_EQ(c.num_accepted_tokens(), accepted_before) << "the matcher is left as it was";
    ASSERT_EQ(draft.size(), static_cast<int64_t>(expected.size())) << "trial " << trial;
    for (int32_t j = 1; j <= draft.size(); ++j) {
      EXPECT_EQ(PathOf(draft, j), expected[j - 1]) << "trial " << trial << " node " << j;
      if (draft.is_tree()) {
        EXPECT_LT(draft.parents[j - 1], j);
      }
    }
  }
}

TEST(SequenceConstraintTest, ConstrainedVerificationEqualsConstrainedGreedy) {
  auto vocab = Vocab();
  auto grammar = Compile(kGrammar, vocab);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  const int64_t v = vocab->size();
  SamplingParams sp;
  sp.temperature = 0.0f;
  for (int trial = 0; trial < 300; ++trial) {
    const int32_t num_nodes = 1 + static_cast<int32_t>(rng() % 6);
    std::vector<float> logits(static_cast<size_t>(num_nodes * v));
    for (float& l : logits) l = normal(rng);
    // A chain draft of tokens the grammar may or may not allow.
    std::vector<int32_t> tokens, parents;
    for (int32_t j = 1; j < num_nodes; ++j) {
      tokens.push_back(2 + static_cast<int32_t>(rng() % (v - 2)));
      parents.push_back(j - 1);
    }
    // Plain constrained greedy along the draft: at node j (after the first j
    // draft tokens matched), mask, argmax; stop at a mismatch or when done.
    std::vector<int32_t> expected;
    {
      SequenceConstraint c(grammar, vocab->bitmask_words(), sp, {kEos});
      std::vector<float> rows = logits;
      SamplingState state(0);
      for (int32_t node = 0; node < num_nodes; ++node) {
        float* row = rows.data() + node * v;
        c.Mask(row, v);
        const int32_t x = Sampler::Sample(row, v, sp, &state, nullptr);
        c.Accept(x);
        expected.push_back(x);
        if (c.Done() || node + 1 == num_nodes || tokens[node] != x) break;
      }
    }
    SequenceConstraint c(grammar, vocab->bitmask_words(), sp, {kEos});
    std::vector<float> rows = logits;
    SamplingState state(0);
    SpecVerifyInput in;
    in.logits = rows.data();
    in.vocab = v;
    in.tokens = tokens;
    in.parents = parents;
    in.params = &sp;
    in.state = &state;
    in.constraint = &c;
    SpecVerifyResult out = VerifySpeculative(in);
    EXPECT_EQ(out.tokens, expected) << "trial " << trial;
    // The constraint holds exactly the emitted tokens (an end token does not
    // advance its matcher).
    int32_t advancing = 0;
    for (int32_t t : out.tokens) advancing += t != kEos;
    EXPECT_EQ(c.num_accepted_tokens(), advancing);
  }
}

// Rejection sampling under a constraint is lossless for the constrained
// distribution: the first emitted token's frequencies over many draws match
// softmax(logits) renormalised over the allowed tokens, whatever the draft
// (a deterministic chain or a sampled one with its own q, allowed or not).
TEST(SequenceConstraintTest, ConstrainedRejectionSamplingIsLossless) {
  auto vocab = Vocab();
  auto grammar = Compile(kGrammar, vocab);
  const int64_t v = vocab->size();
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  SamplingParams sp;
  sp.temperature = 1.0f;
  for (int trial = 0; trial < 6; ++trial) {
    std::vector<float> logits(static_cast<size_t>(3 * v));
    for (float& l : logits) l = normal(rng);
    // The constrained target at the root, by hand.
    SequenceConstraint probe(grammar, vocab->bitmask_words(), sp, {kEos});
    std::vector<float> row(logits.begin(), logits.begin() + v);
    probe.Mask(row.data(), v);
    std::vector<double> target(static_cast<size_t>(v), 0.0);
    double z = 0;
    for (int64_t i = 0; i < v; ++i) z += std::isinf(row[i]) ? 0.0 : std::exp(row[i]);
    for (int64_t i = 0; i < v; ++i) target[i] = std::isinf(row[i]) ? 0.0 : std::exp(row[i]) / z;
    // A deterministic draft token: "a" or "b" (allowed) or "1" (never
    // allowed); a sampled one: a draw from q, allowed or not.
    const int32_t fixed_token = trial % 3 == 2 ? 13 : 2 + trial % 3;
    std::vector<float> q(static_cast<size_t>(v), 0.0f);
    float qz = 0;
    for (float& x : q) qz += (x = std::exp(2.0f * normal(rng)));
    for (float& x : q) x /= qz;
    std::discrete_distribution<int32_t> draw_q(q.begin(), q.end());
    const bool with_q = trial % 2 == 1;
    constexpr int kDraws = 20000;
    std::vector<double> freq(static_cast<size_t>(v), 0.0);
    for (int d = 0; d < kDraws; ++d) {
      SequenceConstraint c(grammar, vocab->bitmask_words(), sp, {kEos});
      // As the engine does: the proposal, pruned, then verified.
      SpecDraft draft;
      draft.tokens = {with_q ? draw_q(rng) : fixed_token, 2};
      if (with_q) {
        draft.probs = q;
        draft.probs.insert(draft.probs.end(), q.begin(), q.end());
      }
      c.PruneDraft(&draft);
      std::vector<int32_t> parents;
      for (int32_t j = 0; j < draft.size(); ++j) parents.push_back(j);
      std::vector<float> rows = logits;
      rows.resize(static_cast<size_t>((draft.size() + 1) * v));
      SamplingState state(static_cast<uint64_t>(d) * 7919 + trial);
      SpecVerifyInput in;
      in.logits = rows.data();
      in.vocab = v;
      in.tokens = draft.tokens;
      in.parents = parents;
      in.draft_probs = draft.probs.empty() ? nullptr : draft.probs.data();
      in.params = &sp;
      in.state = &state;
      in.constraint = &c;
      SpecVerifyResult out = VerifySpeculative(in);
      ASSERT_FALSE(out.tokens.empty());
      freq[out.tokens[0]] += 1.0 / kDraws;
    }
    for (int64_t i = 0; i < v; ++i) {
      EXPECT_NEAR(freq[i], target[i], 0.015) << "trial " << trial << " token " << i;
      if (target[i] == 0) {
        EXPECT_EQ(freq[i], 0.0) << "a masked token was emitted";
      }
    }
  }
}

}  // namespace
}  // namespace inferd::engine
