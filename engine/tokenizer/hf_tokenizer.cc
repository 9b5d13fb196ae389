// engine/tokenizer/hf_tokenizer.cc — see hf_tokenizer.h.
#include "engine/tokenizer/hf_tokenizer.h"

#include <algorithm>

#include "engine/tokenizer/decode_bytes.h"

namespace inferd::engine {

HfTokenizer::HfTokenizer(HfTokenizerParts parts) : p_(std::move(parts)) {
  vocab_size_ = std::max(p_.model->size(), p_.added.max_id() + 1);
}

std::vector<int32_t> HfTokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special_tokens) ids = p_.prefix_ids;
  for (const AddedSegment& seg : p_.added.SplitRaw(text)) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
    } else {
      EncodeSegment(text.substr(seg.begin, seg.end - seg.begin), seg.begin == 0, &ids);
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), p_.suffix_ids.begin(), p_.suffix_ids.end());
  return ids;
}

void HfTokenizer::EncodeSegment(std::string_view text, bool segment_first,
                                std::vector<int32_t>* ids) const {
  const std::string normalized = p_.normalizer->Normalize(text);
  if (!p_.added.has_normalized_tokens()) {
    EncodeNormalized(normalized, segment_first, ids);
    return;
  }
  for (const AddedSegment& seg : p_.added.SplitNormalized(normalized)) {
    if (seg.id >= 0) {
      ids->push_back(seg.id);
    } else {
      EncodeNormalized(std::string_view(normalized).substr(seg.begin, seg.end - seg.begin),
                       segment_first && seg.begin == 0, ids);
    }
  }
}

void HfTokenizer::EncodeNormalized(std::string_view text, bool first,
                                   std::vector<int32_t>* ids) const {
  for (const std::string& piece : p_.pre_tokenizer->PreTokenize(text, first)) {
    p_.model->Tokenize(piece, ids);
  }
}

std::string HfTokenizer::Decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  return DecodeFromTokenBytes(*this, ids, skip_special_tokens);
}

std::string HfTokenizer::IdToPiece(int32_t id) const {
  if (const AddedToken* t = p_.added.FindById(id); t != nullptr) return t->content;
  const std::string* piece = p_.model->IdToPiece(id);
  return piece == nullptr ? std::string() : *piece;
}

std::string HfTokenizer::TokenBytes(int32_t id) const {
  if (const AddedToken* t = p_.added.FindById(id); t != nullptr) {
    return p_.decoder.TokenBytes(t->content);
  }
  const std::string* piece = p_.model->IdToPiece(id);
  return piece == nullptr ? std::string() : p_.decoder.TokenBytes(*piece);
}

int32_t HfTokenizer::PieceToId(std::string_view piece) const {
  if (const int32_t id = p_.added.FindByContent(piece); id >= 0) return id;
  return p_.model->PieceToId(piece);
}

bool HfTokenizer::IsSpecial(int32_t id) const {
  const AddedToken* t = p_.added.FindById(id);
  return t != nullptr && t->special;
}

bool HfTokenizer::adds_bos() const {
  return p_.bos_id >= 0 && !p_.prefix_ids.empty() && p_.prefix_ids.front() == p_.bos_id;
}

}  // namespace inferd::engine
