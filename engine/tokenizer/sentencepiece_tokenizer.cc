// engine/tokenizer/sentencepiece_tokenizer.cc — see sentencepiece_tokenizer.h.
#include "engine/tokenizer/sentencepiece_tokenizer.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/regular_file.h"
#include "engine/tokenizer/absl_compat.h"
#include "engine/tokenizer/decode_bytes.h"
#include "engine/tokenizer/sentencepiece_bpe.h"
#include "engine/tokenizer/sentencepiece_normalizer.h"
#include "engine/tokenizer/sentencepiece_proto.h"

namespace inferd::engine {

namespace {

using PieceType = SentencePieceModelProto::PieceType;

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Precomputes the pieces and their bytes.
  SentencePieceTokenizer(const SentencePieceModelProto& model,
                         std::unique_ptr<SentencePieceBpe> bpe, SentencePieceNormalizer normalizer)
      : bpe_(std::move(bpe)), normalizer_(std::move(normalizer)) {
    const size_t n = model.pieces.size();
    pieces_.resize(n);
    bytes_.resize(n);
    special_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const SentencePieceModelProto::Piece& p = model.pieces[i];
      pieces_[i] = p.piece;
      special_[i] = p.type == PieceType::kControl || p.type == PieceType::kUnknown;
      if (p.type == PieceType::kByte) {
        bytes_[i].assign(1, static_cast<char>(SentencePieceByte(p.piece)));
      } else if (special_[i]) {
        bytes_[i] = p.piece;
      } else {
        bytes_[i] = absl::StrReplaceAll(p.piece, {{ToAbsl(kSentencePieceSpace), " "}});
      }
      ids_[p.piece] = static_cast<int32_t>(i);
    }
    // The dummy prefix is a leading "▁" that decoding strips.
    strips_leading_space_ = normalizer_.add_dummy_prefix() && normalizer_.escape_whitespaces();
  }

  // sentencepiece's bos_id()/eos_id(): the id of `piece` when it is a
  // CONTROL piece, else -1.
  int32_t ControlId(const std::string& piece) const {
    const int32_t id = bpe_->PieceToId(piece);
    return id >= 0 && special_[id] && id != bpe_->unk_id() ? id : -1;
  }

  void SetSpecialIds(bool add_bos, bool add_eos, int32_t bos, int32_t eos) {
    add_bos_ = add_bos && bos >= 0;
    add_eos_ = add_eos && eos >= 0;
    bos_ = bos;
    eos_ = eos;
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const override {
    std::vector<int32_t> ids;
    if (add_special_tokens && add_bos_) ids.push_back(bos_);
    bpe_->Encode(normalizer_.Normalize(text), &ids);
    if (add_special_tokens && add_eos_) ids.push_back(eos_);
    return ids;
  }
  std::string Decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const override {
    return DecodeFromTokenBytes(*this, ids, skip_special_tokens);
  }
  std::string TokenBytes(int32_t id) const override { return InRange(id) ? bytes_[id] : ""; }
  std::string IdToPiece(int32_t id) const override { return InRange(id) ? pieces_[id] : ""; }
  int32_t PieceToId(std::string_view piece) const override {
    auto it = ids_.find(ToAbsl(piece));
    return it == ids_.end() ? -1 : it->second;
  }
  bool IsSpecial(int32_t id) const override { return InRange(id) && special_[id]; }
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  bool adds_bos() const override { return add_bos_; }
  bool strips_leading_space() const override { return strips_leading_space_; }
  InvalidUtf8 invalid_utf8() const override { return InvalidUtf8::kReplacePerByte; }

 private:
  bool InRange(int32_t id) const { return id >= 0 && id < vocab_size(); }

  std::unique_ptr<SentencePieceBpe> bpe_;
  SentencePieceNormalizer normalizer_;
  std::vector<std::string> pieces_;
  std::vector<std::string> bytes_;
  std::vector<bool> special_;
  absl::flat_hash_map<std::string, int32_t> ids_;
  int32_t bos_ = -1;
  int32_t eos_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  bool strips_leading_space_ = true;
};

std::string OrDefault(const std::string& piece, const char* fallback) {
  return piece.empty() ? fallback : piece;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> SentencePieceTokenizerFromBytes(
    std::string_view bytes, const std::string& origin, const TokenizerConfig* config) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": empty file (not a sentencepiece model)"));
  }
  absl::StatusOr<SentencePieceModelProto> model = ParseModelProto(bytes, origin);
  if (!model.ok()) return model.status();
  return SentencePieceTokenizerFromModel(*model, origin, config);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> SentencePieceTokenizerFromModel(
    const SentencePieceModelProto& proto, const std::string& origin,
    const TokenizerConfig* config) {
  const SentencePieceModelProto* model = &proto;
  absl::StatusOr<std::unique_ptr<SentencePieceBpe>> bpe = SentencePieceBpe::Create(*model, origin);
  if (!bpe.ok()) return bpe.status();
  absl::StatusOr<SentencePieceNormalizer> normalizer =
      SentencePieceNormalizer::Create(*model, (*bpe)->user_defined(), origin);
  if (!normalizer.ok()) return normalizer.status();

  const SentencePieceModelProto::TrainerSpec& trainer = model->trainer_spec;
  auto tok =
      std::make_unique<SentencePieceTokenizer>(*model, *std::move(bpe), *std::move(normalizer));
  // The model's own bos/eos pieces (-1 when it has none).
  int32_t bos = tok->ControlId(OrDefault(trainer.bos_piece, "<s>"));
  int32_t eos = tok->ControlId(OrDefault(trainer.eos_piece, "</s>"));
  bool add_bos = true;
  bool add_eos = false;
  if (config != nullptr) {
    add_bos = config->add_bos_token.value_or(true);
    add_eos = config->add_eos_token.value_or(false);
    if (config->bos_token.has_value()) {
      bos = config->bos_token->empty() ? -1 : tok->PieceToId(*config->bos_token);
    }
    if (config->eos_token.has_value()) {
      eos = config->eos_token->empty() ? -1 : tok->PieceToId(*config->eos_token);
    }
  }
  tok->SetSpecialIds(add_bos, add_eos, bos, eos);
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& path, const TokenizerConfig* config) {
  absl::StatusOr<std::string> bytes = ReadRegularFile(path, kMaxTokenizerFileBytes);
  if (!bytes.ok()) return bytes.status();
  return SentencePieceTokenizerFromBytes(*bytes, path, config);
}

}  // namespace inferd::engine
