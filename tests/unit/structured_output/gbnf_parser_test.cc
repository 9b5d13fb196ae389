// tests/unit/structured_output/gbnf_parser_test.cc — each GBNF construct,
// each error (the message names the problem and where), round trips, and
// the compile-time checks (left recursion, empty language, limits).
#include "engine/structured_output/gbnf_parser.h"

#include <string>

#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/grammar_automaton.h"
#include "engine/tokenizer/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

using ::testing::HasSubstr;

GbnfGrammar Parse(const std::string& text) {
  auto g = ParseGbnf(text);
  EXPECT_TRUE(g.ok()) << g.status() << "\n" << text;
  return g.ok() ? *g : GbnfGrammar{};
}

std::string ErrorOf(const std::string& text) {
  auto g = ParseGbnf(text);
  EXPECT_FALSE(g.ok()) << text;
  if (g.ok()) return "";
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(g.status().message());
}

std::shared_ptr<const TokenVocabulary> TinyVocab() {
  return TokenVocabulary::FromBytes({"a", "b", "EOS"}, {false, false, true}, {2});
}

std::string CompileError(const std::string& text, const GrammarLimits& limits = {}) {
  auto g = CompileGbnf(text, TinyVocab(), limits);
  EXPECT_FALSE(g.ok()) << text;
  if (g.ok()) return "";
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(g.status().message());
}

TEST(GbnfParserTest, Literals) {
  GbnfGrammar g = Parse(R"(root ::= "ab\n\r\t\\\"\'\[\]\x41\u00e9\U0001F600")");
  ASSERT_EQ(g.rules.size(), 1u);
  EXPECT_EQ(g.rules[0].body.kind, GbnfExpr::Kind::kLiteral);
  EXPECT_EQ(g.rules[0].body.literal, "ab\n\r\t\\\"'[]A\xC3\xA9\xF0\x9F\x98\x80");
  // Raw UTF-8 in the text is a code point.
  EXPECT_EQ(Parse("root ::= \"\xE2\x82\xAC\"").rules[0].body.literal, "\xE2\x82\xAC");
  // \xHH is a code point, as in llama.cpp.
  EXPECT_EQ(Parse(R"(root ::= "\xff")").rules[0].body.literal, "\xC3\xBF");
}

TEST(GbnfParserTest, Classes) {
  GbnfGrammar g = Parse(R"(root ::= [a-cx\u00e9-\u00ea] [^\x00-\U0010fffe] . [] [b-]  )");
  const auto& items = g.rules[0].body.children;
  ASSERT_EQ(items.size(), 5u);
  using R = std::vector<std::pair<uint32_t, uint32_t>>;
  EXPECT_EQ(items[0].ranges, (R{{'a', 'c'}, {'x', 'x'}, {0xE9, 0xEA}}));
  EXPECT_EQ(items[1].ranges, (R{{0x10FFFF, 0x10FFFF}}));
  EXPECT_EQ(items[2].ranges, (R{{0, 0xD7FF}, {0xE000, 0x10FFFF}}));
  EXPECT_TRUE(items[3].ranges.empty());
  EXPECT_EQ(items[4].ranges, (R{{'-', '-'}, {'b', 'b'}}));
  // Negation never yields surrogates.
  EXPECT_EQ(Parse("root ::= [^a]").rules[0].body.ranges,
            (R{{0, 'a' - 1}, {'a' + 1, 0xD7FF}, {0xE000, 0x10FFFF}}));
}

TEST(GbnfParserTest, StructureRepetitionsCommentsAndRules) {
  GbnfGrammar g = Parse(
      "# a comment\n"
      "root ::= a b* | (c \"x\")+ # trailing comment\n"
      "   | d?\n"
      "a ::= \"a\"{2} \"b\"{1,} \"c\"{0,3} \"d\"{ 2 , 4 }\n"
      "b-2 ::= \"\"\n"
      "b ::= b-2 \"b\"\n"
      "c ::=\n  \"c\"\n  \"d\"\n"
      "d ::= [0-9]");
  ASSERT_EQ(g.rules.size(), 6u);
  EXPECT_EQ(g.rules[static_cast<size_t>(g.root)].name, "root");
  const GbnfExpr& root = g.rules[0].body;
  ASSERT_EQ(root.kind, GbnfExpr::Kind::kAlternatives);
  ASSERT_EQ(root.children.size(), 3u);
  EXPECT_EQ(root.children[0].children[1].kind, GbnfExpr::Kind::kRepeat);
  EXPECT_EQ(root.children[0].children[1].min, 0);
  EXPECT_EQ(root.children[0].children[1].max, -1);
  EXPECT_EQ(root.children[1].min, 1);
  EXPECT_EQ(root.children[2].max, 1);
  const GbnfExpr& a = g.rules[1].body;
  ASSERT_EQ(a.children.size(), 4u);
  EXPECT_EQ(a.children[0].min, 2);
  EXPECT_EQ(a.children[0].max, 2);
  EXPECT_EQ(a.children[1].max, -1);
  EXPECT_EQ(a.children[2].max, 3);
  EXPECT_EQ(a.children[3].min, 2);
  EXPECT_EQ(a.children[3].max, 4);
  // The rule c continues over lines.
  int c = -1;
  for (size_t i = 0; i < g.rules.size(); ++i) {
    if (g.rules[i].name == "c") c = static_cast<int>(i);
  }
  ASSERT_GE(c, 0);
  EXPECT_EQ(g.rules[static_cast<size_t>(c)].body.children.size(), 2u);
}

TEST(GbnfParserTest, RoundTrip) {
  const char* texts[] = {
      "root ::= \"a\\\"b\\\\\" [^a-c\\]\\-] . ( x | \"\" )* x{2,5}\nx ::= \"\\u20ac\" | "
      "[\\U0001F600-\\U0001F64F]+",
      "root ::= (\"[\" ws (v (\",\" ws v)*)? \"]\")\nv ::= [0-9]+ | root\nws ::= [ \\t\\n]*",
  };
  for (const char* t : texts) {
    GbnfGrammar g = Parse(t);
    std::string once = GbnfToString(g);
    GbnfGrammar g2 = Parse(once);
    EXPECT_EQ(GbnfToString(g2), once) << t;
  }
}

TEST(GbnfParserTest, SyntaxErrorsNameTheProblemAndPlace) {
  EXPECT_THAT(ErrorOf("root ::= \"abc"), HasSubstr("1:10 (rule root): unterminated string"));
  EXPECT_THAT(ErrorOf("root ::= [abc"), HasSubstr("unterminated character class"));
  EXPECT_THAT(ErrorOf("root ::= (\"a\""), HasSubstr("'(' without a matching ')'"));
  EXPECT_THAT(ErrorOf("root ::= \"a\")"), HasSubstr("unexpected ')'"));
  EXPECT_THAT(ErrorOf("root ::= \"a\"\nx ::= \"\\q\""), HasSubstr("2:8 (rule x): unknown escape"));
  EXPECT_THAT(ErrorOf("root ::= \"\\uD800\""), HasSubstr("invalid code point"));
  EXPECT_THAT(ErrorOf("root ::= \"\\U00110000\""), HasSubstr("invalid code point"));
  EXPECT_THAT(ErrorOf("root ::= \"\\x4\""), HasSubstr("hex digit"));
  EXPECT_THAT(ErrorOf("root ::= [z-a]"), HasSubstr("end before its start"));
  EXPECT_THAT(ErrorOf("root ::= \"a\"{3,2}"), HasSubstr("n < m"));
  EXPECT_THAT(ErrorOf("root ::= \"a\"{x}"), HasSubstr("expected a number"));
  EXPECT_THAT(ErrorOf("root ::= \"a\"{2"), HasSubstr("expected ',' or '}'"));
  EXPECT_THAT(ErrorOf("root ::= \"a\"{99999999999}"), HasSubstr("repetition bound"));
  EXPECT_THAT(ErrorOf("root = \"a\""), HasSubstr("expected '::='"));
  EXPECT_THAT(ErrorOf("root ::= \"a\" @"), HasSubstr("unexpected character '@'"));
  EXPECT_THAT(ErrorOf("::= \"a\""), HasSubstr("expected a rule name"));
  EXPECT_THAT(ErrorOf("root ::= \"a\xff\""), HasSubstr("invalid UTF-8"));
  EXPECT_THAT(ErrorOf("root ::= x\nx ::= \"a\"\nx ::= \"b\""),
              HasSubstr("3:1 (rule x): rule 'x' defined twice"));
  EXPECT_THAT(ErrorOf("root ::= \"a\" y\n"), HasSubstr("1:14 (rule root): undefined rule 'y'"));
  EXPECT_THAT(ErrorOf("a ::= \"a\""), HasSubstr("no 'root' rule"));
  EXPECT_THAT(ErrorOf(""), HasSubstr("no 'root' rule"));
}

TEST(GbnfCompileTest, LeftRecursionIsRejected) {
  EXPECT_THAT(CompileError("root ::= root \"a\" | \"b\""),
              HasSubstr("left recursion: root -> root"));
  EXPECT_THAT(CompileError("root ::= x\nx ::= y \"a\"\ny ::= \"\" | x"),
              HasSubstr("left recursion"));
  // Through a nullable prefix.
  EXPECT_THAT(CompileError("root ::= e root \"a\" | \"b\"\ne ::= \"x\"?"),
              HasSubstr("left recursion"));
  EXPECT_THAT(CompileError("root ::= (\"a\"* root) | \"b\""), HasSubstr("left recursion"));
  // Right recursion is fine.
  EXPECT_TRUE(CompileGbnf("root ::= \"a\" root | \"b\"", TinyVocab()).ok());
}

TEST(GbnfCompileTest, EmptyLanguageIsRejected) {
  EXPECT_THAT(CompileError("root ::= []"), HasSubstr("language is empty"));
  EXPECT_THAT(CompileError("root ::= \"a\" root"), HasSubstr("language is empty"));
  EXPECT_THAT(CompileError("root ::= x | [^\\x00-\\U0010FFFF]\nx ::= \"(\" x \")\""),
              HasSubstr("language is empty"));
  // An unproductive alternative is only dropped.
  EXPECT_TRUE(CompileGbnf("root ::= x | \"a\"\nx ::= \"(\" x \")\"", TinyVocab()).ok());
}

TEST(GbnfCompileTest, LimitsAreEnforced) {
  GrammarLimits small;
  small.max_states = 1000;
  EXPECT_THAT(CompileError("root ::= (\"abc\" | [a-z]){0,900}", small), HasSubstr("too large"));
  EXPECT_THAT(CompileError("root ::= \"a\"{0,2000}", small), HasSubstr("repetition bound"));
  GrammarLimits bytes;
  bytes.max_grammar_bytes = 10;
  EXPECT_THAT(CompileError("root ::= \"0123456789\"", bytes), HasSubstr("too large"));
  // A big repetition under a timeout that has already passed.
  GrammarLimits fast;
  fast.compile_timeout = absl::ZeroDuration();
  EXPECT_THAT(CompileError("root ::= ([a-z] \"x\"?){0,100000}", fast),
              testing::AnyOf(HasSubstr("longer than"), HasSubstr("too large")));
}

TEST(Utf8RangeSequencesTest, CoversExactlyTheRange) {
  // Every code point in [lo, hi] (no surrogates) is matched by exactly one
  // sequence, and nothing else is.
  const std::pair<uint32_t, uint32_t> cases[] = {
      {0, 0x7F},           {0x41, 0x900},     {0x7FF, 0x800}, {0xE000, 0x10FFFF},
      {0x10000, 0x10FFFF}, {0x1234, 0x1F600}, {0x80, 0xD7FF}};
  for (auto [lo, hi] : cases) {
    std::vector<std::vector<std::pair<uint8_t, uint8_t>>> seqs;
    Utf8RangeSequences(lo, hi, &seqs);
    auto matches = [&](const std::string& b) {
      int n = 0;
      for (const auto& s : seqs) {
        if (s.size() != b.size()) continue;
        bool ok = true;
        for (size_t i = 0; i < s.size(); ++i) {
          auto c = static_cast<uint8_t>(b[i]);
          ok = ok && c >= s[i].first && c <= s[i].second;
        }
        n += ok;
      }
      return n;
    };
    for (uint32_t cp = 0; cp <= kMaxCodePoint; cp += (cp < 0x20000 ? 1 : 97)) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      std::string b;
      AppendUtf8(cp, &b);
      EXPECT_EQ(matches(b), (cp >= lo && cp <= hi) ? 1 : 0) << lo << "-" << hi << " cp " << cp;
    }
  }
}

}  // namespace
}  // namespace inferd::engine
