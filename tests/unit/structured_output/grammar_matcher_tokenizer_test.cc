// tests/unit/structured_output/grammar_matcher_tokenizer_test.cc — the
// matcher with real vocabularies (Llama 3 byte-level BPE, Llama 2
// sentencepiece with byte fallback) from ../shared: a JSON grammar accepts
// every token of valid JSON texts, refuses an invalid one at the first
// token that cannot continue, and the cached masks equal the per-token full
// check (IsTokenAllowed) over the whole vocabulary, also for grammars whose
// masks the walk decides a subtree at a time (token_mask_walk.h): string
// content over whole UTF-8 characters, bounded repetitions, "any key but").
#include <memory>
#include <string>
#include <vector>

#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/grammar_matcher.h"
#include "engine/structured_output/token_mask_walk.h"
#include "engine/structured_output/token_vocabulary.h"
#include "engine/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace inferd::engine {
namespace {

constexpr char kJsonGrammar[] = R"(
root   ::= ws value ws
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
array  ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws     ::= [ \t\n\r]*
)";

struct Loaded {
  std::unique_ptr<Tokenizer> tokenizer;
  std::shared_ptr<const TokenVocabulary> vocab;
};

Loaded Load(const std::string& rel) {
  Loaded l;
  auto tok = Tokenizer::FromDirectory(::inferd::testing::SharedPath(rel));
  EXPECT_TRUE(tok.ok()) << tok.status();
  if (!tok.ok()) return l;
  l.tokenizer = *std::move(tok);
  l.vocab = TokenVocabulary::FromTokenizer(*l.tokenizer, {l.tokenizer->eos_id()});
  return l;
}

bool Bit(const std::vector<uint32_t>& m, int32_t id) { return (m[id / 32] >> (id % 32)) & 1; }

// Every position: the mask bit of every token equals IsTokenAllowed.
void CheckMaskAgainstFullCheck(GrammarMatcher& m, const TokenVocabulary& v) {
  std::vector<uint32_t> mask(static_cast<size_t>(v.bitmask_words()));
  m.FillNextTokenBitmask(mask.data());
  int allowed = 0;
  for (int32_t id = 0; id < v.size(); ++id) {
    ASSERT_EQ(Bit(mask, id), m.IsTokenAllowed(id)) << "token " << id << " '" << v.bytes(id) << "'";
    allowed += Bit(mask, id);
  }
  EXPECT_GT(allowed, 0);
}

void RunJson(const std::string& rel) {
  Loaded l = Load(rel);
  ASSERT_NE(l.vocab, nullptr);
  const TokenVocabulary& v = *l.vocab;
  auto g = CompileGbnf(kJsonGrammar, l.vocab);
  ASSERT_TRUE(g.ok()) << g.status();
  const int32_t eos = l.tokenizer->eos_id();
  const std::vector<std::string> valid = {
      R"({"name": "Ada Lovelace", "born": 1815, "tags": ["math", "poetry\n", "\u00e9"], "ok": true})",
      "[1, -2.5e+3, {\"k\": null}, \"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\", []]",
      "  {\"a\":{\"b\":{\"c\":[0,1,2]}}}\n",
  };
  std::vector<uint32_t> mask(static_cast<size_t>(v.bitmask_words()));
  for (size_t t = 0; t < valid.size(); ++t) {
    SCOPED_TRACE(valid[t]);
    std::vector<int32_t> ids = l.tokenizer->Encode(valid[t], /*add_special_tokens=*/false);
    GrammarMatcher m(*g);
    size_t consumed = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (t == 0 && i % 5 == 0) CheckMaskAgainstFullCheck(m, v);
      m.FillNextTokenBitmask(mask.data());
      ASSERT_TRUE(Bit(mask, ids[i])) << "token " << i << " '" << v.bytes(ids[i]) << "'";
      // EOS only once the value is complete (only whitespace left).
      if (valid[t].find_first_not_of(" \n", consumed) != std::string::npos && consumed > 0) {
        ASSERT_FALSE(Bit(mask, eos)) << "EOS before the end, token " << i;
      }
      ASSERT_TRUE(m.AcceptToken(ids[i]));
      consumed += v.bytes(ids[i]).size();
    }
    EXPECT_TRUE(m.CanTerminate());
    m.FillNextTokenBitmask(mask.data());
    EXPECT_TRUE(Bit(mask, eos));
    EXPECT_TRUE(m.AcceptToken(eos));
    EXPECT_TRUE(m.IsTerminated());
  }
  // Invalid texts: the tokens before the first bad byte are allowed, the
  // token holding it is refused.
  const std::vector<std::pair<std::string, size_t>> invalid = {
      {R"({"a": 1,, "b": 2})", 8}, {R"([1, 2, 03])", 8}, {R"({"a" 1})", 5}, {"[\"tab\there\"]", 5}};
  for (const auto& [text, bad] : invalid) {
    SCOPED_TRACE(text);
    std::vector<int32_t> ids = l.tokenizer->Encode(text, false);
    // A sentencepiece dummy prefix adds a leading space (allowed by ws).
    std::string all;
    for (int32_t id : ids) all += std::string(v.bytes(id));
    ASSERT_GE(all.size(), text.size());
    size_t shift = all.size() - text.size();
    GrammarMatcher m(*g);
    size_t consumed = 0;
    bool refused = false;
    for (int32_t id : ids) {
      size_t len = v.bytes(id).size();
      m.FillNextTokenBitmask(mask.data());
      if (consumed + len <= bad + shift) {
        ASSERT_TRUE(Bit(mask, id)) << "token at byte " << consumed;
        ASSERT_TRUE(m.AcceptToken(id));
      } else {
        EXPECT_FALSE(Bit(mask, id)) << "token at byte " << consumed;
        EXPECT_FALSE(m.IsTokenAllowed(id));
        EXPECT_FALSE(m.AcceptToken(id));
        refused = true;
        break;
      }
      consumed += len;
    }
    EXPECT_TRUE(refused);
  }
  // A completed grammar: after "true" only EOS may follow once ws is excluded.
  auto done = CompileGbnf("root ::= \" \"? \"true\"", l.vocab);  // sentencepiece: \" true\"
  ASSERT_TRUE(done.ok());
  GrammarMatcher m(*done);
  for (int32_t id : l.tokenizer->Encode("true", false)) ASSERT_TRUE(m.AcceptToken(id));
  EXPECT_TRUE(m.IsCompleted());
  EXPECT_TRUE(m.CanTerminate());
}

TEST(GrammarMatcherTokenizerTest, JsonWithLlama3) {
  INFERD_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  RunJson("tokenizers/llama3");
}

TEST(GrammarMatcherTokenizerTest, JsonWithLlama2) {
  INFERD_REQUIRE_SHARED("tokenizers/llama2");
  RunJson("tokenizers/llama2");
}

// Grammars where the walk decides whole trie subtrees (a set reading every
// character below back to itself, or a chain of such sets for bounded
// repetitions): at every token of a text, the mask equals IsTokenAllowed
// for all 128k tokens.
TEST(GrammarMatcherTokenizerTest, SubtreeShortcutsWithLlama3) {
  INFERD_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  Loaded l = Load("tokenizers/llama3");
  ASSERT_NE(l.vocab, nullptr);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(root ::= "\"" [^"\\\x00-\x1f]* "\"")",
       "\"h\xC3\xA9llo w\xC3\xB6rld \xE2\x82\xAC\xF0\x9F\x98\x80 the rain in Spain\""},
      {R"(root ::= "\"" [^"\\\x00-\x1f]{0,30} "\"")", "\"na\xC3\xAFve caf\xC3\xA9 owner\""},
      {R"(root ::= "\"" ( [^"\\\x00-\x1f] | "\\" ["\\/bfnrt] ){2,12} "\"" ":" [0-9]+)",
       "\"abc\\ndef\":42"},
      {R"(root ::= "\"" ( [^"a\\\x00-\x1f] [^"\\\x00-\x1f]* | "a" ( [^"g\\\x00-\x1f] [^"\\\x00-\x1f]* )? ) "\"")",
       "\"zebra crossing\""},
      {R"(root ::= [a-zA-Z ]{1,50} ".")", "Hello there general Kenobi."},
      // Another "any key but": its string content reuses the walks of the
      // one above (the subtree memo), also through the extra `q` branch.
      {R"(root ::= "\"" ( [^"bq\\\x00-\x1f] [^"\\\x00-\x1f]* | "b" ( [^"e\\\x00-\x1f] [^"\\\x00-\x1f]* )? | "q" [^"\\\x00-\x1f]* ) "\"")",
       "\"zebra beta\""},
  };
  const int64_t decided_before = TokenMaskSubtreesDecided();
  const int64_t reused_before = TokenMaskSubtreesReused();
  for (const auto& [grammar, text] : cases) {
    SCOPED_TRACE(grammar);
    auto g = CompileGbnf(grammar, l.vocab);
    ASSERT_TRUE(g.ok()) << g.status();
    GrammarMatcher m(*g);
    for (int32_t id : l.tokenizer->Encode(text, /*add_special_tokens=*/false)) {
      CheckMaskAgainstFullCheck(m, *l.vocab);
      if (HasFatalFailure()) return;
      ASSERT_TRUE(m.AcceptToken(id)) << "'" << l.vocab->bytes(id) << "'";
    }
    EXPECT_TRUE(m.CanTerminate());
  }
  EXPECT_GT(TokenMaskSubtreesDecided(), decided_before);
  EXPECT_GT(TokenMaskSubtreesReused(), reused_before);
}

// Bounded repetitions: positions far from the bound share subtree walks
// (their canonical forms agree as far as a token can read), positions near
// it must not, and every mask equals the plain per-token check.
TEST(GrammarMatcherTokenizerTest, BoundedRepetitionsShareWalksAcrossPositions) {
  INFERD_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  Loaded l = Load("tokenizers/llama3");
  ASSERT_NE(l.vocab, nullptr);
  const std::string words =
      "the quick brown fox jumps over the lazy dog while seven wizards quietly hex "
      "every jovial bystander in the old town square near the river";
  struct Case {
    std::string grammar;
    std::string text;
    bool reuses;  // positions of this grammar reuse each other's walks
  };
  const std::vector<Case> cases = {
      {R"(root ::= "\"" [^"\\\x00-\x1f]{0,200} "\"" ":" [0-9]+)", "\"" + words + "\":42", true},
      // Filled to the bound: the last positions differ from the far ones.
      {R"(root ::= "\"" [^"\\\x00-\x1f]{0,45} "\"")", "\"" + words.substr(0, 45) + "\"", false},
      // The item a rule (an escape reads two bytes for one item).
      {R"(root ::= "\"" c{3,60} "\"" ","
c ::= [^"\\\x00-\x1f] | "\\" ["\\/bfnrt])",
       "\"" + words.substr(0, 30) + "\\n\\\"" + words.substr(30, 26) + "\",", false},
      {R"(root ::= [a-zA-Z ]{1,150} ".")", words.substr(0, 120) + ".", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.grammar);
    auto g = CompileGbnf(c.grammar, l.vocab);
    ASSERT_TRUE(g.ok()) << g.status();
    const int64_t reused_before = TokenMaskSubtreesReused();
    GrammarMatcher m(*g);
    for (int32_t id : l.tokenizer->Encode(c.text, /*add_special_tokens=*/false)) {
      CheckMaskAgainstFullCheck(m, *l.vocab);
      if (HasFatalFailure()) return;
      ASSERT_TRUE(m.AcceptToken(id)) << "'" << l.vocab->bytes(id) << "'";
    }
    EXPECT_TRUE(m.CanTerminate());
    if (c.reuses) {
      EXPECT_GT(TokenMaskSubtreesReused(), reused_before + 10);
    }
  }
}

}  // namespace
}  // namespace inferd::engine
