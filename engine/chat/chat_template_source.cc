// engine/chat/chat_template_source.cc — see chat_template_source.h.
#include "engine/chat/chat_template_source.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_fields.h"
#include "engine/tokenizer/tokenizer_config.h"

namespace inferd::engine {

namespace {

absl::Status CheckSize(const std::string& text, const std::string& where) {
  if (static_cast<int64_t>(text.size()) > kMaxChatTemplateBytes) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": the chat template has ", text.size(),
                                                   " bytes, more than the ", kMaxChatTemplateBytes,
                                                   " allowed"));
  }
  return absl::OkStatus();
}

// The `chat_template` field: a string, or a list of {"name", "template"}.
absl::Status ReadTemplateField(const Json& field, const std::string& where,
                               std::map<std::string, std::string>* out) {
  if (field.is_string()) {
    std::string text = field.get<std::string>();
    if (absl::Status s = CheckSize(text, where); !s.ok()) return s;
    (*out)["default"] = std::move(text);
    return absl::OkStatus();
  }
  if (!field.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " is ", JsonTypeName(field),
                     ", not a string or a list of {\"name\", \"template\"}"));
  }
  for (size_t i = 0; i < field.size(); ++i) {
    const std::string item_where = absl::StrCat(where, "[", i, "]");
    const Json& item = field[i];
    const Json* name = FindField(item, "name");
    const Json* text = FindField(item, "template");
    if (!item.is_object() || name == nullptr || !name->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(item_where, ".name: missing or not a string"));
    }
    if (text == nullptr || !text->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(item_where, ".template: missing or not a string"));
    }
    if (absl::Status s = CheckSize(text->get<std::string>(), item_where); !s.ok()) return s;
    if (!out->emplace(name->get<std::string>(), text->get<std::string>()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(item_where, ".name: \"", name->get<std::string>(), "\" is given twice"));
    }
  }
  if (out->empty()) return absl::InvalidArgumentError(absl::StrCat(where, " is an empty list"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ChatTemplateSource> FindChatTemplate(const std::string& model_dir,
                                                    const std::string& explicit_file) {
  ChatTemplateSource source;
  const std::string config_path = model_dir + "/tokenizer_config.json";
  const std::string jinja_path = model_dir + "/chat_template.jinja";

  // tokenizer_config.json: special tokens always, the template as a fallback.
  std::optional<Json> config;
  absl::StatusOr<std::string> config_text = ReadTextFile(config_path, kMaxJsonFileBytes);
  if (config_text.ok()) {
    absl::StatusOr<Json> parsed = ParseJson(*config_text, config_path);
    if (!parsed.ok()) return parsed.status();
    if (!parsed->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(config_path, ": not a JSON object"));
    }
    config = *std::move(parsed);
    absl::StatusOr<TokenizerConfig> tokens = LoadTokenizerConfig(config_path);
    if (!tokens.ok()) return tokens.status();
    source.bos_token = tokens->bos_token;
    source.eos_token = tokens->eos_token;
  } else if (!absl::IsNotFound(config_text.status())) {
    return config_text.status();
  }

  if (!explicit_file.empty()) {
    absl::StatusOr<std::string> text = ReadTextFile(explicit_file, kMaxChatTemplateBytes);
    if (!text.ok()) return text.status();
    source.templates["default"] = *std::move(text);
    source.origin = explicit_file;
    return source;
  }

  absl::StatusOr<std::string> jinja = ReadTextFile(jinja_path, kMaxChatTemplateBytes);
  if (jinja.ok()) {
    source.templates["default"] = *std::move(jinja);
    source.origin = jinja_path;
    return source;
  }
  if (!absl::IsNotFound(jinja.status())) return jinja.status();

  if (config.has_value()) {
    if (const Json* field = FindField(*config, "chat_template"); field != nullptr) {
      source.origin = config_path + ": chat_template";
      if (absl::Status s = ReadTemplateField(*field, source.origin, &source.templates); !s.ok()) {
        return s;
      }
      return source;
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the model in ", model_dir, " has no chat template: looked for ", jinja_path,
                   " (missing) and the chat_template field of ", config_path,
                   config.has_value() ? " (absent)" : " (file missing)",
                   "; give one with --chat-template FILE"));
}

}  // namespace inferd::engine
