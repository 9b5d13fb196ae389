// tests/unit/tokenizer/sentencepiece_test_util.h — protobuf wire-format
// writing for tests: raw fields, and small sentencepiece ModelProto files
// (tokenizer.model) built in the test (no libprotobuf, no ../shared).
#ifndef INFERD_TESTS_UNIT_TOKENIZER_SENTENCEPIECE_TEST_UTIL_H_
#define INFERD_TESTS_UNIT_TOKENIZER_SENTENCEPIECE_TEST_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/sentencepiece_tokenizer.h"
#include "gtest/gtest.h"

namespace inferd::testing {

inline std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
inline std::string Key(uint32_t field, int wire_type) {
  return Varint((uint64_t{field} << 3) | static_cast<uint64_t>(wire_type));
}
inline std::string VarintField(uint32_t field, uint64_t v) { return Key(field, 0) + Varint(v); }
inline std::string BytesField(uint32_t field, std::string_view bytes) {
  return Key(field, 2) + Varint(bytes.size()) + std::string(bytes);
}
inline std::string FloatField(uint32_t field, float f) {
  uint32_t bits = 0;
  std::memcpy(&bits, &f, sizeof(bits));
  std::string out = Key(field, 5);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  return out;
}

// SentencePiece.Type values.
enum SpType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct SpPiece {
  std::string piece;
  float score = 0.0f;
  int type = kNormal;
};

// A ModelProto; Serialize() writes the fields a real file has.
struct SpModel {
  std::vector<SpPiece> pieces;
  int model_type = 2;  // BPE
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  std::string normalizer_name = "identity";
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = false;
  bool escape_whitespaces = true;

  std::string Serialize() const {
    std::string out;
    for (const SpPiece& p : pieces) {
      out +=
          BytesField(1, BytesField(1, p.piece) + FloatField(2, p.score) + VarintField(3, p.type));
    }
    const std::string trainer = VarintField(3, model_type) + BytesField(7, "text") +
                                VarintField(24, treat_whitespace_as_suffix) +
                                VarintField(35, byte_fallback) +
                                VarintField(43, static_cast<uint64_t>(int64_t{-1}));
    const std::string normalizer =
        BytesField(1, normalizer_name) + BytesField(2, precompiled_charsmap) +
        VarintField(3, add_dummy_prefix) + VarintField(4, remove_extra_whitespaces) +
        VarintField(5, escape_whitespaces);
    return out + BytesField(2, trainer) + BytesField(3, normalizer);
  }
};

// <unk> <s> </s>, the 256 byte pieces when `byte_fallback`, then `normal`
// (NORMAL pieces with their scores).
inline SpModel SmallSpModel(const std::vector<std::pair<std::string, float>>& normal,
                            bool byte_fallback) {
  SpModel m;
  m.byte_fallback = byte_fallback;
  m.pieces = {{"<unk>", 0, kUnknown}, {"<s>", 0, kControl}, {"</s>", 0, kControl}};
  for (int b = 0; byte_fallback && b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    m.pieces.push_back({buf, 0, kByte});
  }
  for (const auto& [piece, score] : normal) m.pieces.push_back({piece, score, kNormal});
  return m;
}

inline std::unique_ptr<engine::Tokenizer> LoadSp(const SpModel& model) {
  auto tok = engine::SentencePieceTokenizerFromBytes(model.Serialize(), "test.model", nullptr);
  if (!tok.ok()) {
    ADD_FAILURE() << tok.status();
    return nullptr;
  }
  return *std::move(tok);
}

// The pieces of Encode(text) joined with '|'.
inline std::string SpPieces(const engine::Tokenizer& tok, std::string_view text) {
  std::string out;
  for (int32_t id : tok.Encode(text, false)) {
    if (!out.empty()) out += "|";
    out += tok.IdToPiece(id);
  }
  return out;
}

}  // namespace inferd::testing

#endif  // INFERD_TESTS_UNIT_TOKENIZER_SENTENCEPIECE_TEST_UTIL_H_
