// tests/unit/structured_output/grammar_matcher_random_test.cc — the matcher
// against the plain reference recognizer on random grammars (rules, nesting,
// repetitions, classes with multi-byte UTF-8) and random vocabularies (odd
// sizes, partial UTF-8, long tokens): at every step of random walks the mask
// equals the reference's per-token answer, IsTokenAllowed and AcceptToken
// agree with it, CanTerminate agrees, and Rollback restores exact masks.
#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/gbnf_parser.h"
#include "engine/structured_output/grammar_matcher.h"
#include "engine/structured_output/grammar_stacks.h"
#include "engine/structured_output/token_vocabulary.h"
#include "gtest/gtest.h"
#include "tests/unit/structured_output/reference_recognizer.h"

namespace inferd::engine {
namespace {

const char* const kChars[] = {"a", "b", "c", "{", "}", "\\u00e9", "\\u20ac", "\\U0001F600", "\\n"};
const char* const kCharBytes[] = {
    "a", "b", "c", "{", "}", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\n"};
const char* const kClasses[] = {"[a-c]",
                                "[^a]",
                                "[a\\u00e9]",
                                "[\\u00e0-\\u00ff]",
                                "[\\u007e-\\u0801]",
                                "[^\\u0000-\\u007f]",
                                ".",
                                "[b-c\\u20ac-\\U0001F600]",
                                "[^abc{}]",
                                "[\\n{]",
                                "[]"};

class GrammarGen {
 public:
  explicit GrammarGen(std::mt19937* rng) : rng_(*rng) {}

  std::string Generate() {
    num_rules_ = 1 + Pick(4);
    std::string g;
    for (int r = 0; r < num_rules_; ++r) {
      g += (r == 0 ? std::string("root") : "r" + std::to_string(r)) + " ::= " + Alt(0) + "\n";
    }
    return g;
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }

  std::string Alt(int depth) {
    int n = Pick(4) == 0 ? 2 + Pick(2) : 1;
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? " | " : "") + Seq(depth);
    return s;
  }
  std::string Seq(int depth) {
    int n = 1 + Pick(3);
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? " " : "") + Item(depth);
    return s;
  }
  std::string Item(int depth) {
    std::string base;
    int k = Pick(depth >= 2 ? 3 : 5);
    if (k == 0) {
      base = "\"";
      int len = Pick(4);  // includes ""
      for (int i = 0; i < len; ++i) base += kChars[Pick(std::size(kChars))];
      base += "\"";
    } else if (k == 1) {
      base = kClasses[Pick(std::size(kClasses))];
    } else if (k == 2) {
      int r = Pick(num_rules_);
      base = r == 0 ? "root" : "r" + std::to_string(r);
    } else {
      base = "(" + Alt(depth + 1) + ")";
    }
    switch (Pick(8)) {
      case 0:
        return base + "*";
      case 1:
        return base + "+";
      case 2:
        return base + "?";
      case 3:
        return base + "{" + std::to_string(Pick(3)) + "}";
      case 4: {
        int m = Pick(2);
        return base + "{" + std::to_string(m) + "," + std::to_string(m + Pick(3)) + "}";
      }
      case 5:
        return base + "{" + std::to_string(Pick(2)) + ",}";
      default:
        return base;
    }
  }

  std::mt19937& rng_;
  int num_rules_ = 1;
};

struct Vocab {
  std::shared_ptr<const TokenVocabulary> vocab;
  int32_t eos;
};

Vocab RandomVocab(std::mt19937& rng) {
  int n = 20 + static_cast<int>(rng() % 150);
  std::vector<std::string> bytes;
  std::vector<bool> special;
  for (int i = 0; i < n; ++i) {
    std::string t;
    int pieces = 1 + static_cast<int>(rng() % (rng() % 5 == 0 ? 8 : 3));
    for (int p = 0; p < pieces; ++p) {
      int k = static_cast<int>(rng() % 10);
      if (k < 6) {
        t += kCharBytes[rng() % std::size(kCharBytes)];
      } else if (k < 8) {
        std::string c = kCharBytes[5 + rng() % 3];  // a multi-byte char
        size_t from = rng() % c.size(), len = 1 + rng() % (c.size() - from);
        t += c.substr(from, len);  // partial UTF-8
      } else {
        t += static_cast<char>(rng() % 256);
      }
    }
    bytes.push_back(t);
    special.push_back(false);
  }
  bytes.push_back("");  // an empty ordinary token: never allowed
  special.push_back(false);
  bytes.push_back("<s>");  // a special token: never allowed
  special.push_back(true);
  bytes.push_back("</s>");  // EOS
  special.push_back(true);
  int32_t eos = static_cast<int32_t>(bytes.size()) - 1;
  // Single bytes a, b, c often so walks get somewhere.
  bytes.push_back("a");
  special.push_back(false);
  bytes.push_back("a");  // a duplicate
  special.push_back(false);
  return {TokenVocabulary::FromBytes(bytes, special, {eos}), eos};
}

bool Bit(const std::vector<uint32_t>& m, int32_t id) { return (m[id / 32] >> (id % 32)) & 1; }

struct Stats {
  int grammars = 0, compiled = 0, steps = 0, allowed = 0, stuck = 0, left_rec = 0, empty = 0,
      truncated = 0;
};

// One random grammar and vocabulary, several random walks. Returns false
// when the reference ran out of budget (the case is skipped).
void RunCase(uint32_t seed, Stats* stats) {
  std::mt19937 rng(seed);
  GrammarGen gen(&rng);
  std::string text = gen.Generate();
  if (std::getenv("GRAMMAR_RANDOM_TEST_PRINT"))
    std::fprintf(stderr, "seed %u:\n%s", seed, text.c_str());
  SCOPED_TRACE("seed " + std::to_string(seed) + " grammar:\n" + text);
  auto parsed = ParseGbnf(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  Vocab v = RandomVocab(rng);
  const TokenVocabulary& vocab = *v.vocab;
  ++stats->grammars;
  ReferenceRecognizer ref(*parsed);
  auto compiled = CompileGbnf(text, v.vocab);
  if (!compiled.ok()) {
    std::string msg(compiled.status().message());
    EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
    if (msg.find("left recursion") != std::string::npos) {
      ++stats->left_rec;
    } else {
      EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
      EXPECT_FALSE(ref.LanguageNonEmpty()) << msg;
      ++stats->empty;
    }
    return;
  }
  ASSERT_TRUE(ref.LanguageNonEmpty());
  ++stats->compiled;
  GrammarMatcher m(*compiled);
  std::vector<uint32_t> mask(static_cast<size_t>(vocab.bitmask_words()));
  for (int walk = 0; walk < 3; ++walk) {
    m.Reset();
    std::string out;
    std::vector<std::string> outs{out};
    std::vector<std::vector<uint32_t>> masks;
    for (int step = 0; step < 10; ++step) {
      SCOPED_TRACE("walk " + std::to_string(walk) + " step " + std::to_string(step) + " output '" +
                   out + "'");
      int64_t truncated_before = StackClosuresTruncated();
      m.FillNextTokenBitmask(mask.data());
      masks.resize(outs.size());
      masks[outs.size() - 1] = mask;
      bool sentence = ref.IsSentence(out);
      if (ref.budget_exceeded()) return;
      std::vector<int32_t> allowed, mask_allowed;
      std::vector<bool> expected(static_cast<size_t>(vocab.size())), single(expected.size());
      for (int32_t id = 0; id < vocab.size(); ++id) {
        if (id == v.eos) continue;
        expected[static_cast<size_t>(id)] = !vocab.is_special(id) && !vocab.bytes(id).empty() &&
                                            ref.IsPrefix(out + std::string(vocab.bytes(id)));
        if (ref.budget_exceeded()) return;
        single[static_cast<size_t>(id)] = m.IsTokenAllowed(id);
        if (expected[static_cast<size_t>(id)]) allowed.push_back(id);
        if (Bit(mask, id)) mask_allowed.push_back(id);
      }
      if (StackClosuresTruncated() != truncated_before) {
        // Stack sets were cut (kMaxStacksPerClosure): the matcher must stay
        // sound (allow only real continuations); it may refuse others.
        ++stats->truncated;
        for (int32_t id : mask_allowed)
          ASSERT_TRUE(expected[static_cast<size_t>(id)]) << "token " << id;
        if (mask_allowed.empty()) break;
        int32_t id = mask_allowed[rng() % mask_allowed.size()];
        ASSERT_TRUE(m.AcceptToken(id));
        out += std::string(vocab.bytes(id));
        outs.push_back(out);
        if (out.size() > 24) break;
        continue;
      }
      EXPECT_EQ(m.CanTerminate(), sentence);
      for (int32_t id = 0; id < vocab.size(); ++id) {
        if (id == v.eos) continue;
        ASSERT_EQ(Bit(mask, id), expected[static_cast<size_t>(id)])
            << "token " << id << " '" << vocab.bytes(id) << "'";
        ASSERT_EQ(single[static_cast<size_t>(id)], expected[static_cast<size_t>(id)])
            << "token " << id;
      }
      bool stuck = allowed.empty() && !sentence;
      stats->stuck += stuck;
      EXPECT_EQ(Bit(mask, v.eos), sentence || stuck);
      EXPECT_EQ(m.IsTokenAllowed(v.eos), sentence || stuck);
      EXPECT_EQ(m.IsCompleted(), allowed.empty());
      EXPECT_FALSE(m.IsTerminated());
      ++stats->steps;
      stats->allowed += static_cast<int>(allowed.size());
      // A refused token changes nothing.
      for (int32_t id = 0; id < vocab.size(); ++id) {
        if (!Bit(mask, id)) {
          EXPECT_FALSE(m.AcceptToken(id));
          break;
        }
      }
      if (allowed.empty() || rng() % 8 == 0) {
        if (Bit(mask, v.eos)) {
          EXPECT_TRUE(m.AcceptToken(v.eos));
          EXPECT_TRUE(m.IsTerminated());
          std::vector<uint32_t> zero(mask.size(), 7);
          m.FillNextTokenBitmask(zero.data());
          for (uint32_t w : zero) EXPECT_EQ(w, 0u);
          EXPECT_FALSE(m.AcceptToken(allowed.empty() ? 0 : allowed[0]));
          m.Rollback(1);
          EXPECT_FALSE(m.IsTerminated());
        }
        break;
      }
      int32_t id = allowed[rng() % allowed.size()];
      ASSERT_TRUE(m.AcceptToken(id));
      out += std::string(vocab.bytes(id));
      outs.push_back(out);
      if (out.size() > 24) break;
      // Sometimes roll back and check the mask is restored exactly.
      if (rng() % 4 == 0) {
        auto k = 1 + static_cast<int32_t>(rng() % (outs.size() - 1));
        if (k > m.num_accepted_tokens()) k = m.num_accepted_tokens();
        m.Rollback(k);
        outs.resize(outs.size() - static_cast<size_t>(k));
        out = outs.back();
        std::vector<uint32_t> again(mask.size());
        m.FillNextTokenBitmask(again.data());
        ASSERT_EQ(again, masks[outs.size() - 1]) << "after Rollback(" << k << ")";
      }
    }
  }
}

TEST(GrammarMatcherRandomTest, MatchesReference) {
  Stats stats;
  uint32_t first = 1, last = 600;
  if (const char* only = std::getenv("GRAMMAR_RANDOM_TEST_SEED")) first = last = std::atoi(only);
  for (uint32_t seed = first; seed <= last; ++seed) {
    RunCase(seed, &stats);
    if (HasFatalFailure()) return;
  }
  // Again on fresh compiles: entries now come from the process-wide cache
  // (same vocabulary fingerprints, same sub-automata) and must be as right.
  Stats again;
  for (uint32_t seed = first; seed <= std::min(last, first + 150); ++seed) {
    RunCase(seed, &again);
    if (HasFatalFailure()) return;
  }
  // The generator must exercise the interesting cases.
  EXPECT_GT(stats.compiled, 150);
  EXPECT_GT(stats.steps, 1000);
  EXPECT_GT(stats.allowed, 5000);
  EXPECT_GT(stats.left_rec, 0);
  std::printf(
      "grammars %d compiled %d left-recursive %d empty %d steps %d allowed %d stuck %d "
      "truncated %d\n",
      stats.grammars, stats.compiled, stats.left_rec, stats.empty, stats.steps, stats.allowed,
      stats.stuck, stats.truncated);
}

// Bounded repetitions of odd sizes, of a character rule (called: the
// position's stack and the next character's stack share a set) and of a
// class, under a caller, against the reference at every step of random
// walks whose tokens include runs as long as the bounds (so every count
// left, 0 and the bounds themselves, meets tokens that just fit and just
// overflow). *steps_out counts the masks compared.
void BoundedRepetitionsBody(int* steps_out) {
  int& steps = *steps_out;
  const char* const kBounds[] = {"{0,1}", "{1}", "{3}", "{2,7}", "{0,5}", "{1,300}", "{2,}"};
  const char* const kItems[] = {"ch", "[a-b\\u00e9]"};
  const std::string kPieces[] = {"a", "b", "\"", "\\", "n",        "u",    "0",
                                 "f", ",", "]",  "[",  "\xC3\xA9", "\xC3", "\xA9"};
  for (const char* bounds : kBounds) {
    for (const char* item : kItems) {
      const std::string text =
          std::string("root ::= \"[\" str (\",\" str)? \"]\"\nstr ::= \"\\\"\" ") + "(" + item +
          ")" + bounds +
          " \"\\\"\"\nch ::= [^\"\\\\] | \"\\\\\" [\"\\\\n] | \"\\\\u\" [0-9a-f]{2}\n";
      SCOPED_TRACE("grammar:\n" + text);
      auto parsed = ParseGbnf(text);
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      ReferenceRecognizer ref(*parsed, 50'000'000);
      for (uint32_t seed = 1; seed <= 4; ++seed) {
        std::mt19937 rng(seed);
        std::vector<std::string> bytes;
        for (int i = 0; i < 60; ++i) {
          std::string t;
          const int pieces = 1 + static_cast<int>(rng() % 4);
          for (int p = 0; p < pieces; ++p) t += kPieces[rng() % std::size(kPieces)];
          bytes.push_back(t);
        }
        for (int len : {1, 2, 3, 4, 5, 6, 7, 8, 50, 150, 299, 300, 301}) {
          bytes.push_back(std::string(static_cast<size_t>(len), 'a'));
        }
        bytes.push_back("\"\\u0f\",\"ab");
        bytes.push_back("</s>");
        std::vector<bool> special(bytes.size(), false);
        special.back() = true;
        const auto eos = static_cast<int32_t>(bytes.size()) - 1;
        auto vocab = TokenVocabulary::FromBytes(bytes, special, {eos});
        auto compiled = CompileGbnf(text, vocab);
        ASSERT_TRUE(compiled.ok()) << compiled.status();
        GrammarMatcher m(*compiled);
        std::vector<uint32_t> mask(static_cast<size_t>(vocab->bitmask_words()));
        std::string out;
        for (int step = 0; step < 80; ++step) {
          SCOPED_TRACE("seed " + std::to_string(seed) + " output '" + out + "'");
          m.FillNextTokenBitmask(mask.data());
          std::vector<int32_t> allowed;
          for (int32_t id = 0; id < eos; ++id) {
            const bool expected = ref.IsPrefix(out + bytes[static_cast<size_t>(id)]);
            ASSERT_FALSE(ref.budget_exceeded());
            ASSERT_EQ(Bit(mask, id), expected)
                << "token " << id << " single " << m.IsTokenAllowed(id) << " len "
                << bytes[static_cast<size_t>(id)].size();
            if (expected) allowed.push_back(id);
          }
          ASSERT_EQ(Bit(mask, eos), ref.IsSentence(out) || allowed.empty());
          ++steps;
          if (allowed.empty()) break;
          // Long tokens first half the time, so the bounds are reached.
          int32_t id = allowed[rng() % allowed.size()];
          if (rng() % 2 == 0) {
            for (int32_t a : allowed) {
              if (bytes[static_cast<size_t>(a)].size() > bytes[static_cast<size_t>(id)].size()) {
                id = a;
              }
            }
          }
          ASSERT_TRUE(m.AcceptToken(id));
          out += bytes[static_cast<size_t>(id)];
        }
      }
    }
  }
}

// Runs f on a thread with a stack of `bytes`: the reference recognizer
// recurses once per element of a repetition (a string of 300 characters
// here), which overflows the main thread's 8 MiB under ASan.
template <typename F>
void RunWithStack(size_t bytes, F f) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, bytes);
  pthread_t thread;
  auto trampoline = [](void* arg) -> void* {
    (*static_cast<F*>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, trampoline, &f), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

TEST(GrammarMatcherRandomTest, BoundedRepetitionsMatchReference) {
  int steps = 0;
  RunWithStack(size_t{512} << 20, [&] { BoundedRepetitionsBody(&steps); });
  EXPECT_GT(steps, 200);
}

// Matchers of one grammar on several threads fill the shared mask cache
// concurrently and see the same masks as one thread alone.
TEST(GrammarMatcherRandomTest, ThreadsShareTheCache) {
  std::vector<std::string> bytes = {"{",   "}", "\"", "a", "ab", "\"a",
                                    "a\"", ",", ":",  "1", "12", " "};
  std::vector<bool> special(bytes.size(), false);
  bytes.push_back("EOS");
  special.push_back(true);
  auto vocab = TokenVocabulary::FromBytes(bytes, special, {static_cast<int32_t>(bytes.size()) - 1});
  auto g = CompileGbnf(
      "root ::= obj\nobj ::= \"{\" (kv (\",\" kv)*)? \"}\"\nkv ::= str \":\" val\n"
      "val ::= str | [0-9]+ | obj\nstr ::= \"\\\"\" [a-z]* \"\\\"\"\n",
      vocab);
  ASSERT_TRUE(g.ok()) << g.status();
  const std::vector<int32_t> walk = {0, 5, 2, 8, 10, 7, 2, 3, 2, 8, 0, 1, 1};
  auto run = [&](std::vector<std::vector<uint32_t>>* masks) {
    GrammarMatcher m(*g);
    for (int32_t id : walk) {
      std::vector<uint32_t> mask(static_cast<size_t>(vocab->bitmask_words()));
      m.FillNextTokenBitmask(mask.data());
      masks->push_back(mask);
      if (!m.AcceptToken(id)) return;
    }
    masks->push_back({m.CanTerminate() ? 1u : 0u});
  };
  std::vector<std::vector<std::vector<uint32_t>>> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back(run, &r);
  for (auto& t : threads) t.join();
  std::vector<std::vector<uint32_t>> solo;
  run(&solo);
  EXPECT_EQ(solo.size(), walk.size() + 1);
  EXPECT_EQ(solo.back(), std::vector<uint32_t>{1u});
  for (const auto& r : results) EXPECT_EQ(r, solo);
}

}  // namespace
}  // namespace inferd::engine
