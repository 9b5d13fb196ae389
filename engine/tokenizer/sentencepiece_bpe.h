// engine/tokenizer/sentencepiece_bpe.h — sentencepiece's BPE model
// (bpe_model.cc + the id rules of SentencePieceProcessor::Encode) over the
// pieces of a parsed ModelProto.
//
// Encoding normalised text: cut it into characters (USER_DEFINED pieces
// whole, and frozen); then repeatedly merge the adjacent pair whose
// concatenation is a NORMAL, USER_DEFINED or UNUSED piece with the highest
// score, leftmost on ties; a final symbol that is an UNUSED piece is split
// back into the two symbols it was merged from. CONTROL, UNKNOWN and BYTE
// pieces never take part in merges. A final symbol that is not a piece is
// unknown: its UTF-8 bytes become <0xXX> pieces with byte_fallback, else it
// is the UNKNOWN id, a run of unknown symbols giving one UNKNOWN id.
//
// Why not BpeMergeAll (bpe_merge.h): that merges id pairs by rank from a
// merges list; here a pair merges when its *string* is a piece (also
// characters outside the vocabulary, which have no id), priority is the
// piece's score, some symbols are frozen and UNUSED pieces are resegmented.
// Immutable after Create; thread-safe.
#ifndef INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_BPE_H_
#define INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_BPE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/tokenizer/sentencepiece_matcher.h"
#include "engine/tokenizer/sentencepiece_proto.h"

namespace inferd::engine {

// The byte of a "<0xXX>" piece (upper-case hex, as sentencepiece writes
// them), or -1.
int SentencePieceByte(std::string_view piece);

class SentencePieceBpe {
 public:
  // Errors name `origin` and the problem, as sentencepiece's loader checks:
  // trainer_spec.model_type other than BPE, no pieces, an empty piece or one
  // with a NUL byte, a piece defined twice, no or two UNKNOWN pieces, BYTE
  // pieces without byte_fallback or not spelled <0xXX>, byte_fallback
  // without all 256 BYTE pieces.
  static absl::StatusOr<std::unique_ptr<SentencePieceBpe>> Create(
      const SentencePieceModelProto& model, std::string_view origin);

  // Appends the ids of `normalized` (SentencePieceNormalizer's output).
  void Encode(std::string_view normalized, std::vector<int32_t>* out) const;

  // sentencepiece's PieceToId: CONTROL/UNKNOWN/BYTE pieces, then the
  // others; the UNKNOWN id when `piece` is neither.
  int32_t PieceToId(std::string_view piece) const;
  int32_t unk_id() const { return unk_id_; }
  // The USER_DEFINED pieces (the normaliser keeps them as they are).
  const SentencePieceMatcher& user_defined() const { return matcher_; }

 private:
  using PieceType = SentencePieceModelProto::PieceType;
  SentencePieceBpe() = default;
  absl::Status AddPieces(const SentencePieceModelProto& model, std::string_view origin);
  // UNUSED piece made by a merge -> the length of its left part.
  using Splits = absl::flat_hash_map<absl::string_view, size_t>;
  // Appends the ids of a final symbol, resegmenting UNUSED pieces.
  void EmitSymbol(std::string_view piece, const Splits& splits, bool* prev_unknown,
                  std::vector<int32_t>* out) const;
  // Appends the ids of one piece or unknown symbol.
  void EmitPiece(std::string_view piece, bool* prev_unknown, std::vector<int32_t>* out) const;

  absl::flat_hash_map<std::string, int32_t> pieces_;    // NORMAL, USER_DEFINED, UNUSED
  absl::flat_hash_map<std::string, int32_t> reserved_;  // CONTROL, UNKNOWN, BYTE
  std::vector<float> scores_;
  std::vector<PieceType> types_;
  std::array<int32_t, 256> byte_ids_{};
  SentencePieceMatcher matcher_;
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
  bool has_unused_ = false;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_BPE_H_
