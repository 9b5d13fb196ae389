// engine/tokenizer/bpe_model.cc — see bpe_model.h.
#include "engine/tokenizer/bpe_model.h"

#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/absl_compat.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

namespace {

// Ids beyond this are treated as corrupt (the vector of pieces is by id).
constexpr int64_t kMaxTokenId = 1 << 24;

std::string ByteFallbackPiece(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
  return buf;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(const Json& model, BpeTables tables,
                                                           const std::string& where) {
  std::unique_ptr<BpeModel> m(new BpeModel());
  absl::StatusOr<bool> byte_fallback = GetBool(model, "byte_fallback", false, where);
  absl::StatusOr<bool> fuse_unk = GetBool(model, "fuse_unk", false, where);
  absl::StatusOr<bool> ignore_merges = GetBool(model, "ignore_merges", false, where);
  absl::StatusOr<std::string> prefix = GetString(model, "continuing_subword_prefix", "", where);
  absl::StatusOr<std::string> suffix = GetString(model, "end_of_word_suffix", "", where);
  absl::StatusOr<std::optional<std::string>> unk = GetOptionalString(model, "unk_token", where);
  for (const absl::Status& s : {byte_fallback.status(), fuse_unk.status(), ignore_merges.status(),
                                prefix.status(), suffix.status(), unk.status()}) {
    if (!s.ok()) return s;
  }
  m->byte_fallback_ = *byte_fallback;
  m->fuse_unk_ = *fuse_unk;
  m->ignore_merges_ = *ignore_merges;
  m->prefix_ = *prefix;
  m->suffix_ = *suffix;

  if (absl::Status s = m->LoadVocab(std::move(tables.vocab), where); !s.ok()) return s;
  if (absl::Status s = m->LoadMerges(tables.merges, where); !s.ok()) return s;
  if (unk->has_value()) {
    m->unk_id_ = m->PieceToId(**unk);
    if (m->unk_id_ < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unk_token \"", **unk, "\" is not in the vocabulary"));
    }
  }
  for (int b = 0; b < 256; ++b) m->byte_ids_[b] = m->PieceToId(ByteFallbackPiece(b));
  return m;
}

absl::Status BpeModel::LoadVocab(std::vector<std::pair<std::string, int64_t>> vocab,
                                 const std::string& where) {
  if (vocab.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".vocab is empty"));
  vocab_.reserve(vocab.size());
  int64_t max_id = -1;
  for (auto& [piece, id] : vocab) {
    if (id < 0 || id >= kMaxTokenId) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".vocab[\"", piece, "\"] = ", id, " is not a token id in [0, ", kMaxTokenId, ")"));
    }
    if (id > max_id) max_id = id;
  }
  pieces_.assign(static_cast<size_t>(max_id + 1), std::string());
  has_piece_.assign(pieces_.size(), false);
  for (auto& [piece, id] : vocab) {
    pieces_[id] = piece;
    has_piece_[id] = true;
    vocab_[std::move(piece)] = static_cast<int32_t>(id);
  }
  return absl::OkStatus();
}

absl::Status BpeModel::LoadMerges(const std::vector<std::pair<std::string, std::string>>& merges,
                                  const std::string& where) {
  merges_.reserve(merges.size());
  std::string merged;
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& a = merges[i].first;
    const std::string& b = merges[i].second;
    const int32_t a_id = PieceToId(a);
    const int32_t b_id = PieceToId(b);
    if (a_id < 0 || b_id < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".merges[", i, "]: token \"", a_id < 0 ? a : b, "\" is not in the vocabulary"));
    }
    std::string_view b_rest = b;
    if (!prefix_.empty() && b_rest.substr(0, prefix_.size()) == prefix_) {
      b_rest.remove_prefix(prefix_.size());
    }
    merged.assign(a);
    merged.append(b_rest);
    const int32_t new_id = PieceToId(merged);
    if (new_id < 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".merges[", i, "]: merged token \"",
                                                     merged, "\" is not in the vocabulary"));
    }
    merges_.insert_or_assign(BpePairKey(a_id, b_id), BpeMerge{static_cast<int32_t>(i), new_id});
  }
  return absl::OkStatus();
}

int32_t BpeModel::PieceToId(std::string_view piece) const {
  auto it = vocab_.find(ToAbsl(piece));
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::IdToPiece(int32_t id) const {
  if (id < 0 || id >= size() || !has_piece_[id]) return nullptr;
  return &pieces_[id];
}

void BpeModel::Tokenize(std::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const int32_t id = PieceToId(word); id >= 0) {
      out->push_back(id);
      return;
    }
  }
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  bool pending_unk = false;  // an unknown symbol not yet emitted (fuse_unk)
  std::string affixed;
  for (size_t i = 0; i < word.size();) {
    const size_t len = Utf8CharLen(word, i);
    std::string_view ch = word.substr(i, len);
    const bool first = i == 0;
    i += len;
    const bool last = i >= word.size();
    if ((!first && !prefix_.empty()) || (last && !suffix_.empty())) {
      affixed.assign(first ? "" : prefix_);
      affixed.append(ch);
      if (last) affixed.append(suffix_);
      ch = affixed;
    }
    if (const int32_t id = PieceToId(ch); id >= 0) {
      if (pending_unk) symbols.push_back(unk_id_);
      pending_unk = false;
      symbols.push_back(id);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char c : ch) all = all && byte_ids_[static_cast<uint8_t>(c)] >= 0;
      if (all) {
        if (pending_unk) symbols.push_back(unk_id_);
        pending_unk = false;
        for (char c : ch) symbols.push_back(byte_ids_[static_cast<uint8_t>(c)]);
        continue;
      }
    }
    if (unk_id_ < 0) continue;  // No unknown token: the character is dropped.
    if (pending_unk && !fuse_unk_) symbols.push_back(unk_id_);
    pending_unk = true;
  }
  if (pending_unk) symbols.push_back(unk_id_);
  BpeMergeAll(merges_, symbols, out);
}

}  // namespace inferd::engine
