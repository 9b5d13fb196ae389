// tests/unit/tokenizer/sentencepiece_proto_test.cc — ParseModelProto on the
// real tokenizer.model files (values as `protoc --decode_raw` shows them), on
// hand-written protos (defaults, proto2 merging, unknown fields, wrong wire
// types) and on garbage: every truncation of the real files, random byte
// flips and random bytes never crash and give either a clear error (naming
// the file) or a model that loads and encodes.
#include "engine/tokenizer/sentencepiece_proto.h"

#include <random>
#include <string>

#include "engine/tokenizer/sentencepiece_tokenizer.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/unit/tokenizer/sentencepiece_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::BytesField;
using ::inferd::testing::FloatField;
using ::inferd::testing::Key;
using ::inferd::testing::ReadFileOrDie;
using ::inferd::testing::SharedPath;
using ::inferd::testing::VarintField;
using Type = SentencePieceModelProto::PieceType;

constexpr char kLlama2[] = "tokenizers/llama2/tokenizer.model";
constexpr char kStories[] = "models/stories260K/tokenizer.model";

void ExpectError(std::string_view bytes, const std::string& what) {
  absl::StatusOr<SentencePieceModelProto> m = ParseModelProto(bytes, "t.model");
  ASSERT_FALSE(m.ok()) << "expected an error about " << what;
  const std::string message(m.status().message());
  EXPECT_EQ(message.rfind("t.model: not a valid sentencepiece model: ", 0), 0u) << message;
  EXPECT_NE(message.find(what), std::string::npos) << message;
}

// Parses, then loads as a tokenizer; either step may fail with an error that
// names the origin, and a loaded tokenizer must encode and decode.
bool ParsesAndLoadsOrFailsCleanly(std::string_view bytes, const std::string& origin) {
  absl::StatusOr<SentencePieceModelProto> m = ParseModelProto(bytes, origin);
  if (!m.ok()) {
    EXPECT_EQ(m.status().message().rfind(origin + ": ", 0), 0u) << m.status();
    return false;
  }
  auto tok = SentencePieceTokenizerFromBytes(bytes, origin, nullptr);
  if (!tok.ok()) {
    EXPECT_EQ(tok.status().message().rfind(origin + ": ", 0), 0u) << tok.status();
    return false;
  }
  const std::vector<int32_t> ids = (*tok)->Encode(" Once upon a  time \xFF\xE6\x9D\xB1", true);
  for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < (*tok)->vocab_size()) << origin;
  (*tok)->Decode(ids, false);
  return true;
}

TEST(TokenizerSentencePieceProtoTest, ReadsTheLlama2Model) {
  INFERD_REQUIRE_SHARED(kLlama2);
  const std::string bytes = ReadFileOrDie(SharedPath(kLlama2));
  absl::StatusOr<SentencePieceModelProto> m = ParseModelProto(bytes, kLlama2);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->pieces.size(), 32000u);
  EXPECT_EQ(m->pieces[0].piece, "<unk>");
  EXPECT_EQ(m->pieces[0].type, Type::kUnknown);
  EXPECT_EQ(m->pieces[1].type, Type::kControl);
  EXPECT_EQ(m->pieces[3].piece, "<0x00>");
  EXPECT_EQ(m->pieces[3].type, Type::kByte);
  EXPECT_EQ(m->pieces[259].piece, "\xE2\x96\x81\xE2\x96\x81");
  EXPECT_EQ(m->pieces[259].score, -1e9f);
  EXPECT_EQ(m->pieces[450].piece, "\xE2\x96\x81The");
  EXPECT_EQ(m->pieces[450].score, -191.0f);
  EXPECT_EQ(m->pieces[450].type, Type::kNormal);
  const SentencePieceModelProto::TrainerSpec& t = m->trainer_spec;
  EXPECT_EQ(t.model_type, 2);
  EXPECT_TRUE(t.byte_fallback);
  EXPECT_FALSE(t.treat_whitespace_as_suffix);
  EXPECT_EQ(t.unk_id, 0);
  EXPECT_EQ(t.bos_id, 1);
  EXPECT_EQ(t.eos_id, 2);
  EXPECT_EQ(t.pad_id, -1);  // a ten-byte varint in the file
  EXPECT_EQ(t.bos_piece, "<s>");
  EXPECT_EQ(m->normalizer_spec.name, "identity");
  EXPECT_TRUE(m->normalizer_spec.precompiled_charsmap.empty());
  EXPECT_TRUE(m->normalizer_spec.add_dummy_prefix);
  EXPECT_FALSE(m->normalizer_spec.remove_extra_whitespaces);
  EXPECT_TRUE(m->normalizer_spec.escape_whitespaces);  // absent: the default
}

TEST(TokenizerSentencePieceProtoTest, ReadsTheStories260KModel) {
  INFERD_REQUIRE_SHARED(kStories);
  absl::StatusOr<SentencePieceModelProto> m =
      ParseModelProto(ReadFileOrDie(SharedPath(kStories)), kStories);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->pieces.size(), 512u);
  EXPECT_EQ(m->trainer_spec.model_type, 2);
  EXPECT_TRUE(m->trainer_spec.byte_fallback);
  EXPECT_TRUE(m->normalizer_spec.add_dummy_prefix);
  EXPECT_TRUE(m->normalizer_spec.remove_extra_whitespaces);
  EXPECT_TRUE(m->normalizer_spec.escape_whitespaces);
}

TEST(TokenizerSentencePieceProtoTest, DefaultsMergingAndUnknownFields) {
  absl::StatusOr<SentencePieceModelProto> empty = ParseModelProto("", "t.model");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->trainer_spec.model_type, 1);  // UNIGRAM, the .proto default
  EXPECT_EQ(empty->trainer_spec.pad_id, -1);
  EXPECT_TRUE(empty->normalizer_spec.remove_extra_whitespaces);

  const std::string bytes =
      VarintField(99, 7) + Key(98, 3) + VarintField(1, 1) + Key(98, 4) + Key(97, 1) +
      std::string(8, '\0') + BytesField(1, BytesField(1, "a") + FloatField(77, 1.0f)) +
      BytesField(2, VarintField(3, 2) + VarintField(1000, 5)) +
      BytesField(2, VarintField(35, 1)) +  // merged into the first trainer_spec
      BytesField(1, BytesField(1, "b") + FloatField(2, -3.0f) + VarintField(3, 5)) +
      BytesField(3, BytesField(1, "x") + BytesField(1, "identity") + VarintField(3, 0)) +
      BytesField(4, "self test data");
  absl::StatusOr<SentencePieceModelProto> m = ParseModelProto(bytes, "t.model");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->pieces.size(), 2u);
  EXPECT_EQ(m->pieces[0].piece, "a");
  EXPECT_EQ(m->pieces[0].score, 0.0f);
  EXPECT_EQ(m->pieces[0].type, Type::kNormal);
  EXPECT_EQ(m->pieces[1].score, -3.0f);
  EXPECT_EQ(m->pieces[1].type, Type::kUnused);
  EXPECT_EQ(m->trainer_spec.model_type, 2);
  EXPECT_TRUE(m->trainer_spec.byte_fallback);
  EXPECT_EQ(m->normalizer_spec.name, "identity");  // the last value wins
  EXPECT_FALSE(m->normalizer_spec.add_dummy_prefix);
}

TEST(TokenizerSentencePieceProtoTest, RejectsBadKnownFields) {
  const std::string piece = BytesField(1, "a");
  ExpectError(BytesField(1, piece) + BytesField(1, piece + VarintField(2, 3)),
              "pieces[1].score: field 2 has wire type varint (0), expected fixed32 (5)");
  ExpectError(BytesField(1, piece + VarintField(3, 9)),
              "pieces[0].type: 9 is not a SentencePiece.Type (1..6)");
  ExpectError(BytesField(1, piece + FloatField(2, std::nanf(""))), "pieces[0].score: is NaN");
  ExpectError(BytesField(1, FloatField(1, 1.0f)), "pieces[0].piece: field 1 has wire type fixed32");
  ExpectError(BytesField(1, BytesField(1, std::string(8001, 'a'))),
              "pieces[0].piece: 8001 bytes long (at most 8000)");
  ExpectError(VarintField(1, 4), "pieces[0]: field 1 has wire type varint (0), expected length");
  ExpectError(BytesField(2, BytesField(3, "BPE")), "trainer_spec.model_type: field 3 has wire");
  ExpectError(BytesField(2, FloatField(35, 1.0f)), "trainer_spec.byte_fallback");
  ExpectError(BytesField(3, FloatField(3, 1.0f)), "normalizer_spec.add_dummy_prefix");
  ExpectError(BytesField(3, VarintField(2, 0)), "normalizer_spec.precompiled_charsmap");
  ExpectError(BytesField(5, VarintField(1, 0)), "denormalizer_spec.name");
  ExpectError(BytesField(2, VarintField(3, 2)).substr(0, 3), "trainer_spec: length 2 runs past");
  ExpectError(BytesField(2, "\x18"), "trainer_spec.model_type: truncated varint");
}

TEST(TokenizerSentencePieceProtoTest, EveryTruncationOfStories260K) {
  INFERD_REQUIRE_SHARED(kStories);
  const std::string bytes = ReadFileOrDie(SharedPath(kStories));
  int loaded = 0;
  for (size_t keep = 0; keep < bytes.size(); ++keep) {
    loaded += ParsesAndLoadsOrFailsCleanly(std::string_view(bytes).substr(0, keep), "cut.model");
  }
  // A cut inside the pieces loses the normalizer spec and more, but a cut
  // between the last fields still loads.
  EXPECT_GT(loaded, 0);
  EXPECT_LT(loaded, 10);
}

TEST(TokenizerSentencePieceProtoTest, TruncationsOfLlama2) {
  INFERD_REQUIRE_SHARED(kLlama2);
  const std::string bytes = ReadFileOrDie(SharedPath(kLlama2));
  const std::string_view view = bytes;
  // Every cut in the first pieces and in the last 1024 bytes (the trainer
  // and normalizer specs are the last 286), every 997th in between.
  for (size_t keep = 0; keep < bytes.size();
       keep += keep < 2048 || keep + 1024 > bytes.size() ? 1 : 997) {
    absl::StatusOr<SentencePieceModelProto> m = ParseModelProto(view.substr(0, keep), "cut.model");
    if (!m.ok()) {
      EXPECT_EQ(m.status().message().rfind("cut.model: ", 0), 0u) << m.status();
    }
  }
  for (size_t keep : {size_t{0}, size_t{4000}, bytes.size() / 2, bytes.size() - 100}) {
    EXPECT_FALSE(ParsesAndLoadsOrFailsCleanly(view.substr(0, keep), "cut.model")) << keep;
  }
}

TEST(TokenizerSentencePieceProtoTest, RandomByteFlips) {
  INFERD_REQUIRE_SHARED(kStories);
  INFERD_REQUIRE_SHARED(kLlama2);
  std::mt19937 rng(2024);
  for (const char* rel : {kStories, kLlama2}) {
    const std::string bytes = ReadFileOrDie(SharedPath(rel));
    const int trials = rel == kStories ? 3000 : 60;
    int loaded = 0;
    for (int trial = 0; trial < trials; ++trial) {
      std::string bad = bytes;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < flips; ++i) bad[rng() % bad.size()] = static_cast<char>(rng());
      loaded += ParsesAndLoadsOrFailsCleanly(bad, "flipped.model");
    }
    SUCCEED() << rel << ": " << loaded << " of " << trials << " flipped files still loaded";
  }
}

TEST(TokenizerSentencePieceProtoTest, RandomBytesAndRandomFields) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bytes(rng() % 48, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    ParsesAndLoadsOrFailsCleanly(bytes, "random.model");
  }
  // Plausible fields with random numbers, types and lengths.
  for (int trial = 0; trial < 5000; ++trial) {
    std::string bytes;
    for (int f = static_cast<int>(rng() % 6); f > 0; --f) {
      const uint32_t field = 1 + rng() % 6;
      switch (rng() % 4) {
        case 0:
          bytes += VarintField(field, rng());
          break;
        case 1:
          bytes += FloatField(field, 1.0f);
          break;
        case 2:
          bytes +=
              BytesField(field, BytesField(1 + rng() % 3, "<unk>") + VarintField(3, rng() % 7));
          break;
        default:
          bytes += Key(field, static_cast<int>(rng() % 6));
      }
    }
    ParsesAndLoadsOrFailsCleanly(bytes, "fields.model");
  }
}

}  // namespace
}  // namespace inferd::engine
