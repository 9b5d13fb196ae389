// engine/chat/chat_template.h — a model's chat template: found
// (chat_template_source.h), compiled once, and rendered per request with
// the variables HF transformers' apply_chat_template passes: `messages`,
// `tools`, `documents` (None), `add_generation_prompt`, the special tokens
// of tokenizer_config.json (bos_token, eos_token) and the request's extra
// keyword arguments (`chat_template_kwargs`, e.g. enable_thinking), which
// may override the special tokens but not the four names before them.
//
// With HF's list of named templates, a request with `tools` (not null) gets
// "tool_use" when the model has it, otherwise "default".
//
// Rendering is done by Jinja2 (jinja_runtime.h): thread-safe, serialized.
// Immutable after Load; cheap to copy (templates are shared).
#ifndef INFERD_ENGINE_CHAT_CHAT_TEMPLATE_H_
#define INFERD_ENGINE_CHAT_CHAT_TEMPLATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/chat/chat_messages.h"
#include "engine/chat/chat_template_source.h"
#include "engine/chat/jinja_runtime.h"

namespace inferd::engine {

// A rendering larger than this is refused (a prompt is far smaller).
inline constexpr int64_t kMaxRenderedChatBytes = int64_t{16} << 20;

// One request's input to the template. Parse request JSON as ordered_json:
// templates that print JSON (tools, tool-call arguments) print it in the
// client's key order, as Python does.
struct ChatTemplateInput {
  OrderedJson messages;  // the request's `messages` (chat_messages.h)
  OrderedJson tools;     // null, or the request's `tools`
  bool add_generation_prompt = true;
  OrderedJson kwargs;                    // null, or an object: `chat_template_kwargs`
  std::optional<absl::CivilSecond> now;  // for strftime_now; absent: local time
};

class ChatTemplate {
 public:
  // Finds (see FindChatTemplate for the order and the errors) and compiles
  // the template(s): a syntax error is INVALID_ARGUMENT with Jinja2's
  // message, naming where the template came from.
  static absl::StatusOr<ChatTemplate> Load(const std::string& model_dir,
                                           const std::string& explicit_file = "");
  static absl::StatusOr<ChatTemplate> Compile(ChatTemplateSource source);

  // The prompt text. INVALID_ARGUMENT for bad input (naming the field:
  // messages[2].role, tools[0].function.name, chat_template_kwargs.tools)
  // and for a template that fails or raises on it (raise_exception's
  // message); FAILED_PRECONDITION when the model's named templates have
  // none for this request.
  absl::StatusOr<std::string> Render(const ChatTemplateInput& input) const;

  // Where the template came from (a file, or tokenizer_config.json's field).
  const std::string& origin() const { return origin_; }

 private:
  ChatTemplate() = default;

  std::map<std::string, JinjaTemplate> templates_;
  std::string origin_;
  OrderedJson special_tokens_ = OrderedJson::object();
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_CHAT_CHAT_TEMPLATE_H_
