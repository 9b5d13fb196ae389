// tests/fuzz/chat_template_fuzz.cc — chat templates on arbitrary bytes. The
// first byte picks what the rest is:
//   even: a chat request (JSON: {"messages", "tools", "chat_template_kwargs",
//         "add_generation_prompt"}, or a bare messages list) rendered by a
//         fixed template that reads every field a real one reads (content,
//         tool calls and their arguments through tojson, tools, kwargs);
//   odd:  a tokenizer_config.json, from which the template is found and
//         compiled (not rendered: a template may loop for as long as it
//         likes, which is not a parser bug).
// Either an error Status that names bad input (INVALID_ARGUMENT or
// FAILED_PRECONDITION) or a result; never a crash, another status code, or
// a rendering over the bound.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/chat/chat_template.h"

namespace {

using inferd::engine::ChatTemplate;
using inferd::engine::ChatTemplateInput;
using inferd::engine::ChatTemplateSource;
using inferd::engine::OrderedJson;

constexpr char kTemplate[] =
    "{{ bos_token }}{% if tools %}{% for t in tools %}{{ t | tojson }}\n{% endfor %}{% endif %}"
    "{% for m in messages %}<{{ m.role }}{% if m.name %} {{ m.name }}{% endif %}>"
    "{{ m.content | trim }}{% if m.reasoning_content %}[{{ m.reasoning_content }}]{% endif %}"
    "{% for c in m.tool_calls or [] %}{{ c.function.name }}{{ c.function.arguments | tojson }}"
    "{% endfor %}{% if m.tool_call_id %}#{{ m.tool_call_id }}{% endif %}{% endfor %}"
    "{% if enable_thinking is defined and not enable_thinking %}/no_think{% endif %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}";

const ChatTemplate& FixedTemplate() {
  static const ChatTemplate* const t = [] {
    ChatTemplateSource source;
    source.templates["default"] = kTemplate;
    source.origin = "chat_template_fuzz";
    source.bos_token = "<s>";
    absl::StatusOr<ChatTemplate> compiled = ChatTemplate::Compile(source);
    if (!compiled.ok()) {
      std::fprintf(stderr, "fixed template: %s\n", compiled.status().ToString().c_str());
      std::abort();
    }
    return new ChatTemplate(*std::move(compiled));
  }();
  return *t;
}

void CheckStatus(const absl::Status& status) {
  if (status.ok() || status.code() == absl::StatusCode::kInvalidArgument ||
      status.code() == absl::StatusCode::kFailedPrecondition) {
    return;
  }
  std::fprintf(stderr, "unexpected status: %s\n", status.ToString().c_str());
  std::abort();
}

void RenderRequest(const std::string& text) {
  const OrderedJson request = OrderedJson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) return;
  ChatTemplateInput input;
  input.now = absl::CivilSecond(2026, 1, 2, 3, 4, 5);
  if (request.is_object()) {
    auto field = [&request](const char* key) {
      auto it = request.find(key);
      return it == request.end() ? OrderedJson() : *it;
    };
    input.messages = field("messages");
    input.tools = field("tools");
    input.kwargs = field("chat_template_kwargs");
    const OrderedJson agp = field("add_generation_prompt");
    if (agp.is_boolean()) input.add_generation_prompt = agp.get<bool>();
  } else {
    input.messages = request;
  }
  absl::StatusOr<std::string> rendered = FixedTemplate().Render(input);
  CheckStatus(rendered.status());
  if (rendered.ok() &&
      static_cast<int64_t>(rendered->size()) > inferd::engine::kMaxRenderedChatBytes) {
    std::fprintf(stderr, "rendering of %zu bytes over the bound\n", rendered->size());
    std::abort();
  }
}

// A model directory of this process, removed at exit.
struct ScratchDir {
  ScratchDir()
      : path(std::filesystem::temp_directory_path() /
             ("inferd_chat_template_fuzz_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

void LoadConfig(const std::string& text) {
  static const ScratchDir dir;
  {
    std::ofstream out(dir.path + "/tokenizer_config.json", std::ios::binary | std::ios::trunc);
    out << text;
  }
  CheckStatus(ChatTemplate::Load(dir.path).status());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    RenderRequest(text);
  } else {
    LoadConfig(text);
  }
  return 0;
}
