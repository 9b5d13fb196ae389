// engine/tokenizer/sentencepiece_bpe.cc — see sentencepiece_bpe.h. The merge
// loop follows sentencepiece's bpe::Model::SampleEncode (without dropout).
#include "engine/tokenizer/sentencepiece_bpe.h"

#include <queue>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/absl_compat.h"

namespace inferd::engine {

namespace {

using PieceType = SentencePieceModelProto::PieceType;
using ModelType = SentencePieceModelProto::ModelType;

struct Symbol {
  int32_t prev;  // -1: none
  int32_t next;  // -1: none
  bool frozen;   // a USER_DEFINED piece: never merged
  std::string_view piece;
};

struct Candidate {
  int32_t left;   // index of the left symbol
  int32_t right;  // index of the right symbol
  float score;    // of the merged piece
  size_t size;    // bytes of the merged piece (stale when the symbols changed)
};

// std::priority_queue pops the largest: higher score, then the leftmost.
struct Lower {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

bool TakesPartInMerges(PieceType type) {
  return type == PieceType::kNormal || type == PieceType::kUserDefined ||
         type == PieceType::kUnused;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* ModelTypeName(int32_t type) {
  switch (static_cast<ModelType>(type)) {
    case ModelType::kUnigram:
      return "UNIGRAM";
    case ModelType::kBpe:
      return "BPE";
    case ModelType::kWord:
      return "WORD";
    case ModelType::kChar:
      return "CHAR";
  }
  return "not a TrainerSpec.ModelType";
}

}  // namespace

int SentencePieceByte(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  const int hi = HexDigit(piece[3]);
  const int lo = HexDigit(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

absl::StatusOr<std::unique_ptr<SentencePieceBpe>> SentencePieceBpe::Create(
    const SentencePieceModelProto& model, std::string_view origin) {
  const int32_t type = model.trainer_spec.model_type;
  if (type != static_cast<int32_t>(ModelType::kBpe)) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(origin), ": trainer_spec.model_type is ", ModelTypeName(type), " (",
                     type, "); only BPE (2) sentencepiece models are supported"));
  }
  if (model.pieces.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(origin), ": sentencepiece model has no pieces"));
  }
  std::unique_ptr<SentencePieceBpe> bpe(new SentencePieceBpe());
  bpe->byte_fallback_ = model.trainer_spec.byte_fallback;
  if (absl::Status s = bpe->AddPieces(model, origin); !s.ok()) return s;
  return bpe;
}

absl::Status SentencePieceBpe::AddPieces(const SentencePieceModelProto& model,
                                         std::string_view origin) {
  byte_ids_.fill(-1);
  std::vector<std::string> user_defined;
  scores_.reserve(model.pieces.size());
  types_.reserve(model.pieces.size());
  for (size_t i = 0; i < model.pieces.size(); ++i) {
    const SentencePieceModelProto::Piece& p = model.pieces[i];
    const auto id = static_cast<int32_t>(i);
    auto error = [&](auto... what) {
      return absl::InvalidArgumentError(
          absl::StrCat(ToAbsl(origin), ": pieces[", i, "] \"", p.piece, "\": ", what...));
    };
    if (p.piece.empty()) return error("the piece is empty");
    if (p.piece.find('\0') != std::string::npos) return error("the piece contains a NUL byte");
    auto& map = TakesPartInMerges(p.type) ? pieces_ : reserved_;
    if (auto [it, inserted] = map.try_emplace(p.piece, id); !inserted) {
      return error("defined twice (also pieces[", it->second, "])");
    }
    switch (p.type) {
      case PieceType::kUserDefined:
        user_defined.push_back(p.piece);
        break;
      case PieceType::kUnknown:
        if (unk_id_ >= 0)
          return error("a second UNKNOWN piece (the first is pieces[", unk_id_, "])");
        unk_id_ = id;
        break;
      case PieceType::kByte: {
        if (!byte_fallback_)
          return error("a BYTE piece although trainer_spec.byte_fallback is off");
        const int b = SentencePieceByte(p.piece);
        if (b < 0) return error("a BYTE piece not spelled <0xXX>");
        byte_ids_[b] = id;
        break;
      }
      case PieceType::kUnused:
        has_unused_ = true;
        break;
      case PieceType::kNormal:
      case PieceType::kControl:
        break;
    }
    scores_.push_back(p.score);
    types_.push_back(p.type);
  }
  if (unk_id_ < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(origin), ": sentencepiece model has no UNKNOWN piece"));
  }
  for (int b = 0; byte_fallback_ && b < 256; ++b) {
    if (byte_ids_[b] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(ToAbsl(origin),
                                                     ": trainer_spec.byte_fallback is on but byte ",
                                                     b, " has no BYTE piece (all 256 are needed)"));
    }
  }
  matcher_ = SentencePieceMatcher(user_defined);
  return absl::OkStatus();
}

int32_t SentencePieceBpe::PieceToId(std::string_view piece) const {
  if (auto it = reserved_.find(ToAbsl(piece)); it != reserved_.end()) return it->second;
  if (auto it = pieces_.find(ToAbsl(piece)); it != pieces_.end()) return it->second;
  return unk_id_;
}

void SentencePieceBpe::Encode(std::string_view normalized, std::vector<int32_t>* out) const {
  if (normalized.empty()) return;
  std::vector<Symbol> sym;
  sym.reserve(normalized.size());
  for (size_t pos = 0; pos < normalized.size();) {
    bool frozen = false;
    const size_t len = matcher_.Match(normalized.substr(pos), &frozen);
    const auto index = static_cast<int32_t>(sym.size());
    sym.push_back({index - 1, pos + len < normalized.size() ? index + 1 : -1, frozen,
                   normalized.substr(pos, len)});
    pos += len;
  }

  std::priority_queue<Candidate, std::vector<Candidate>, Lower> agenda;
  Splits splits;
  auto maybe_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || sym[left].frozen || sym[right].frozen) return;
    // Neighbouring symbols are neighbouring bytes of `normalized`.
    const std::string_view merged(sym[left].piece.data(),
                                  sym[left].piece.size() + sym[right].piece.size());
    const auto it = pieces_.find(ToAbsl(merged));
    if (it == pieces_.end()) return;
    agenda.push({left, right, scores_[it->second], merged.size()});
    if (types_[it->second] == PieceType::kUnused) {
      splits[ToAbsl(merged)] = sym[left].piece.size();
    }
  };
  for (size_t i = 1; i < sym.size(); ++i) {
    maybe_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  }

  while (!agenda.empty()) {
    const Candidate top = agenda.top();
    agenda.pop();
    Symbol& left = sym[top.left];
    Symbol& right = sym[top.right];
    // Stale: one of the two was merged away or grew since.
    if (left.piece.empty() || right.piece.empty() ||
        left.piece.size() + right.piece.size() != top.size) {
      continue;
    }
    left.piece = std::string_view(left.piece.data(), top.size);
    left.next = right.next;
    if (right.next >= 0) sym[right.next].prev = top.left;
    right.piece = std::string_view();
    maybe_add(left.prev, top.left);
    maybe_add(top.left, left.next);
  }

  bool prev_unknown = false;
  for (int32_t i = 0; i >= 0; i = sym[i].next) EmitSymbol(sym[i].piece, splits, &prev_unknown, out);
}

void SentencePieceBpe::EmitSymbol(std::string_view piece, const Splits& splits, bool* prev_unknown,
                                  std::vector<int32_t>* out) const {
  if (!has_unused_) {
    EmitPiece(piece, prev_unknown, out);
    return;
  }
  std::vector<std::string_view> todo = {piece};  // right to left
  while (!todo.empty()) {
    const std::string_view w = todo.back();
    todo.pop_back();
    const int32_t id = PieceToId(w);
    const auto it = types_[id] == PieceType::kUnused ? splits.find(ToAbsl(w)) : splits.end();
    if (it == splits.end()) {
      EmitPiece(w, prev_unknown, out);
      continue;
    }
    todo.push_back(w.substr(it->second));
    todo.push_back(w.substr(0, it->second));
  }
}

void SentencePieceBpe::EmitPiece(std::string_view piece, bool* prev_unknown,
                                 std::vector<int32_t>* out) const {
  const int32_t id = PieceToId(piece);
  const bool unknown = id == unk_id_;
  if (unknown && byte_fallback_) {
    for (char c : piece) out->push_back(byte_ids_[static_cast<uint8_t>(c)]);
  } else if (!(unknown && *prev_unknown)) {
    out->push_back(id);  // a run of unknown symbols gives one UNKNOWN id
  }
  *prev_unknown = unknown;
}

}  // namespace inferd::engine
