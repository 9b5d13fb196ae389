// engine/tokenizer/sentencepiece_proto.h — the parts of sentencepiece's
// ModelProto (tokenizer.model) that inferd uses, read from the protobuf wire
// format with WireReader (no libprotobuf). Field numbers are those of
// sentencepiece's sentencepiece_model.proto (proto2), checked against
// `protoc --decode_raw` of the Llama 2 and stories260K files:
//
//   ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
//                    NormalizerSpec normalizer_spec = 3;
//                    NormalizerSpec denormalizer_spec = 5; }
//   SentencePiece  { string piece = 1; float score = 2; Type type = 3; }
//   TrainerSpec    { ModelType model_type = 3; bool treat_whitespace_as_suffix = 24;
//                    bool byte_fallback = 35; int32 unk_id = 40; bos_id = 41;
//                    eos_id = 42; pad_id = 43; string unk_piece = 45;
//                    bos_piece = 46; eos_piece = 47; pad_piece = 48; }
//   NormalizerSpec { string name = 1; bytes precompiled_charsmap = 2;
//                    bool add_dummy_prefix = 3; remove_extra_whitespaces = 4;
//                    escape_whitespaces = 5; }
//
// Every other field, of any wire type, is skipped. Proto2 rules: absent
// fields take the .proto defaults, a scalar given twice keeps the last value,
// a message given twice is merged.
#ifndef INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_PROTO_H_
#define INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_PROTO_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::engine {

struct SentencePieceModelProto {
  enum class PieceType : int32_t {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6,
  };
  enum class ModelType : int32_t { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };

  struct Piece {
    std::string piece;
    float score = 0.0f;
    PieceType type = PieceType::kNormal;
  };
  struct TrainerSpec {
    int32_t model_type = static_cast<int32_t>(ModelType::kUnigram);  // may be out of enum range
    bool treat_whitespace_as_suffix = false;
    bool byte_fallback = false;
    int32_t unk_id = 0;
    int32_t bos_id = 1;
    int32_t eos_id = 2;
    int32_t pad_id = -1;
    std::string unk_piece;  // empty: "<unk>" (as sentencepiece reads it)
    std::string bos_piece;  // empty: "<s>"
    std::string eos_piece;  // empty: "</s>"
    std::string pad_piece;  // empty: "<pad>"
  };
  struct NormalizerSpec {
    std::string name;
    std::string precompiled_charsmap;
    bool add_dummy_prefix = true;
    bool remove_extra_whitespaces = true;
    bool escape_whitespaces = true;
  };

  std::vector<Piece> pieces;
  TrainerSpec trainer_spec;
  NormalizerSpec normalizer_spec;
  NormalizerSpec denormalizer_spec;
};

// Limits beyond which a file is treated as corrupt rather than read.
inline constexpr size_t kMaxSentencePieceModelBytes = size_t{1} << 30;
inline constexpr size_t kMaxSentencePieces = size_t{1} << 24;
inline constexpr size_t kMaxSentencePieceBytes = 8000;  // sentencepiece's own limit

// Parses a serialized ModelProto. `origin` (the file name) starts every
// error, followed by the field path and the problem: malformed wire data,
// a known field with the wrong wire type, a piece type outside the enum, a
// NaN score, or sizes over the limits above. Works on any byte buffer (the
// fuzz target's entry point); never reads outside `bytes`.
absl::StatusOr<SentencePieceModelProto> ParseModelProto(std::string_view bytes,
                                                        std::string_view origin);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_PROTO_H_
