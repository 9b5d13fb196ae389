// engine/chat/chat_template.cc — see chat_template.h.
#include "engine/chat/chat_template.h"

#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace inferd::engine {

namespace {

// HF's render(messages=..., tools=..., documents=..., add_generation_prompt=...,
// **kwargs): kwargs may not name these.
constexpr const char* kReservedNames[] = {"messages", "tools", "documents",
                                          "add_generation_prompt"};

}  // namespace

absl::StatusOr<ChatTemplate> ChatTemplate::Load(const std::string& model_dir,
                                                const std::string& explicit_file) {
  absl::StatusOr<ChatTemplateSource> source = FindChatTemplate(model_dir, explicit_file);
  if (!source.ok()) return source.status();
  return Compile(*std::move(source));
}

absl::StatusOr<ChatTemplate> ChatTemplate::Compile(ChatTemplateSource source) {
  ChatTemplate result;
  for (const auto& [name, text] : source.templates) {
    if (static_cast<int64_t>(text.size()) > kMaxChatTemplateBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(source.origin, ": the chat template \"", name, "\" has ", text.size(),
                       " bytes, more than the ", kMaxChatTemplateBytes, " allowed"));
    }
    absl::StatusOr<JinjaTemplate> compiled = JinjaTemplate::Compile(text);
    if (!compiled.ok()) {
      const std::string which =
          source.templates.size() > 1 ? absl::StrCat(" (template \"", name, "\")") : "";
      return absl::Status(compiled.status().code(),
                          absl::StrCat(source.origin, which, ": ", compiled.status().message()));
    }
    result.templates_.emplace(name, *std::move(compiled));
  }
  if (result.templates_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source.origin, ": no chat template"));
  }
  if (source.bos_token.has_value()) result.special_tokens_["bos_token"] = *source.bos_token;
  if (source.eos_token.has_value()) result.special_tokens_["eos_token"] = *source.eos_token;
  result.origin_ = std::move(source.origin);
  return result;
}

absl::StatusOr<std::string> ChatTemplate::Render(const ChatTemplateInput& input) const {
  absl::StatusOr<OrderedJson> messages = NormalizeChatMessages(input.messages);
  if (!messages.ok()) return messages.status();
  if (absl::Status s = CheckChatTools(input.tools); !s.ok()) return s;
  if (!input.kwargs.is_null() && !input.kwargs.is_object()) {
    return absl::InvalidArgumentError("chat_template_kwargs: not an object");
  }
  if (absl::Status s = CheckDepth(input.kwargs, "chat_template_kwargs"); !s.ok()) return s;

  // The template: HF's choice among named ones.
  const JinjaTemplate* chosen = nullptr;
  if (auto it = templates_.find("tool_use"); !input.tools.is_null() && it != templates_.end()) {
    chosen = &it->second;
  } else if (auto def = templates_.find("default"); def != templates_.end()) {
    chosen = &def->second;
  } else {
    std::vector<std::string> names;
    for (const auto& [name, compiled] : templates_) names.push_back(name);
    return absl::FailedPreconditionError(
        absl::StrCat(origin_, ": the model's chat templates (", absl::StrJoin(names, ", "),
                     ") have no \"default\" one for a request without tools"));
  }

  // The variables, in HF's order: special tokens, kwargs over them, then
  // the named arguments.
  OrderedJson context = special_tokens_;
  if (input.kwargs.is_object()) {
    for (const auto& [key, value] : input.kwargs.items()) {
      for (const char* reserved : kReservedNames) {
        if (key == reserved) {
          return absl::InvalidArgumentError(absl::StrCat(
              "chat_template_kwargs.", key, ": a reserved name (set by the request itself)"));
        }
      }
      context[key] = value;
    }
  }
  context["messages"] = *std::move(messages);
  context["tools"] = input.tools;
  context["documents"] = nullptr;
  context["add_generation_prompt"] = input.add_generation_prompt;

  std::string context_json;
  try {
    context_json =
        context.dump(-1, ' ', /*ensure_ascii=*/false, OrderedJson::error_handler_t::strict);
  } catch (const std::exception& e) {  // a string that is not UTF-8
    return absl::InvalidArgumentError(absl::StrCat("chat request: ", e.what()));
  }
  return chosen->Render(context_json, input.now, kMaxRenderedChatBytes);
}

}  // namespace inferd::engine
