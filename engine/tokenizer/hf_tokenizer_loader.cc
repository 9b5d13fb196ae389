// engine/tokenizer/hf_tokenizer_loader.cc — LoadHfTokenizer: tokenizer.json
// (+ tokenizer_config.json) -> HfTokenizer. Every error names the file.
//
// BOS/EOS: the post_processor decides which ids surround the text, except
// that a tokenizer_config.json giving add_bos_token / add_eos_token
// overrides it (transformers' LlamaTokenizerFast rebuilds its template from
// them). llama3's and qwen3's files add nothing; stories260K's and llama2's
// add <s>.
#include <algorithm>
#include <initializer_list>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/hf_tokenizer.h"
#include "engine/tokenizer/post_processor.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace inferd::engine {

namespace {

absl::Status Prefixed(const std::string& path, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
}

absl::StatusOr<AddedToken> ParseAddedToken(const Json& t, const std::string& where) {
  AddedToken token;
  const Json* id = FindField(t, "id");
  if (id == nullptr || !id->is_number_integer() || id->get<int64_t>() < 0 ||
      id->get<int64_t>() >= (1 << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".id is not a token id"));
  }
  token.id = static_cast<int32_t>(id->get<int64_t>());
  absl::StatusOr<std::string> content = GetString(t, "content", "", where);
  if (!content.ok()) return content.status();
  if (content->empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".content is empty"));
  token.content = *content;
  struct Flag {
    const char* key;
    bool* value;
  };
  for (const Flag& f : {Flag{"special", &token.special}, Flag{"single_word", &token.single_word},
                        Flag{"lstrip", &token.lstrip}, Flag{"rstrip", &token.rstrip}}) {
    absl::StatusOr<bool> v = GetBool(t, f.key, false, where);
    if (!v.ok()) return v.status();
    *f.value = *v;
  }
  // HF: added tokens are normalized unless special, when the flag is absent.
  absl::StatusOr<bool> normalized = GetBool(t, "normalized", !token.special, where);
  if (!normalized.ok()) return normalized.status();
  token.normalized = *normalized;
  return token;
}

// `tables`: vocab / merges streamed by the parser; `tables_in_dom` says
// which of the two (vocab, merges) are still in `root` instead.
absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const Json& root, BpeTables tables,
                                                std::pair<bool, bool> tables_in_dom,
                                                const TokenizerConfig* config) {
  if (!root.is_object()) return absl::InvalidArgumentError("not a JSON object");
  HfTokenizerParts parts;

  const Json* model = FindField(root, "model");
  if (model == nullptr) return absl::InvalidArgumentError("no \"model\"");
  if (!model->is_object()) return absl::InvalidArgumentError("\"model\" is not an object");
  absl::StatusOr<std::string> type = GetString(*model, "type", "", "model");
  if (!type.ok()) return type.status();
  // Old files have no "type"; merges make it BPE (streamed ones included).
  const bool has_merges = !tables_in_dom.second || FindField(*model, "merges") != nullptr;
  if (type->empty() && has_merges) *type = "BPE";
  if (*type != "BPE") {
    return absl::UnimplementedError(
        absl::StrCat("model type \"", *type, "\" is not supported (only BPE)"));
  }
  if (absl::Status s = ExtractBpeTables(*model, tables_in_dom.first, tables_in_dom.second, &tables);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<BpeModel>> bpe =
      BpeModel::Create(*model, std::move(tables), "model");
  if (!bpe.ok()) return bpe.status();
  parts.model = std::move(*bpe);

  const Json null_json;
  auto field = [&](const char* key) -> const Json& {
    const Json* v = FindField(root, key);
    return v == nullptr ? null_json : *v;
  };
  absl::StatusOr<std::unique_ptr<Normalizer>> normalizer =
      Normalizer::FromJson(field("normalizer"), "normalizer");
  if (!normalizer.ok()) return normalizer.status();
  parts.normalizer = std::move(*normalizer);
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre =
      PreTokenizer::FromJson(field("pre_tokenizer"), "pre_tokenizer");
  if (!pre.ok()) return pre.status();
  parts.pre_tokenizer = std::move(*pre);
  absl::StatusOr<TokenDecoder> decoder = TokenDecoder::FromJson(field("decoder"), "decoder");
  if (!decoder.ok()) return decoder.status();
  parts.decoder = std::move(*decoder);

  const Json& added = field("added_tokens");
  if (!added.is_null() && !added.is_array()) {
    return absl::InvalidArgumentError("\"added_tokens\" is not a list");
  }
  for (size_t i = 0; i < added.size(); ++i) {
    absl::StatusOr<AddedToken> t = ParseAddedToken(added[i], absl::StrCat("added_tokens[", i, "]"));
    if (!t.ok()) return t.status();
    parts.added.Add(*std::move(t));
  }
  parts.added.Build(parts.normalizer.get());

  SpecialIds specials;
  if (absl::Status s = ParsePostProcessor(field("post_processor"), "post_processor", &specials);
      !s.ok()) {
    return s;
  }
  parts.prefix_ids = std::move(specials.prefix);
  parts.suffix_ids = std::move(specials.suffix);

  auto piece_to_id = [&](std::string_view piece) {
    const int32_t id = parts.added.FindByContent(piece);
    return id >= 0 ? id : parts.model->PieceToId(piece);
  };
  auto first_known = [&](std::initializer_list<const char*> names) {
    for (const char* name : names) {
      if (const int32_t id = piece_to_id(name); id >= 0) return id;
    }
    return -1;
  };
  if (config != nullptr && config->bos_token.has_value()) {
    parts.bos_id = config->bos_token->empty() ? -1 : piece_to_id(*config->bos_token);
  } else {
    parts.bos_id = !parts.prefix_ids.empty()
                       ? parts.prefix_ids.front()
                       : first_known({"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"});
  }
  if (config != nullptr && config->eos_token.has_value()) {
    parts.eos_id = config->eos_token->empty() ? -1 : piece_to_id(*config->eos_token);
  } else {
    parts.eos_id = first_known({"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"});
  }
  if (config != nullptr &&
      (config->add_bos_token.has_value() || config->add_eos_token.has_value())) {
    parts.prefix_ids.clear();
    parts.suffix_ids.clear();
    if (config->add_bos_token.value_or(false) && parts.bos_id >= 0) {
      parts.prefix_ids.push_back(parts.bos_id);
    }
    if (config->add_eos_token.value_or(false) && parts.eos_id >= 0) {
      parts.suffix_ids.push_back(parts.eos_id);
    }
  }
  const int32_t vocab_size = std::max(parts.model->size(), parts.added.max_id() + 1);
  for (const std::vector<int32_t>* ids : {&parts.prefix_ids, &parts.suffix_ids}) {
    for (int32_t id : *ids) {
      if (id >= vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("post_processor adds id ", id, ", beyond the vocabulary"));
      }
    }
  }
  return std::unique_ptr<Tokenizer>(new HfTokenizer(std::move(parts)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::string& path,
                                                           const TokenizerConfig* config) {
  absl::StatusOr<std::string> text = ReadTextFile(path, kMaxTokenizerFileBytes);
  if (!text.ok()) return text.status();
  return HfTokenizerFromText(std::move(*text), path, config);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> HfTokenizerFromText(std::string text,
                                                               const std::string& path,
                                                               const TokenizerConfig* config) {
  absl::StatusOr<TokenizerJson> doc = ParseTokenizerJson(text, path);
  if (!doc.ok()) return doc.status();
  text.clear();
  text.shrink_to_fit();
  try {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Load(
        doc->rest, std::move(doc->tables), {!doc->vocab_streamed, !doc->merges_streamed}, config);
    if (!tok.ok()) return Prefixed(path, tok.status());
    return tok;
  } catch (const Json::exception& e) {
    // Typed accessors check before reading; this is a last line of defence.
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unexpected JSON structure: ", e.what()));
  }
}

}  // namespace inferd::engine
