// engine/chat/chat_template_source.h — where a model's chat template comes
// from, and the special tokens HF hands to it.
//
// In order, the first that exists wins (as HF transformers loads them):
//   1. an explicit file (--chat-template FILE);
//   2. chat_template.jinja in the model directory;
//   3. the `chat_template` field of the model directory's
//      tokenizer_config.json: a string, or HF's list of {"name", "template"}.
// bos_token and eos_token come from tokenizer_config.json whichever source
// the template has (a string or an AddedToken object {"content": ...}).
// Every template is at most kMaxChatTemplateBytes: model files are outside
// bytes.
#ifndef INFERD_ENGINE_CHAT_CHAT_TEMPLATE_SOURCE_H_
#define INFERD_ENGINE_CHAT_CHAT_TEMPLATE_SOURCE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace inferd::engine {

// Real chat templates are a few KiB to a few tens of KiB.
inline constexpr int64_t kMaxChatTemplateBytes = int64_t{1} << 20;

struct ChatTemplateSource {
  // Template text by name: one template is named "default"; HF's list form
  // keeps its own names (usually "default" and "tool_use").
  std::map<std::string, std::string> templates;
  // Where the templates came from, for messages: a file, or
  // "<dir>/tokenizer_config.json: chat_template".
  std::string origin;
  // From tokenizer_config.json when it gives them (null there: "").
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
};

// `explicit_file` empty: look in `model_dir` only. FAILED_PRECONDITION when
// the model has no template, naming the directory and the files looked at;
// NOT_FOUND for a missing explicit file; INVALID_ARGUMENT for an unreadable
// or oversized file, bad JSON, or a `chat_template` field of a wrong shape
// (naming the field, e.g. chat_template[1].template).
absl::StatusOr<ChatTemplateSource> FindChatTemplate(const std::string& model_dir,
                                                    const std::string& explicit_file);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_CHAT_CHAT_TEMPLATE_SOURCE_H_
