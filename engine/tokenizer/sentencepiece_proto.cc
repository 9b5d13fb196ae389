// engine/tokenizer/sentencepiece_proto.cc — see sentencepiece_proto.h.
#include "engine/tokenizer/sentencepiece_proto.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/absl_compat.h"
#include "engine/tokenizer/protobuf_wire.h"

namespace inferd::engine {

namespace {

using Proto = SentencePieceModelProto;

absl::Status ReadString(WireReader& r, std::string_view name, std::string* out) {
  std::string_view value;
  if (absl::Status s = r.ReadBytes(name, &value); !s.ok()) return s;
  out->assign(value);
  return absl::OkStatus();
}

absl::Status ParsePiece(WireReader& r, Proto::Piece* piece) {
  for (;;) {
    bool done = false;
    if (absl::Status s = r.NextField(&done); !s.ok() || done) return s;
    absl::Status s;
    switch (r.field_number()) {
      case 1:
        s = ReadString(r, "piece", &piece->piece);
        if (s.ok() && piece->piece.size() > kMaxSentencePieceBytes) {
          return r.Error("piece", absl::StrCat(piece->piece.size(), " bytes long (at most ",
                                               kMaxSentencePieceBytes, ")"));
        }
        break;
      case 2:
        s = r.ReadFloat("score", &piece->score);
        if (s.ok() && std::isnan(piece->score)) return r.Error("score", "is NaN");
        break;
      case 3: {
        int32_t type = 0;
        s = r.ReadInt32("type", &type);
        if (s.ok() && (type < 1 || type > 6)) {
          return r.Error("type", absl::StrCat(type, " is not a SentencePiece.Type (1..6)"));
        }
        piece->type = static_cast<Proto::PieceType>(type);
        break;
      }
      default:
        s = r.SkipField();
    }
    if (!s.ok()) return s;
  }
}

absl::Status ParseTrainerSpec(WireReader& r, Proto::TrainerSpec* spec) {
  for (;;) {
    bool done = false;
    if (absl::Status s = r.NextField(&done); !s.ok() || done) return s;
    absl::Status s;
    switch (r.field_number()) {
      case 3:
        s = r.ReadInt32("model_type", &spec->model_type);
        break;
      case 24:
        s = r.ReadBool("treat_whitespace_as_suffix", &spec->treat_whitespace_as_suffix);
        break;
      case 35:
        s = r.ReadBool("byte_fallback", &spec->byte_fallback);
        break;
      case 40:
        s = r.ReadInt32("unk_id", &spec->unk_id);
        break;
      case 41:
        s = r.ReadInt32("bos_id", &spec->bos_id);
        break;
      case 42:
        s = r.ReadInt32("eos_id", &spec->eos_id);
        break;
      case 43:
        s = r.ReadInt32("pad_id", &spec->pad_id);
        break;
      case 45:
        s = ReadString(r, "unk_piece", &spec->unk_piece);
        break;
      case 46:
        s = ReadString(r, "bos_piece", &spec->bos_piece);
        break;
      case 47:
        s = ReadString(r, "eos_piece", &spec->eos_piece);
        break;
      case 48:
        s = ReadString(r, "pad_piece", &spec->pad_piece);
        break;
      default:
        s = r.SkipField();
    }
    if (!s.ok()) return s;
  }
}

absl::Status ParseNormalizerSpec(WireReader& r, Proto::NormalizerSpec* spec) {
  for (;;) {
    bool done = false;
    if (absl::Status s = r.NextField(&done); !s.ok() || done) return s;
    absl::Status s;
    switch (r.field_number()) {
      case 1:
        s = ReadString(r, "name", &spec->name);
        break;
      case 2:
        s = ReadString(r, "precompiled_charsmap", &spec->precompiled_charsmap);
        break;
      case 3:
        s = r.ReadBool("add_dummy_prefix", &spec->add_dummy_prefix);
        break;
      case 4:
        s = r.ReadBool("remove_extra_whitespaces", &spec->remove_extra_whitespaces);
        break;
      case 5:
        s = r.ReadBool("escape_whitespaces", &spec->escape_whitespaces);
        break;
      default:
        s = r.SkipField();
    }
    if (!s.ok()) return s;
  }
}

// Reads the current field as a nested message with `parse`.
template <typename T>
absl::Status ParseNested(WireReader& r, std::string_view name,
                         absl::Status (*parse)(WireReader&, T*), T* out) {
  absl::StatusOr<WireReader> sub = r.ReadMessage(name);
  if (!sub.ok()) return sub.status();
  return parse(*sub, out);
}

}  // namespace

absl::StatusOr<SentencePieceModelProto> ParseModelProto(std::string_view bytes,
                                                        std::string_view origin) {
  const std::string what = absl::StrCat(ToAbsl(origin), ": not a valid sentencepiece model");
  WireReader r(bytes, what);
  if (bytes.size() > kMaxSentencePieceModelBytes) {
    return r.Error("", absl::StrCat("the file is ", bytes.size(), " bytes (at most ",
                                    kMaxSentencePieceModelBytes, ")"));
  }
  Proto model;
  for (;;) {
    bool done = false;
    if (absl::Status s = r.NextField(&done); !s.ok()) return s;
    if (done) break;
    absl::Status s;
    switch (r.field_number()) {
      case 1: {
        if (model.pieces.size() >= kMaxSentencePieces) {
          return r.Error("pieces", absl::StrCat("more than ", kMaxSentencePieces, " pieces"));
        }
        const std::string name = absl::StrCat("pieces[", model.pieces.size(), "]");
        model.pieces.emplace_back();
        s = ParseNested(r, name, ParsePiece, &model.pieces.back());
        break;
      }
      case 2:
        s = ParseNested(r, "trainer_spec", ParseTrainerSpec, &model.trainer_spec);
        break;
      case 3:
        s = ParseNested(r, "normalizer_spec", ParseNormalizerSpec, &model.normalizer_spec);
        break;
      case 5:
        s = ParseNested(r, "denormalizer_spec", ParseNormalizerSpec, &model.denormalizer_spec);
        break;
      default:
        s = r.SkipField();
    }
    if (!s.ok()) return s;
  }
  return model;
}

}  // namespace inferd::engine
