// tests/unit/tokenizer/hf_tokenizer_test.cc — the tokenizer.json pipeline on
// small files built here: BPE merges by rank (leftmost on ties), byte
// fallback, unknown-token fusing, ignore_merges, merges written as pairs,
// added tokens (lstrip / rstrip / single_word / normalized), BOS from the
// template and from tokenizer_config.json, decoding, invalid UTF-8 input.
#include <string>

#include "gtest/gtest.h"
#include "tests/unit/tokenizer/tokenizer_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::ByteLevelTokenizerJson;
using ::inferd::testing::Json;
using ::inferd::testing::LoadJson;
using ::inferd::testing::MetaspaceTokenizerJson;
using ::inferd::testing::WriteTemp;

using Ids = std::vector<int32_t>;

constexpr char kSp[] = "\xE2\x96\x81";  // ▁
constexpr char kGpt2Regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

int Byte(unsigned char b) { return 3 + b; }  // <0xXX> ids of the metaspace files

// ids: ▁=259 a=260 b=261 c=262 ab=263 bc=264 abc=265 aa=266
const std::vector<std::string> kPieces = {kSp, "a", "b", "c", "ab", "bc", "abc", "aa"};

TEST(TokenizerHfTest, MergesApplyInRankOrder) {
  auto first_bc = LoadJson(MetaspaceTokenizerJson(kPieces, {"b c", "a b", "ab c"}), "r1.json");
  auto first_ab = LoadJson(MetaspaceTokenizerJson(kPieces, {"a b", "b c", "ab c"}), "r2.json");
  ASSERT_NE(first_bc, nullptr);
  ASSERT_NE(first_ab, nullptr);
  EXPECT_EQ(first_bc->Encode("abc", false), (Ids{259, 260, 264}));  // ▁ a bc: no "a bc"
  EXPECT_EQ(first_ab->Encode("abc", false), (Ids{259, 265}));       // ▁ ab c -> ▁ abc
  EXPECT_EQ(first_ab->Encode("abc", true), (Ids{1, 259, 265}));
}

TEST(TokenizerHfTest, EqualRanksMergeLeftmostFirst) {
  auto tok = LoadJson(MetaspaceTokenizerJson(kPieces, {"a a"}), "tie.json");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("aaa", false), (Ids{259, 266, 260}));
  EXPECT_EQ(tok->Encode("aaaa", false), (Ids{259, 266, 266}));
}

TEST(TokenizerHfTest, MergesMayBeWrittenAsPairs) {
  Json j = MetaspaceTokenizerJson(kPieces, {});
  j["model"]["merges"] = Json::array({Json::array({"a", "b"}), Json::array({"ab", "c"})});
  auto tok = LoadJson(j, "pairs.json");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("abc", false), (Ids{259, 265}));
}

TEST(TokenizerHfTest, ByteFallbackAndUnknownFusing) {
  auto tok = LoadJson(MetaspaceTokenizerJson(kPieces, {}), "bf.json");
  ASSERT_NE(tok, nullptr);
  // é is not a piece: its two bytes.
  EXPECT_EQ(tok->Encode("a\xC3\xA9", false), (Ids{259, 260, Byte(0xC3), Byte(0xA9)}));
  EXPECT_EQ(tok->Decode({259, 260, Byte(0xC3), Byte(0xA9)}, true), "a\xC3\xA9");
  // Invalid UTF-8 goes through byte fallback too, and decodes to U+FFFD.
  EXPECT_EQ(tok->Encode("\xFF", false), (Ids{259, Byte(0xFF)}));
  EXPECT_EQ(tok->Decode({259, Byte(0xFF)}, true), "\xEF\xBF\xBD");

  Json j = MetaspaceTokenizerJson(kPieces, {});
  j["model"]["byte_fallback"] = false;
  auto unk = LoadJson(j, "unk.json");
  ASSERT_NE(unk, nullptr);
  EXPECT_EQ(unk->Encode("\xC3\xA9\xC3\xA9"
                        "a",
                        false),
            (Ids{259, 0, 260}));  // fused
  j["model"]["fuse_unk"] = false;
  auto unfused = LoadJson(j, "unfused.json");
  ASSERT_NE(unfused, nullptr);
  EXPECT_EQ(unfused->Encode("\xC3\xA9\xC3\xA9"
                            "a",
                            false),
            (Ids{259, 0, 0, 260}));
}

TEST(TokenizerHfTest, DecodeStripsOneLeadingSpaceAndSkipsSpecials) {
  auto tok = LoadJson(MetaspaceTokenizerJson(kPieces, {"a b"}), "dec.json");
  ASSERT_NE(tok, nullptr);
  EXPECT_TRUE(tok->strips_leading_space());
  const Ids ids = tok->Encode("  ab a", true);  // BOS, prefix ▁, ▁ ▁ ab ▁ a
  EXPECT_EQ(ids, (Ids{1, 259, 259, 259, 263, 259, 260}));
  EXPECT_EQ(tok->Decode(ids, true), "  ab a");
  EXPECT_EQ(tok->Decode(ids, false), "<s>   ab a");      // nothing to strip after "<s>"
  EXPECT_EQ(tok->Decode({999999, -1, 260}, true), "a");  // out of range: skipped
  EXPECT_EQ(tok->TokenBytes(259), " ");
  EXPECT_EQ(tok->TokenBytes(Byte('\n')), "\n");
  EXPECT_EQ(tok->TokenBytes(1), "<s>");
  EXPECT_EQ(tok->IdToPiece(Byte('\n')), "<0x0A>");
  EXPECT_EQ(tok->PieceToId("ab"), 263);
  EXPECT_EQ(tok->PieceToId("zz"), -1);
  EXPECT_TRUE(tok->IsSpecial(1));
  EXPECT_FALSE(tok->IsSpecial(260));
}

TEST(TokenizerHfTest, EmptyTextIsBosAlone) {
  auto tok = LoadJson(MetaspaceTokenizerJson(kPieces, {}), "empty.json");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("", true), (Ids{1}));
  EXPECT_EQ(tok->Encode("", false), (Ids{}));
  EXPECT_TRUE(tok->adds_bos());
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
}

TEST(TokenizerHfTest, TokenizerConfigOverridesTheTemplate) {
  const std::string json = WriteTemp("cfg.json", MetaspaceTokenizerJson(kPieces, {}).dump());
  const std::string no_bos =
      WriteTemp("no_bos_config.json", R"({"add_bos_token": false, "add_eos_token": true})");
  auto tok = Tokenizer::FromFile(json, no_bos);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_FALSE((*tok)->adds_bos());
  EXPECT_EQ((*tok)->Encode("a", true), (Ids{259, 260, 2}));
}

TEST(TokenizerHfTest, SpecialTokensInTheTextAreMatched) {
  auto tok = LoadJson(MetaspaceTokenizerJson(kPieces, {}), "special.json");
  ASSERT_NE(tok, nullptr);
  // Each text segment gets its own "▁" prefix (HF's legacy llama behaviour).
  EXPECT_EQ(tok->Encode("a</s>a", false), (Ids{259, 260, 2, 259, 260}));
  EXPECT_EQ(tok->Decode({259, 260, 2, 259, 260}, true), "a a");
  EXPECT_EQ(tok->Decode({259, 260, 2, 259, 260}, false), "a</s> a");
}

TEST(TokenizerHfTest, IgnoreMergesTakesWholeVocabularyPieces) {
  // "abc" is a piece, but no merge produces it.
  Json j = ByteLevelTokenizerJson({"abc"}, {}, kGpt2Regex);
  auto merging = LoadJson(j, "merging.json");
  j["model"]["ignore_merges"] = true;
  auto ignoring = LoadJson(j, "ignoring.json");
  ASSERT_NE(merging, nullptr);
  ASSERT_NE(ignoring, nullptr);
  EXPECT_EQ(merging->Encode("abc", false), (Ids{'a', 'b', 'c'}));
  EXPECT_EQ(ignoring->Encode("abc", false), (Ids{256}));
}

TEST(TokenizerHfTest, ByteLevelRoundTripsAnyBytes) {
  auto tok = LoadJson(ByteLevelTokenizerJson({}, {}, kGpt2Regex), "bl.json");
  ASSERT_NE(tok, nullptr);
  EXPECT_FALSE(tok->strips_leading_space());
  EXPECT_FALSE(tok->adds_bos());
  EXPECT_EQ(tok->IdToPiece(' '), "\xC4\xA0");  // Ġ
  EXPECT_EQ(tok->TokenBytes(' '), " ");
  const std::string text = "Hi \xF0\x9F\x99\x82 \xFF\xFE end\r\n";
  const Ids ids = tok->Encode(text, true);
  EXPECT_EQ(ids.size(), text.size());  // no merges: one id per byte
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], static_cast<uint8_t>(text[i]));
  EXPECT_EQ(tok->Decode(ids, true), "Hi \xF0\x9F\x99\x82 \xEF\xBF\xBD\xEF\xBF\xBD end\r\n");
  // Half a character decodes to one U+FFFD (from_utf8_lossy).
  EXPECT_EQ(tok->Decode({0xF0, 0x9F}, true), "\xEF\xBF\xBD");
}

TEST(TokenizerHfTest, AddedTokenFlags) {
  Json j = ByteLevelTokenizerJson({}, {}, kGpt2Regex, {"<L>", "<R>", "<W>", "<N>"});
  j["added_tokens"][0]["lstrip"] = true;
  j["added_tokens"][1]["rstrip"] = true;
  j["added_tokens"][2]["single_word"] = true;
  j["added_tokens"][3]["normalized"] = true;
  auto tok = LoadJson(j, "flags.json");
  ASSERT_NE(tok, nullptr);
  const int L = 256, R = 257, W = 258, N = 259;
  EXPECT_EQ(tok->Encode("a  <L>b", false), (Ids{'a', L, 'b'}));  // spaces before: eaten
  EXPECT_EQ(tok->Encode("a<R>  b", false), (Ids{'a', R, 'b'}));  // spaces after: eaten
  EXPECT_EQ(tok->Encode("a <W> b", false), (Ids{'a', ' ', W, ' ', 'b'}));
  EXPECT_EQ(tok->Encode("a<W>b", false).size(), 5u);     // inside a word: not matched
  EXPECT_EQ(tok->Encode("x<N>", false), (Ids{'x', N}));  // matched after normalisation
  // Leftmost-longest: "<L>" wins over nothing, and text around stays text.
  EXPECT_EQ(tok->Encode("<L><R>", false), (Ids{L, R}));
}

TEST(TokenizerHfTest, NfcNormalisation) {
  auto tok = LoadJson(ByteLevelTokenizerJson({}, {}, kGpt2Regex), "nfc.json");
  ASSERT_NE(tok, nullptr);
  // e + combining acute -> é (C3 A9).
  EXPECT_EQ(tok->Encode("e\xCC\x81", false), (Ids{0xC3, 0xA9}));
}

TEST(TokenizerHfTest, MetaspacePreTokenizerFirstScheme) {
  Json j = MetaspaceTokenizerJson(kPieces, {"a b"});
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {
      {"type", "Metaspace"}, {"replacement", kSp}, {"prepend_scheme", "first"}, {"split", true}};
  j["decoder"] = {{"type", "Metaspace"}, {"replacement", kSp}, {"prepend_scheme", "first"}};
  auto tok = LoadJson(j, "metaspace.json");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("ab a", false), (Ids{259, 263, 259, 260}));
  // After a special token the segment gets no prefix ("first" only).
  EXPECT_EQ(tok->Encode("a</s>a", false), (Ids{259, 260, 2, 260}));
  // A text already starting with a space is not prefixed again.
  EXPECT_EQ(tok->Encode(" a", false), (Ids{259, 260}));
  EXPECT_EQ(tok->Decode({259, 263, 259, 260}, true), "ab a");
}

}  // namespace
}  // namespace inferd::engine
