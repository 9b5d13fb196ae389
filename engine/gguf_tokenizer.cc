// engine/gguf_tokenizer.cc
#include "engine/gguf_tokenizer.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/hf_tokenizer.h"
#include "engine/tokenizer/sentencepiece_proto.h"
#include "engine/tokenizer/sentencepiece_tokenizer.h"
#include "engine/tokenizer/tokenizer_config.h"
#include "engine/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace inferd::engine {
namespace {

using PieceType = SentencePieceModelProto::PieceType;

absl::Status KeyError(const GgufFile& f, const std::string& key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(f.path(), ": metadata `", key, "`: ", what));
}

// An array of `elem`; nullptr when absent and not `required`.
absl::StatusOr<const GgufValue*> Array(const GgufFile& f, const std::string& key,
                                       GgufValueType elem, bool required) {
  const GgufValue* v = f.Find(key);
  if (v == nullptr) {
    if (required) return KeyError(f, key, "required key is missing");
    return nullptr;
  }
  if (v->type != GgufValueType::kArray || v->elem_type != elem) {
    return KeyError(f, key,
                    absl::StrCat("expected an array of ", GgufValueTypeName(elem), ", got ",
                                 GgufValueTypeName(v->type),
                                 v->type == GgufValueType::kArray
                                     ? absl::StrCat(" of ", GgufValueTypeName(v->elem_type))
                                     : ""));
  }
  return v;
}

absl::StatusOr<std::optional<bool>> Bool(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.Find(key);
  if (v == nullptr) return std::optional<bool>();
  if (v->type != GgufValueType::kBool) {
    return KeyError(f, key, absl::StrCat("expected a bool, got ", GgufValueTypeName(v->type)));
  }
  return std::optional<bool>(v->i != 0);
}

// A token id key: absent -> `fallback`; else an integer in [0, vocab).
absl::StatusOr<int32_t> Id(const GgufFile& f, const std::string& key, int64_t vocab,
                           int32_t fallback) {
  const GgufValue* v = f.Find(key);
  if (v == nullptr) return fallback;
  std::optional<int64_t> id = v->AsInt();
  if (!id.has_value() || *id < 0 || *id >= vocab) {
    return KeyError(f, key, absl::StrCat("not a token id of the ", vocab, "-token vocabulary"));
  }
  return static_cast<int32_t>(*id);
}

// What both tokenizer kinds read: tokenizer.ggml.tokens (1 to
// kMaxSentencePieces strings of 1 to kMaxSentencePieceBytes bytes), the
// optional token_type array of the same length, the special token ids and
// whether to add them.
struct GgufVocab {
  const GgufValue* tokens = nullptr;
  const GgufValue* types = nullptr;  // null when absent
  int32_t bos = -1;
  int32_t eos = -1;
  std::optional<bool> add_bos;
  std::optional<bool> add_eos;
  size_t size() const { return tokens->array.size(); }
  const std::string& token(int32_t id) const { return tokens->array[id].str; }
};

absl::StatusOr<GgufVocab> ReadVocab(const GgufFile& f) {
  GgufVocab v;
  absl::StatusOr<const GgufValue*> tokens =
      Array(f, "tokenizer.ggml.tokens", GgufValueType::kString, true);
  if (!tokens.ok()) return tokens.status();
  v.tokens = *tokens;
  absl::StatusOr<const GgufValue*> types =
      Array(f, "tokenizer.ggml.token_type", GgufValueType::kI32, false);
  if (!types.ok()) return types.status();
  v.types = *types;
  const size_t n = v.size();
  if (n == 0 || n > kMaxSentencePieces) {
    return KeyError(f, "tokenizer.ggml.tokens",
                    absl::StrCat(n, " tokens; expected 1 to ", kMaxSentencePieces));
  }
  if (v.types != nullptr && v.types->array.size() != n) {
    return KeyError(f, "tokenizer.ggml.token_type",
                    absl::StrCat(v.types->array.size(), " entries for ", n, " tokens"));
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string& t = v.tokens->array[i].str;
    if (t.empty() || t.size() > kMaxSentencePieceBytes) {
      return KeyError(f, "tokenizer.ggml.tokens",
                      absl::StrCat("token ", i, " has ", t.size(), " bytes (1 to ",
                                   kMaxSentencePieceBytes, " allowed)"));
    }
  }
  const int64_t vocab = static_cast<int64_t>(n);
  absl::StatusOr<int32_t> bos = Id(f, "tokenizer.ggml.bos_token_id", vocab, -1);
  if (!bos.ok()) return bos.status();
  absl::StatusOr<int32_t> eos = Id(f, "tokenizer.ggml.eos_token_id", vocab, -1);
  if (!eos.ok()) return eos.status();
  absl::StatusOr<std::optional<bool>> add_bos = Bool(f, "tokenizer.ggml.add_bos_token");
  if (!add_bos.ok()) return add_bos.status();
  absl::StatusOr<std::optional<bool>> add_eos = Bool(f, "tokenizer.ggml.add_eos_token");
  if (!add_eos.ok()) return add_eos.status();
  v.bos = *bos;
  v.eos = *eos;
  v.add_bos = *add_bos;
  v.add_eos = *add_eos;
  return v;
}

// Byte-level BPE ("gpt2"): the tokenizer.json llama.cpp's converter read,
// rebuilt from the metadata. tokenizer.ggml.pre names the pre-tokenizer (the
// split regex of the model family); token_type 3 (control) and 4
// (user-defined) tokens are added tokens, matched in the text first, the
// former special.
absl::StatusOr<std::unique_ptr<Tokenizer>> Gpt2TokenizerFromGguf(const GgufFile& f) {
  using Json = nlohmann::json;
  std::string pre = "default";
  if (const GgufValue* v = f.Find("tokenizer.ggml.pre"); v != nullptr) {
    if (v->type != GgufValueType::kString) {
      return KeyError(f, "tokenizer.ggml.pre", "expected a string");
    }
    pre = v->str;
  }
  // The split regexes of HF's tokenizer.json files for these families.
  constexpr const char* kLlama3Split =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  constexpr const char* kQwen2Split =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  Json pre_tokenizer;
  Json normalizer = nullptr;
  bool ignore_merges = false;
  auto split_then_bytes = [](const char* regex) {
    return Json{{"type", "Sequence"},
                {"pretokenizers", Json::array({Json{{"type", "Split"},
                                                    {"pattern", {{"Regex", regex}}},
                                                    {"behavior", "Isolated"},
                                                    {"invert", false}},
                                               Json{{"type", "ByteLevel"},
                                                    {"add_prefix_space", false},
                                                    {"trim_offsets", false},
                                                    {"use_regex", false}}})}};
  };
  if (pre == "llama-bpe" || pre == "llama3") {
    pre_tokenizer = split_then_bytes(kLlama3Split);
    ignore_merges = true;
  } else if (pre == "qwen2") {
    pre_tokenizer = split_then_bytes(kQwen2Split);
    normalizer = Json{{"type", "NFC"}};
  } else if (pre == "default" || pre == "gpt-2") {
    pre_tokenizer = Json{{"type", "ByteLevel"},
                         {"add_prefix_space", false},
                         {"trim_offsets", true},
                         {"use_regex", true}};
  } else {
    return KeyError(f, "tokenizer.ggml.pre",
                    absl::StrCat("pre-tokenizer \"", pre,
                                 "\" is not supported (llama-bpe, qwen2, gpt-2 and default "
                                 "are); --tokenizer DIR gives the model's HF tokenizer instead"));
  }
  absl::StatusOr<GgufVocab> v = ReadVocab(f);
  if (!v.ok()) return v.status();
  absl::StatusOr<const GgufValue*> merges =
      Array(f, "tokenizer.ggml.merges", GgufValueType::kString, true);
  if (!merges.ok()) return merges.status();
  Json vocab = Json::object();
  Json added = Json::array();
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string& t = v->tokens->array[i].str;
    if (!IsValidUtf8(t)) {
      return KeyError(f, "tokenizer.ggml.tokens", absl::StrCat("token ", i, " is not UTF-8"));
    }
    if (vocab.contains(t)) {
      return KeyError(f, "tokenizer.ggml.tokens",
                      absl::StrCat("token ", i, " repeats token ", vocab[t].get<int64_t>()));
    }
    vocab[t] = static_cast<int64_t>(i);
    const int64_t type = v->types != nullptr ? v->types->array[i].i : 1;
    if (type < 1 || type > 6) {
      return KeyError(f, "tokenizer.ggml.token_type",
                      absl::StrCat("token ", i, " has unknown type ", type));
    }
    if (type == 3 || type == 4) {  // control, user-defined
      added.push_back(Json{{"id", static_cast<int64_t>(i)},
                           {"content", t},
                           {"single_word", false},
                           {"lstrip", false},
                           {"rstrip", false},
                           {"normalized", false},
                           {"special", type == 3}});
    }
  }
  Json merge_list = Json::array();
  for (size_t i = 0; i < (*merges)->array.size(); ++i) {
    const std::string& m = (*merges)->array[i].str;
    if (!IsValidUtf8(m)) {
      return KeyError(f, "tokenizer.ggml.merges", absl::StrCat("merge ", i, " is not UTF-8"));
    }
    merge_list.push_back(m);
  }
  const Json tokenizer_json = {{"version", "1.0"},
                               {"added_tokens", added},
                               {"normalizer", normalizer},
                               {"pre_tokenizer", pre_tokenizer},
                               {"post_processor",
                                {{"type", "ByteLevel"},
                                 {"add_prefix_space", false},
                                 {"trim_offsets", false},
                                 {"use_regex", false}}},
                               {"decoder",
                                {{"type", "ByteLevel"},
                                 {"add_prefix_space", true},
                                 {"trim_offsets", true},
                                 {"use_regex", true}}},
                               {"model",
                                {{"type", "BPE"},
                                 {"dropout", nullptr},
                                 {"unk_token", nullptr},
                                 {"fuse_unk", false},
                                 {"byte_fallback", false},
                                 {"ignore_merges", ignore_merges},
                                 {"vocab", vocab},
                                 {"merges", merge_list}}}};
  TokenizerConfig config;
  config.add_bos_token = v->add_bos.value_or(false) && v->bos >= 0;
  config.add_eos_token = v->add_eos.value_or(false) && v->eos >= 0;
  config.bos_token = v->bos >= 0 ? v->token(v->bos) : std::string();
  config.eos_token = v->eos >= 0 ? v->token(v->eos) : std::string();
  return HfTokenizerFromText(tokenizer_json.dump(), f.path(), &config);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromGguf(const GgufFile& f) {
  const GgufValue* model = f.Find("tokenizer.ggml.model");
  if (model == nullptr || model->type != GgufValueType::kString) {
    return KeyError(f, "tokenizer.ggml.model",
                    "missing or not a string: the file has no tokenizer");
  }
  if (model->str == "gpt2") return Gpt2TokenizerFromGguf(f);
  if (model->str != "llama") {
    return KeyError(f, "tokenizer.ggml.model",
                    absl::StrCat("tokenizer \"", model->str,
                                 "\" is not supported (\"llama\", sentencepiece BPE, and \"gpt2\", "
                                 "byte-level BPE, are); --tokenizer DIR gives the model's HF "
                                 "tokenizer instead"));
  }
  absl::StatusOr<GgufVocab> v = ReadVocab(f);
  if (!v.ok()) return v.status();
  absl::StatusOr<const GgufValue*> scores =
      Array(f, "tokenizer.ggml.scores", GgufValueType::kF32, false);
  if (!scores.ok()) return scores.status();
  const size_t n = v->size();
  if (*scores != nullptr && (*scores)->array.size() != n) {
    return KeyError(f, "tokenizer.ggml.scores",
                    absl::StrCat((*scores)->array.size(), " entries for ", n, " tokens"));
  }
  SentencePieceModelProto proto;
  proto.pieces.resize(n);
  bool has_bytes = false;
  for (size_t i = 0; i < n; ++i) {
    SentencePieceModelProto::Piece& p = proto.pieces[i];
    p.piece = v->tokens->array[i].str;
    if (*scores != nullptr) {
      p.score = static_cast<float>((*scores)->array[i].f);
      if (!std::isfinite(p.score)) {
        return KeyError(f, "tokenizer.ggml.scores",
                        absl::StrCat("score of token ", i, " is not finite"));
      }
    }
    if (v->types != nullptr) {
      const int64_t t = v->types->array[i].i;
      if (t < static_cast<int64_t>(PieceType::kNormal) ||
          t > static_cast<int64_t>(PieceType::kByte)) {
        return KeyError(f, "tokenizer.ggml.token_type",
                        absl::StrCat("token ", i, " has unknown type ", t));
      }
      p.type = static_cast<PieceType>(t);  // GGUF uses sentencepiece's ids
      has_bytes |= p.type == PieceType::kByte;
    }
  }
  SentencePieceModelProto::TrainerSpec& trainer = proto.trainer_spec;
  trainer.model_type = static_cast<int32_t>(SentencePieceModelProto::ModelType::kBpe);
  trainer.byte_fallback = has_bytes;
  const int64_t vocab = static_cast<int64_t>(n);
  absl::StatusOr<int32_t> unk = Id(f, "tokenizer.ggml.unknown_token_id", vocab, 0);
  if (!unk.ok()) return unk.status();
  absl::StatusOr<int32_t> pad = Id(f, "tokenizer.ggml.padding_token_id", vocab, -1);
  if (!pad.ok()) return pad.status();
  trainer.unk_id = *unk;
  trainer.unk_piece = proto.pieces[*unk].piece;
  trainer.bos_id = v->bos;
  trainer.eos_id = v->eos;
  trainer.pad_id = *pad;
  if (v->bos >= 0) trainer.bos_piece = v->token(v->bos);
  if (v->eos >= 0) trainer.eos_piece = v->token(v->eos);
  if (*pad >= 0) trainer.pad_piece = proto.pieces[*pad].piece;
  SentencePieceModelProto::NormalizerSpec& norm = proto.normalizer_spec;
  norm.name = "identity";
  absl::StatusOr<std::optional<bool>> prefix = Bool(f, "tokenizer.ggml.add_space_prefix");
  if (!prefix.ok()) return prefix.status();
  norm.add_dummy_prefix = prefix->value_or(true);
  absl::StatusOr<std::optional<bool>> collapse = Bool(f, "tokenizer.ggml.remove_extra_whitespaces");
  if (!collapse.ok()) return collapse.status();
  norm.remove_extra_whitespaces = collapse->value_or(false);  // llama.cpp's default
  norm.escape_whitespaces = true;

  TokenizerConfig config;
  config.add_bos_token = v->add_bos.value_or(v->bos >= 0);
  config.add_eos_token = v->add_eos.value_or(false);
  config.bos_token = v->bos >= 0 ? v->token(v->bos) : std::string();
  config.eos_token = v->eos >= 0 ? v->token(v->eos) : std::string();
  return SentencePieceTokenizerFromModel(proto, f.path(), &config);
}

}  // namespace inferd::engine
