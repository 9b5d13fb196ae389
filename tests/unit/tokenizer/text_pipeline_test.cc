// tests/unit/tokenizer/text_pipeline_test.cc — the pieces before the model:
// the PCRE2 regex (Oniguruma-compatible \s, lookahead, invalid UTF-8), HF
// split behaviours, pre-tokenizers and normalisers built from JSON, and the
// byte-level alphabet.
#include <string>
#include <vector>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/split.h"
#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

using Strings = std::vector<std::string>;

constexpr char kQwenRegex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

Strings Split(const Regex& re, std::string_view text) {
  return SplitWithMatches(text, re.FindAll(text), SplitBehavior::kIsolated, false);
}

TEST(TokenizerRegexTest, WhitespaceClassesAreRewritten) {
  EXPECT_EQ(TranslateWhitespaceClasses("\\s+"), "[\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}]+");
  EXPECT_EQ(TranslateWhitespaceClasses("[^\\s\\p{L}]"), "[^\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}\\p{L}]");
  EXPECT_EQ(TranslateWhitespaceClasses("(?!\\S)"), "(?![^\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}])");
  EXPECT_EQ(TranslateWhitespaceClasses("\\\\s[]s]\\Q\\s\\E"), "\\\\s[]s]\\Q\\s\\E");
}

TEST(TokenizerRegexTest, QwenPatternSplitsLikeHf) {
  auto re = Regex::Compile(kQwenRegex);
  ASSERT_TRUE(re.ok()) << re.status();
  EXPECT_EQ(Split(**re, "  double  spaces  "), (Strings{" ", " double", " ", " spaces", "  "}));
  EXPECT_EQ(Split(**re, "DON'T 123"), (Strings{"DON", "'T", " ", "1", "2", "3"}));
  EXPECT_EQ(Split(**re, "line1\r\nline2"), (Strings{"line", "1", "\r\n", "line", "2"}));
  // NEL (U+0085) is whitespace for Oniguruma, not for PCRE2's own \s: as
  // whitespace, the first NEL is "\s+(?!\S)" and the second starts a word;
  // as punctuation both would be one " ?[^\s\p{L}\p{N}]+" piece.
  EXPECT_EQ(Split(**re,
                  "a\xC2\x85\xC2\x85"
                  "b"),
            (Strings{"a", "\xC2\x85",
                     "\xC2\x85"
                     "b"}));
}

TEST(TokenizerRegexTest, InvalidUtf8NeverMatchesAndNeverFails) {
  auto re = Regex::Compile(kQwenRegex);
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(Split(**re,
                  "ab\xFF\xFE"
                  "cd"),
            (Strings{"ab", "\xFF\xFE", "cd"}));
  EXPECT_EQ(Split(**re, "\xC3"), (Strings{"\xC3"}));
}

TEST(TokenizerRegexTest, BadPatternIsAnError) {
  auto re = Regex::Compile("(unclosed");
  ASSERT_FALSE(re.ok());
  EXPECT_NE(re.status().message().find("(unclosed"), std::string::npos);
}

TEST(TokenizerSplitTest, Behaviours) {
  const std::vector<std::pair<size_t, size_t>> dashes = {{1, 2}, {2, 3}, {4, 5}};  // "a--b-c"
  const std::string t = "a--b-c";
  EXPECT_EQ(SplitWithMatches(t, dashes, SplitBehavior::kRemoved, false), (Strings{"a", "b", "c"}));
  EXPECT_EQ(SplitWithMatches(t, dashes, SplitBehavior::kIsolated, false),
            (Strings{"a", "-", "-", "b", "-", "c"}));
  EXPECT_EQ(SplitWithMatches(t, dashes, SplitBehavior::kMergedWithPrevious, false),
            (Strings{"a-", "-", "b-", "c"}));
  EXPECT_EQ(SplitWithMatches(t, dashes, SplitBehavior::kMergedWithNext, false),
            (Strings{"a", "-", "-b", "-c"}));
  EXPECT_EQ(SplitWithMatches(t, dashes, SplitBehavior::kContiguous, false),
            (Strings{"a", "--", "b", "-", "c"}));
  EXPECT_EQ(SplitWithMatches(t, dashes, SplitBehavior::kRemoved, true), (Strings{"-", "-", "-"}));
}

TEST(TokenizerPreTokenizerTest, SequenceOfDigitsAndByteLevel) {
  const auto spec = nlohmann::json::parse(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Digits", "individual_digits": true},
      {"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}]})");
  auto pre = PreTokenizer::FromJson(spec, "pre_tokenizer");
  ASSERT_TRUE(pre.ok()) << pre.status();
  EXPECT_TRUE((*pre)->byte_level());
  // Digits split first; ByteLevel then prefixes every piece with a space.
  EXPECT_EQ((*pre)->PreTokenize("ab12", true), (Strings{"\xC4\xA0"
                                                        "ab",
                                                        "\xC4\xA0"
                                                        "1",
                                                        "\xC4\xA0"
                                                        "2"}));
}

TEST(TokenizerPreTokenizerTest, UnknownTypeIsAnError) {
  auto pre = PreTokenizer::FromJson(nlohmann::json::parse(R"({"type": "Bert"})"), "pre_tokenizer");
  ASSERT_FALSE(pre.ok());
  EXPECT_NE(pre.status().message().find("Bert"), std::string::npos);
}

TEST(TokenizerNormalizerTest, UnicodeFormsPrependReplaceLowercase) {
  auto n = Normalizer::FromJson(nlohmann::json::parse(R"({"type": "Sequence", "normalizers": [
      {"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Prepend", "prepend": "_"},
      {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": "_"}]})"),
                                "normalizer");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ((*n)->Normalize("\xEF\xAC\x81 A  B"), "_fi_a_b");  // ﬁ -> fi
  EXPECT_EQ((*n)->Normalize(""), "");                          // nothing prepended
}

TEST(TokenizerNormalizerTest, InvalidUtf8PassesThrough) {
  auto n = Normalizer::FromJson(nlohmann::json::parse(R"({"type": "NFC"})"), "normalizer");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)->Normalize("e\xCC\x81\xFF"
                            "e\xCC\x81"),
            "\xC3\xA9\xFF\xC3\xA9");
  EXPECT_EQ((*n)->Normalize(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(TokenizerByteLevelTest, AlphabetRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string chars;
  BytesToByteLevel(all, &chars);
  std::string back;
  ASSERT_TRUE(ByteLevelToBytes(chars, &back));
  EXPECT_EQ(back, all);
  std::string one;
  BytesToByteLevel(" \n", &one);
  EXPECT_EQ(one, "\xC4\xA0\xC4\x8A");  // Ġ Ċ
  std::string out = "keep";
  EXPECT_FALSE(ByteLevelToBytes("a b", &out));  // ' ' is not a byte-level character
  EXPECT_EQ(out, "keep");
}

}  // namespace
}  // namespace inferd::engine
