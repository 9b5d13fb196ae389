// tests/unit/structured_output/regex_to_gbnf_test.cc — RegexToGbnf as a
// language: hand-written accept/reject cases, std::regex (ECMAScript) as
// the reference on random regexes and strings, and the refused constructs.
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "engine/structured_output/constraint_to_gbnf.h"
#include "gtest/gtest.h"
#include "tests/unit/structured_output/byte_language.h"

namespace inferd::engine {
namespace {

ByteLanguage Lang(const std::string& regex) {
  absl::StatusOr<std::string> g = RegexToGbnf(regex);
  EXPECT_TRUE(g.ok()) << regex << ": " << g.status();
  absl::StatusOr<ByteLanguage> l = ByteLanguage::Compile(g.ok() ? *g : "root ::= \"\"");
  EXPECT_TRUE(l.ok()) << regex << "\n" << (g.ok() ? *g : "") << "\n" << l.status();
  return *std::move(l);
}

struct Case {
  std::string regex;
  std::vector<std::string> accept;
  std::vector<std::string> reject;
};

TEST(RegexToGbnf, HandWrittenLanguages) {
  const std::vector<Case> cases = {
      {"abc", {"abc"}, {"", "ab", "abcd", "abd"}},
      {"^a|b$", {"a", "b"}, {"", "ab"}},
      {"[a-c]+x?", {"a", "abcx", "ccc"}, {"", "x", "abx y"}},
      {"\\d{2,3}-(foo|bar)", {"12-foo", "123-bar"}, {"1-foo", "1234-foo", "12-baz"}},
      {"(?:ab)*", {"", "ab", "abab"}, {"a", "aba"}},
      {"a{3}", {"aaa"}, {"aa", "aaaa"}},
      {"a{2,}", {"aa", "aaaaaa"}, {"a"}},
      {"a{0,2}?b+?", {"b", "aab", "abbb"}, {"aaab", "a"}},
      {"[^a-c]", {"d", "\n", "\xC3\xA9"}, {"a", "b", ""}},
      {".", {"x", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}, {"\n", "\r", "\xE2\x80\xA8", "xy"}},
      {"\\w+\\s\\W", {"ab_9 !", "x\t-"}, {"ab_9 a", "\xC3\xA9 !"}},
      {"[\\d.]+", {"1.5", "..."}, {"1,5"}},
      {"\\u00e9\\x41\\t",
       {"\xC3\xA9"
        "A\t"},
       {"eA\t"}},
      {"[\\]\\-^]", {"]", "-", "^"}, {"\\"}},
      {"a|", {"a", ""}, {"b"}},
      {"(a|ab)(c|bcd)", {"ac", "abcd", "abc"}, {"ab", "abd"}},
      {"\\.\\*\\/\\{", {".*/{"}, {"a*/{"}},
      {"x{", {"x{"}, {"x"}},
      {"[\\s\\S]", {" ", "a", "\n"}, {""}},
      {"\\D\\S", {"a!"}, {"1a", "a "}},
      {"\\u{1F600}", {"\xF0\x9F\x98\x80"}, {"x"}},
      {"(?<year>\\d{4})-\\d{2}", {"2024-01"}, {"24-01"}},
      {"^$|(^(?:[a-z]+ ){0,2}[a-z]+$)", {"", "ab", "ab cd ef"}, {" ", "ab cd ef gh", "ab "}},
      {"(^[a-c]+$)", {"abc"}, {"abd", ""}},
      {"^(x|$)", {"x", ""}, {"y", "xx"}},
  };
  for (const Case& c : cases) {
    ByteLanguage l = Lang(c.regex);
    for (const std::string& s : c.accept)
      EXPECT_TRUE(l.Accepts(s)) << c.regex << " should accept '" << s << "'";
    for (const std::string& s : c.reject)
      EXPECT_FALSE(l.Accepts(s)) << c.regex << " should reject '" << s << "'";
  }
}

// Random regexes over {a, b, c} against std::regex_match (ECMAScript).
class RegexGen {
 public:
  explicit RegexGen(std::mt19937* rng) : rng_(*rng) {}
  std::string Alt(int depth) {
    std::string s = Seq(depth);
    while (Pick(4) == 0) s += "|" + Seq(depth);
    return s;
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }
  std::string Seq(int depth) {
    std::string s;
    const int n = Pick(4);
    for (int i = 0; i < n; ++i) s += Quantified(depth);
    return s;
  }
  std::string Quantified(int depth) {
    std::string atom = Atom(depth);
    static const char* const kQ[] = {"",    "",      "",     "*",  "+",    "?",
                                     "{2}", "{0,2}", "{1,}", "*?", "{1,3}"};
    return atom + kQ[Pick(11)];
  }
  std::string Atom(int depth) {
    static const char* const kAtoms[] = {"a", "b",     "c",   "[ab]", "[^a]",
                                         ".", "[a-b]", "\\w", "[^bc]"};
    if (depth < 3 && Pick(4) == 0) return (Pick(2) ? "(" : "(?:") + Alt(depth + 1) + ")";
    return kAtoms[Pick(9)];
  }
  std::mt19937& rng_;
};

TEST(RegexToGbnf, AgreesWithStdRegexOnRandomRegexes) {
  std::mt19937 rng(1234);
  RegexGen gen(&rng);
  int checked = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const std::string re = gen.Alt(0);
    const std::regex reference(re, std::regex::ECMAScript);
    ByteLanguage l = Lang(re);
    for (int k = 0; k < 40; ++k) {
      std::string s;
      const int len = static_cast<int>(rng() % 7);
      for (int i = 0; i < len; ++i) s.push_back("abcd"[rng() % 4]);
      EXPECT_EQ(l.Accepts(s), std::regex_match(s, reference))
          << "regex " << re << " on '" << s << "'";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 300 * 40);
}

TEST(RegexToGbnf, RefusedConstructsNameTheProblemAndOffset) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"(a)\\1", "backreference"},
      {"a(?=b)", "lookaround"},
      {"a(?!b)", "lookaround"},
      {"(?<=a)b", "lookaround"},
      {"\\bword", "word boundary"},
      {"(ab", "unclosed group"},
      {"ab)", "unmatched ')'"},
      {"[z-a]", "out of order"},
      {"*a", "nothing to repeat"},
      {"a**", "nothing to repeat"},
      {"a{5,2}", "n < m"},
      {"a{100000}", "repetition bound"},
      {"((a{1000}){1000}){1000}", "expand"},
      {"[abc", "unclosed character class"},
      {"\\p{L}", "Unicode property"},
      {"a\\", "trailing backslash"},
      {"\\q", "unknown escape"},
      {"a^b", "anchors"},
      {"[]", "empty character class"},
      {"(?i)abc", "group syntax"},
      {"\\xZZ", "hex escape"},
      {"\xff", "UTF-8"},
  };
  for (const auto& [re, what] : bad) {
    absl::StatusOr<std::string> g = RegexToGbnf(re);
    ASSERT_FALSE(g.ok()) << re;
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument) << re;
    EXPECT_NE(std::string(g.status().message()).find(what), std::string::npos)
        << re << ": " << g.status().message();
    if (what != "expand") {
      EXPECT_NE(std::string(g.status().message()).find("offset"), std::string::npos)
          << g.status().message();
    }
  }
}

TEST(RegexToGbnf, ExponentialAlternationsStayLinear) {
  // (a|aa)* style nesting: the GBNF is linear in the regex, not in its
  // expansions, and compiles.
  std::string re;
  for (int i = 0; i < 30; ++i) re += "(a|aa)*";
  absl::StatusOr<std::string> g = RegexToGbnf(re);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_LT(g->size(), 4000u);
  ByteLanguage l = Lang(re);
  EXPECT_TRUE(l.Accepts(std::string(50, 'a')));
  EXPECT_FALSE(l.Accepts("ab"));
}

}  // namespace
}  // namespace inferd::engine
