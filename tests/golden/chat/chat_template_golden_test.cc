// tests/golden/chat/chat_template_golden_test.cc — the chat templates of
// ../shared/tokenizers/{llama3,qwen3} rendered by ChatTemplate against
// ../shared/golden/chat-templates.json (Python Jinja2 set up as HF's
// apply_chat_template, strftime_now at 2026-01-02 03:04:05), byte for byte.
// Each case's `input` holds messages, tools, add_generation_prompt and the
// extra template keyword arguments; a case with `error` expects the
// template to raise that message. The llama2 tokenizer has no template.
#include <string>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "engine/chat/chat_template.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::ReadFileOrDie;
using ::inferd::testing::SharedPath;

constexpr char kGolden[] = "golden/chat-templates.json";

void CheckTemplate(const std::string& name) {
  const OrderedJson golden = OrderedJson::parse(ReadFileOrDie(SharedPath(kGolden)), nullptr,
                                                /*allow_exceptions=*/false);
  ASSERT_TRUE(golden.is_object()) << "cannot parse ../shared/" << kGolden;
  const OrderedJson& entry = golden["templates"][name];
  ASSERT_TRUE(entry.is_object()) << kGolden << " has no template " << name;
  // tokenizer_config is relative to ../shared/golden; the model dir is its folder.
  const std::string config = entry["tokenizer_config"].get<std::string>();
  const std::string model_dir = SharedPath("golden/" + config.substr(0, config.rfind('/')));
  absl::StatusOr<ChatTemplate> chat = ChatTemplate::Load(model_dir);
  ASSERT_TRUE(chat.ok()) << chat.status();

  int checked = 0;
  for (const OrderedJson& c : entry["cases"]) {
    const std::string case_name = c["name"].get<std::string>();
    ChatTemplateInput input;
    input.now = absl::CivilSecond(2026, 1, 2, 3, 4, 5);
    for (const auto& [key, value] : c["input"].items()) {
      if (key == "messages") {
        input.messages = value;
      } else if (key == "tools") {
        input.tools = value;
      } else if (key == "add_generation_prompt") {
        input.add_generation_prompt = value.get<bool>();
      } else {
        input.kwargs[key] = value;
      }
    }
    absl::StatusOr<std::string> text = chat->Render(input);
    if (c.contains("error")) {
      EXPECT_FALSE(text.ok()) << name << " / " << case_name << ": rendered " << *text;
      EXPECT_NE(text.status().message().find(c["error"].get<std::string>()), std::string::npos)
          << name << " / " << case_name << ": " << text.status();
    } else {
      ASSERT_TRUE(text.ok()) << name << " / " << case_name << ": " << text.status();
      EXPECT_EQ(*text, c["text"].get<std::string>())
          << name << " / " << case_name << "\n got: " << OrderedJson(*text).dump()
          << "\nwant: " << c["text"].dump();
    }
    ++checked;
  }
  EXPECT_EQ(checked, 8) << name << ": the golden has eight conversations per template";
}

TEST(ChatTemplateGoldenTest, Llama3) {
  INFERD_REQUIRE_SHARED(kGolden);
  INFERD_REQUIRE_SHARED("tokenizers/llama3/tokenizer_config.json");
  CheckTemplate("llama3");
}

TEST(ChatTemplateGoldenTest, Qwen3) {
  INFERD_REQUIRE_SHARED(kGolden);
  INFERD_REQUIRE_SHARED("tokenizers/qwen3/tokenizer_config.json");
  CheckTemplate("qwen3");
}

// ../shared/tokenizers/llama2 is a real model directory without a template.
TEST(ChatTemplateGoldenTest, Llama2HasNoTemplate) {
  INFERD_REQUIRE_SHARED("tokenizers/llama2/tokenizer_config.json");
  const std::string dir = SharedPath("tokenizers/llama2");
  absl::StatusOr<ChatTemplate> chat = ChatTemplate::Load(dir);
  ASSERT_EQ(chat.status().code(), absl::StatusCode::kFailedPrecondition) << chat.status();
  EXPECT_NE(chat.status().message().find(dir + " has no chat template"), std::string::npos)
      << chat.status();
}

}  // namespace
}  // namespace inferd::engine
