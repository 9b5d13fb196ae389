// engine/tokenizer/sentencepiece_tokenizer.cc — see sentencepiece_tokenizer.h.
#include "engine/tokenizer/sentencepiece_tokenizer.h"

#include <cstdio>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/tokenizer/absl_compat.h"
#include "engine/tokenizer/decode_bytes.h"
#include "engine/tokenizer/json_util.h"
#include "engine/tokenizer/sentencepiece_model.h"

namespace inferd::engine {

namespace {

constexpr char kMetaspace[] = "\xE2\x96\x81";  // U+2581

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Takes a loaded processor; precomputes pieces and their bytes.
  explicit SentencePieceTokenizer(std::unique_ptr<SentencePieceModel> sp) : sp_(std::move(sp)) {
    const int n = sp_->size();
    pieces_.resize(n);
    bytes_.resize(n);
    special_.resize(n);
    for (int id = 0; id < n; ++id) {
      pieces_[id] = sp_->IdToPiece(id);
      special_[id] = sp_->IsControl(id) || sp_->IsUnknown(id);
      unsigned byte = 0;
      if (sp_->IsByte(id) && std::sscanf(pieces_[id].c_str(), "<0x%2X>", &byte) == 1) {
        bytes_[id].assign(1, static_cast<char>(byte));
      } else if (special_[id]) {
        bytes_[id] = pieces_[id];
      } else {
        bytes_[id] = absl::StrReplaceAll(pieces_[id], {{kMetaspace, " "}});
      }
      ids_[pieces_[id]] = id;
    }
    // add_dummy_prefix (not exposed by the API): does "a" encode with "▁"?
    const std::vector<std::string> probe = sp_->EncodeAsPieces("a");
    strips_leading_space_ = !probe.empty() && probe[0].rfind(kMetaspace, 0) == 0;
  }

  void SetSpecialIds(bool add_bos, bool add_eos, int32_t bos, int32_t eos) {
    add_bos_ = add_bos && bos >= 0;
    add_eos_ = add_eos && eos >= 0;
    bos_ = bos;
    eos_ = eos;
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const override {
    std::vector<int> raw;
    // Encode only fails for an unloaded model; an empty result is then right.
    sp_->Encode(text, &raw);
    std::vector<int32_t> ids;
    ids.reserve(raw.size() + 2);
    if (add_special_tokens && add_bos_) ids.push_back(bos_);
    ids.insert(ids.end(), raw.begin(), raw.end());
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

  std::unique_ptr<SentencePieceModel> sp_;
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

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& path, const TokenizerConfig* config) {
  absl::StatusOr<std::string> proto = ReadFileToString(path);
  if (!proto.ok()) return proto.status();
  if (proto->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": empty file (not a sentencepiece model)"));
  }
  std::string error;
  std::unique_ptr<SentencePieceModel> sp = SentencePieceModel::Load(*proto, &error);
  if (sp == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a valid sentencepiece model: ", error));
  }
  if (sp->size() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": sentencepiece model has no pieces"));
  }
  // The model's own bos/eos pieces (-1 when it has none).
  int32_t bos = sp->bos_id();
  int32_t eos = sp->eos_id();
  auto tok = std::make_unique<SentencePieceTokenizer>(std::move(sp));
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

}  // namespace inferd::engine
