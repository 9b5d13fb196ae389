// tests/golden/tokenizer/tokenizer_byte_level_golden_test.cc — the byte-level
// BPE tokenizers (../shared/tokenizers/{qwen3,llama3}/tokenizer.json) against
// ../shared/golden/tokenizer-{qwen3,llama3}.json: ids with and without
// special tokens, byte-level pieces, decoded text keeping and skipping
// special tokens, for 61 texts each. Every mismatching case is reported by
// its text.
//
// The traps the goldens' "notes" name, and what covers them here:
//   qwen3: NFC normaliser ("é vs é": the NFD é encodes as the NFC one, and
//     decodes to NFC), \p{N} single digits, 26 added tokens split out of the
//     text (<|im_start|>... ; decode skips the special ones), no BOS.
//   llama3: no normaliser (NFD stays NFD), \p{N}{1,3} digit groups,
//     ignore_merges (a pre-token found whole in the vocabulary is one token
//     even where merging would not reach it), no <|begin_of_text|> added
//     (the post-processor is ByteLevel).
#include <string>

#include "engine/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/golden/tokenizer/golden_util.h"
#include "tests/test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::Ids;
using ::inferd::testing::LoadGolden;
using ::inferd::testing::Must;
using ::inferd::testing::Name;
using ::inferd::testing::SharedPath;
using ::inferd::testing::Show;

void CheckGolden(const std::string& model) {
  const std::string golden_rel = "golden/tokenizer-" + model + ".json";
  const std::string dir = SharedPath("tokenizers/" + model);
  const nlohmann::json golden = LoadGolden(golden_rel);
  ASSERT_TRUE(golden.is_object());
  const std::unique_ptr<Tokenizer> tok = Must(Tokenizer::FromDirectory(dir));
  ASSERT_NE(tok, nullptr);
  EXPECT_FALSE(tok->adds_bos()) << model << ": the goldens say no BOS is added by these files";
  EXPECT_FALSE(tok->strips_leading_space());
  ASSERT_EQ(golden["records"].size(), 61u);
  for (const nlohmann::json& r : golden["records"]) {
    const std::string text = r["text"].get<std::string>();
    const std::vector<int32_t> want = Ids(r["ids"]);
    EXPECT_EQ(Show(tok->Encode(text, true)), Show(want)) << model << " ids of " << Name(r);
    EXPECT_EQ(Show(tok->Encode(text, false)), Show(Ids(r["ids_no_special"])))
        << model << " ids_no_special of " << Name(r);
    ASSERT_EQ(r["tokens"].size(), want.size()) << Name(r);
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(tok->IdToPiece(want[i]), r["tokens"][i].get<std::string>())
          << model << " piece " << i << " of " << Name(r);
      EXPECT_EQ(tok->PieceToId(r["tokens"][i].get<std::string>()), want[i])
          << model << " id of piece " << i << " of " << Name(r);
    }
    EXPECT_EQ(tok->Decode(want, false), r["decoded"].get<std::string>())
        << model << " decoded text of " << Name(r);
    EXPECT_EQ(tok->Decode(want, true), r["decoded_skip_special"].get<std::string>())
        << model << " decoded text (special tokens skipped) of " << Name(r);
  }
}

TEST(TokenizerByteLevelGolden, Qwen3MatchesEveryCase) {
  INFERD_REQUIRE_SHARED("golden/tokenizer-qwen3.json");
  INFERD_REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  CheckGolden("qwen3");
}

TEST(TokenizerByteLevelGolden, Llama3MatchesEveryCase) {
  INFERD_REQUIRE_SHARED("golden/tokenizer-llama3.json");
  INFERD_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  CheckGolden("llama3");
}

TEST(TokenizerByteLevelGolden, SpecialIdsFollowTokenizerConfig) {
  INFERD_REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  INFERD_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  const std::unique_ptr<Tokenizer> qwen =
      Must(Tokenizer::FromDirectory(SharedPath("tokenizers/qwen3")));
  const std::unique_ptr<Tokenizer> llama =
      Must(Tokenizer::FromDirectory(SharedPath("tokenizers/llama3")));
  ASSERT_NE(qwen, nullptr);
  ASSERT_NE(llama, nullptr);
  EXPECT_EQ(qwen->bos_id(), -1);      // bos_token: null
  EXPECT_EQ(qwen->eos_id(), 151645);  // eos_token: <|im_end|>
  EXPECT_EQ(qwen->vocab_size(), 151669);
  EXPECT_TRUE(qwen->IsSpecial(151643));
  EXPECT_FALSE(qwen->IsSpecial(151667));  // <think> is added but not special
  EXPECT_EQ(llama->bos_id(), 128000);
  EXPECT_EQ(llama->eos_id(), 128001);
  EXPECT_EQ(llama->vocab_size(), 128256);
  EXPECT_EQ(Show(llama->Encode("", true)), "[]");
}

}  // namespace
}  // namespace inferd::engine
