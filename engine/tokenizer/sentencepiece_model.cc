// engine/tokenizer/sentencepiece_model.cc — see sentencepiece_model.h.
// No abseil header may be included here (see the header's comment).
#include "engine/tokenizer/sentencepiece_model.h"

#include <sentencepiece_processor.h>

namespace inferd::engine {

struct SentencePieceModel::Impl {
  sentencepiece::SentencePieceProcessor sp;
};

SentencePieceModel::SentencePieceModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SentencePieceModel::~SentencePieceModel() = default;

std::unique_ptr<SentencePieceModel> SentencePieceModel::Load(const std::string& serialized,
                                                             std::string* error) {
  auto impl = std::make_unique<Impl>();
  const sentencepiece::util::Status s = impl->sp.LoadFromSerializedProto(serialized);
  if (!s.ok()) {
    *error = s.ToString();
    return nullptr;
  }
  return std::unique_ptr<SentencePieceModel>(new SentencePieceModel(std::move(impl)));
}

bool SentencePieceModel::Encode(std::string_view text, std::vector<int>* ids) const {
  if (impl_->sp.Encode(text, ids).ok()) return true;
  ids->clear();
  return false;
}

std::vector<std::string> SentencePieceModel::EncodeAsPieces(std::string_view text) const {
  std::vector<std::string> pieces;
  if (!impl_->sp.Encode(text, &pieces).ok()) pieces.clear();
  return pieces;
}

int SentencePieceModel::size() const { return impl_->sp.GetPieceSize(); }
std::string SentencePieceModel::IdToPiece(int id) const { return impl_->sp.IdToPiece(id); }
bool SentencePieceModel::IsByte(int id) const { return impl_->sp.IsByte(id); }
bool SentencePieceModel::IsControl(int id) const { return impl_->sp.IsControl(id); }
bool SentencePieceModel::IsUnknown(int id) const { return impl_->sp.IsUnknown(id); }
int SentencePieceModel::bos_id() const { return impl_->sp.bos_id(); }
int SentencePieceModel::eos_id() const { return impl_->sp.eos_id(); }

}  // namespace inferd::engine
