// tests/unit/tokenizer/sentencepiece_tokenizer_test.cc — tokenizer.model
// files built in the test: sentencepiece's BPE (highest score first, leftmost
// on ties, CONTROL pieces never merge, UNUSED pieces resegmented,
// USER_DEFINED pieces whole, byte fallback vs one UNKNOWN per run), its
// normaliser options, and the load errors for what is not supported or not
// valid. The expected pieces were checked against libsentencepiece 0.1.97.
#include <string>
#include <vector>

#include "engine/tokenizer/sentencepiece_tokenizer.h"
#include "gtest/gtest.h"
#include "tests/unit/tokenizer/sentencepiece_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::kByte;
using ::inferd::testing::kControl;
using ::inferd::testing::kUnknown;
using ::inferd::testing::kUnused;
using ::inferd::testing::kUserDefined;
using ::inferd::testing::LoadSp;
using ::inferd::testing::SmallSpModel;
using ::inferd::testing::SpModel;
using ::inferd::testing::SpPieces;

// A model without the dummy prefix, so the text is what gets merged.
SpModel Plain(const std::vector<std::pair<std::string, float>>& normal, bool bytes = false) {
  SpModel m = SmallSpModel(normal, bytes);
  m.add_dummy_prefix = false;
  return m;
}

TEST(TokenizerSentencePieceModelTest, HighestScoreMergesFirstLeftmostOnTies) {
  const auto abc = [](float ab, float bc) {
    return LoadSp(Plain({{"a", -1}, {"b", -1}, {"c", -1}, {"ab", ab}, {"bc", bc}}));
  };
  EXPECT_EQ(SpPieces(*abc(-5, -2), "abc"), "a|bc");
  EXPECT_EQ(SpPieces(*abc(-2, -5), "abc"), "ab|c");
  EXPECT_EQ(SpPieces(*abc(-3, -3), "abc"), "ab|c");  // tie: leftmost
  EXPECT_EQ(SpPieces(*abc(-3, -3), "bcabc"), "bc|ab|c");

  const auto aa = LoadSp(Plain({{"a", -1}, {"aa", -1}, {"aaaa", -1}}));
  EXPECT_EQ(SpPieces(*aa, "aaa"), "aa|a");
  EXPECT_EQ(SpPieces(*aa, "aaaaaaa"), "aaaa|aa|a");
  // Characters outside the vocabulary still merge into a piece.
  EXPECT_EQ(SpPieces(*LoadSp(Plain({{"a", -1}, {"xy", -1}})), "axy"), "a|xy");
}

TEST(TokenizerSentencePieceModelTest, OnlyNormalUserDefinedAndUnusedPiecesMerge) {
  SpModel control = Plain({{"a", -1}, {"b", -1}});
  control.pieces.push_back({"ab", 0, kControl});
  EXPECT_EQ(SpPieces(*LoadSp(control), "ab"), "a|b");

  // An UNUSED piece takes part in merges, then is split back.
  SpModel unused = Plain({{"a", -1}, {"b", -1}, {"c", -1}, {"abc", -2}});
  unused.pieces.push_back({"ab", -1, kUnused});
  const auto tok = LoadSp(unused);
  EXPECT_EQ(SpPieces(*tok, "ab"), "a|b");
  EXPECT_EQ(SpPieces(*tok, "abab"), "a|b|a|b");
  EXPECT_EQ(SpPieces(*tok, "abc"), "abc");
  EXPECT_EQ(SpPieces(*tok, "abcab"), "abc|a|b");
}

TEST(TokenizerSentencePieceModelTest, UserDefinedPiecesStayWhole) {
  SpModel m = Plain({{"a", -1}, {"b", -1}, {"a<", -1}, {"p>", -1}});
  m.pieces.push_back({"<sep>", 0, kUserDefined});
  m.pieces.push_back({"<se", 0, kUserDefined});
  const auto tok = LoadSp(m);
  EXPECT_EQ(SpPieces(*tok, "a<sep>b"), "a|<sep>|b");
  EXPECT_EQ(SpPieces(*tok, "a<seb"), "a|<se|b");
  EXPECT_EQ(SpPieces(*tok, "<sep><sep>"), "<sep>|<sep>");
}

TEST(TokenizerSentencePieceModelTest, ByteFallbackOrOneUnknownPerRun) {
  const auto bytes = LoadSp(Plain({{"a", -1}, {"b", -1}}, true));
  EXPECT_EQ(SpPieces(*bytes, "a\xC3\xA9"), "a|<0xC3>|<0xA9>");
  // Invalid UTF-8 is U+FFFD per byte before byte fallback.
  EXPECT_EQ(SpPieces(*bytes,
                     "\xFF"
                     "a"),
            "<0xEF>|<0xBF>|<0xBD>|a");
  EXPECT_EQ(bytes->Decode(bytes->Encode("ab\xC3\xA9"
                                        "b",
                                        false),
                          false),
            "ab\xC3\xA9"
            "b");

  const auto unk = LoadSp(Plain({{"a", -1}, {"b", -1}}));
  EXPECT_EQ(SpPieces(*unk, "a\xC3\xA9\xC3\xA9zb"), "a|<unk>|b");
  EXPECT_EQ(SpPieces(*unk,
                     "\xC3\xA9"
                     "a\xFF"),
            "<unk>|a|<unk>");
}

TEST(TokenizerSentencePieceModelTest, NormaliserOptions) {
  const std::vector<std::pair<std::string, float>> vocab = {{"\xE2\x96\x81", -1},
                                                            {"a", -1},
                                                            {"b", -1},
                                                            {"\xE2\x96\x81"
                                                             "a",
                                                             -2},
                                                            {"\xE2\x96\x81"
                                                             "b",
                                                             -2},
                                                            {" ", -1},
                                                            {" a", -2}};
  SpModel m = SmallSpModel(vocab, false);
  m.remove_extra_whitespaces = true;
  auto tok = LoadSp(m);
  EXPECT_EQ(SpPieces(*tok, "  a   b  "),
            "\xE2\x96\x81"
            "a|\xE2\x96\x81"
            "b");
  EXPECT_EQ(SpPieces(*tok, "   "), "");
  EXPECT_TRUE(tok->strips_leading_space());
  EXPECT_EQ(tok->Decode(tok->Encode("  a   b ", true), true), "a b");

  m.remove_extra_whitespaces = false;
  tok = LoadSp(m);
  EXPECT_EQ(SpPieces(*tok, " a  b "),
            "\xE2\x96\x81|\xE2\x96\x81"
            "a|\xE2\x96\x81|\xE2\x96\x81"
            "b|\xE2\x96\x81");
  EXPECT_EQ(tok->Decode(tok->Encode(" a  b ", true), true), " a  b ");

  m.add_dummy_prefix = false;
  tok = LoadSp(m);
  EXPECT_EQ(SpPieces(*tok, "a b"),
            "a|\xE2\x96\x81"
            "b");
  EXPECT_FALSE(tok->strips_leading_space());

  m.add_dummy_prefix = true;
  m.escape_whitespaces = false;
  tok = LoadSp(m);
  EXPECT_EQ(SpPieces(*tok, "a b"), " a| |b");
}

TEST(TokenizerSentencePieceModelTest, BosAndEosAreTheControlPieces) {
  const auto tok = LoadSp(SmallSpModel({{"a", -1}}, false));
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->adds_bos());
  EXPECT_TRUE(tok->IsSpecial(0));
  EXPECT_TRUE(tok->IsSpecial(1));
  EXPECT_FALSE(tok->IsSpecial(3));

  SpModel no_bos;
  no_bos.pieces = {{"<unk>", 0, kUnknown}, {"<s>", 0}, {"a", -1}};  // <s> is NORMAL
  const auto plain = LoadSp(no_bos);
  EXPECT_EQ(plain->bos_id(), -1);
  EXPECT_EQ(plain->eos_id(), -1);
  EXPECT_FALSE(plain->adds_bos());
  EXPECT_EQ(SpPieces(*plain, "a"), "<unk>|a");  // "▁" is unknown (no byte fallback)
}

TEST(TokenizerSentencePieceModelTest, LoadErrorsNameTheFileAndTheProblem) {
  const SpModel base = SmallSpModel({{"a", -1}, {"b", -1}}, false);
  struct Case {
    const char* what;
    void (*edit)(SpModel&);
  };
  const Case cases[] = {
      {"trainer_spec.model_type is UNIGRAM (1); only BPE (2)",
       [](SpModel& m) { m.model_type = 1; }},
      {"trainer_spec.model_type is CHAR (4)", [](SpModel& m) { m.model_type = 4; }},
      {"trainer_spec.model_type is not a TrainerSpec.ModelType (9)",
       [](SpModel& m) { m.model_type = 9; }},
      {"normalizer_spec.name \"nmt_nfkc\" comes with a 3-byte normalization rule",
       [](SpModel& m) {
         m.normalizer_name = "nmt_nfkc";
         m.precompiled_charsmap = "xyz";
       }},
      {"trainer_spec.treat_whitespace_as_suffix is not supported",
       [](SpModel& m) { m.treat_whitespace_as_suffix = true; }},
      {"sentencepiece model has no pieces", [](SpModel& m) { m.pieces.clear(); }},
      {"sentencepiece model has no UNKNOWN piece", [](SpModel& m) { m.pieces[0].type = 1; }},
      {"pieces[4] \"b\": a second UNKNOWN piece (the first is pieces[0])",
       [](SpModel& m) { m.pieces[4].type = kUnknown; }},
      {"pieces[4] \"a\": defined twice (also pieces[3])",
       [](SpModel& m) { m.pieces[4].piece = "a"; }},
      {"pieces[3] \"\": the piece is empty", [](SpModel& m) { m.pieces[3].piece = ""; }},
      {"the piece contains a NUL byte",
       [](SpModel& m) { m.pieces[3].piece = std::string("a\0b", 3); }},
      {"pieces[3] \"<0x41>\": a BYTE piece although trainer_spec.byte_fallback is off",
       [](SpModel& m) {
         m.pieces[3] = {"<0x41>", 0, kByte};
       }},
      {"trainer_spec.byte_fallback is on but byte 0 has no BYTE piece",
       [](SpModel& m) { m.byte_fallback = true; }},
      {"pieces[3] \"<0x4g>\": a BYTE piece not spelled <0xXX>",
       [](SpModel& m) {
         m.byte_fallback = true;
         m.pieces[3] = {"<0x4g>", 0, kByte};
       }},
  };
  for (const Case& c : cases) {
    SpModel m = base;
    c.edit(m);
    auto tok = SentencePieceTokenizerFromBytes(m.Serialize(), "test.model", nullptr);
    ASSERT_FALSE(tok.ok()) << c.what;
    const std::string message(tok.status().message());
    EXPECT_EQ(message.rfind("test.model: ", 0), 0u) << message;
    EXPECT_NE(message.find(c.what), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace inferd::engine
