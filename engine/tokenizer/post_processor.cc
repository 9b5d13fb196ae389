// engine/tokenizer/post_processor.cc — see post_processor.h.
#include "engine/tokenizer/post_processor.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace inferd::engine {

namespace {

// TemplateProcessing: the special tokens of "single" before and after $A.
absl::Status ParseTemplate(const Json& spec, const std::string& where, SpecialIds* out) {
  const Json* single = FindField(spec, "single");
  if (single == nullptr || !single->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": \"single\" is not a list"));
  }
  const Json* specials = FindField(spec, "special_tokens");
  bool after_sequence = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const Json& piece = (*single)[i];
    const std::string here = absl::StrCat(where, ".single[", i, "]");
    if (FindField(piece, "Sequence") != nullptr) {
      after_sequence = true;
      continue;
    }
    const Json* token = FindField(piece, "SpecialToken");
    const Json* name = token == nullptr ? nullptr : FindField(*token, "id");
    if (name == nullptr || !name->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          here, " is neither {\"Sequence\": ...} nor {\"SpecialToken\": {\"id\": ...}}"));
    }
    const Json* entry =
        specials == nullptr ? nullptr : FindField(*specials, name->get<std::string>());
    const Json* ids = entry == nullptr ? nullptr : FindField(*entry, "ids");
    if (ids == nullptr || !ids->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(here, ": special token \"",
                                                     name->get<std::string>(),
                                                     "\" has no ids in \"special_tokens\""));
    }
    for (const Json& id : *ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
        return absl::InvalidArgumentError(
            absl::StrCat(here, ": special token id is not a token id"));
      }
      (after_sequence ? out->suffix : out->prefix)
          .push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  }
  return absl::OkStatus();
}

// BertProcessing / RobertaProcessing: "cls": [content, id], "sep": [content, id].
absl::Status ParseClsSep(const Json& spec, const std::string& where, SpecialIds* out) {
  for (const char* key : {"cls", "sep"}) {
    const Json* pair = FindField(spec, key);
    if (pair == nullptr || !pair->is_array() || pair->size() != 2 ||
        !(*pair)[1].is_number_integer()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", key, "\" is not [content, id]"));
    }
    const int64_t id = (*pair)[1].get<int64_t>();
    if (id < 0 || id > INT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": \"", key, "\" id out of range"));
    }
    (std::string_view(key) == "cls" ? out->prefix : out->suffix)
        .push_back(static_cast<int32_t>(id));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParsePostProcessor(const Json& spec, const std::string& where, SpecialIds* out) {
  if (spec.is_null()) return absl::OkStatus();
  absl::StatusOr<std::string> type = GetType(spec, where);
  if (!type.ok()) return type.status();
  const std::string here = absl::StrCat(where, " (", *type, ")");
  if (*type == "TemplateProcessing") return ParseTemplate(spec, here, out);
  if (*type == "ByteLevel") return absl::OkStatus();
  if (*type == "BertProcessing" || *type == "RobertaProcessing")
    return ParseClsSep(spec, here, out);
  if (*type == "Sequence") {
    const Json* list = FindField(spec, "processors");
    if (list == nullptr || !list->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(here, ": \"processors\" is not a list"));
    }
    for (size_t i = 0; i < list->size(); ++i) {
      absl::Status s =
          ParsePostProcessor((*list)[i], absl::StrCat(where, ".processors[", i, "]"), out);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  return absl::UnimplementedError(
      absl::StrCat(where, ": post_processor type \"", *type, "\" is not supported"));
}

}  // namespace inferd::engine
