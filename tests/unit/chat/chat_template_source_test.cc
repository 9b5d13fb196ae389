// tests/unit/chat/chat_template_source_test.cc — where a chat template is
// found (explicit file, chat_template.jinja, tokenizer_config.json), the
// special tokens passed with it, and the errors for missing, oversized and
// malformed templates.
#include "engine/chat/chat_template_source.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/chat/chat_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::ChatModelDir;
using ::testing::HasSubstr;

TEST(ChatTemplateSourceTest, TokenizerConfigStringAndSpecialTokens) {
  ChatModelDir dir;
  dir.Write("tokenizer_config.json",
            R"({"chat_template": "{{ bos_token }}hi", "bos_token": "<s>",
                "eos_token": {"content": "</s>", "lstrip": false}})");
  absl::StatusOr<ChatTemplateSource> source = FindChatTemplate(dir.path(), "");
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_EQ(source->templates.size(), 1u);
  EXPECT_EQ(source->templates.at("default"), "{{ bos_token }}hi");
  EXPECT_EQ(source->origin, dir.file("tokenizer_config.json") + ": chat_template");
  EXPECT_EQ(source->bos_token, "<s>");
  EXPECT_EQ(source->eos_token, "</s>");  // an AddedToken's content
}

TEST(ChatTemplateSourceTest, JinjaFileBeatsTokenizerConfig) {
  ChatModelDir dir;
  dir.Write("tokenizer_config.json", R"({"chat_template": "from config", "eos_token": "E"})");
  dir.Write("chat_template.jinja", "from jinja file");
  absl::StatusOr<ChatTemplateSource> source = FindChatTemplate(dir.path(), "");
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->templates.at("default"), "from jinja file");
  EXPECT_EQ(source->origin, dir.file("chat_template.jinja"));
  EXPECT_EQ(source->eos_token, "E");  // still from tokenizer_config.json
  EXPECT_FALSE(source->bos_token.has_value());
}

TEST(ChatTemplateSourceTest, ExplicitFileBeatsBoth) {
  ChatModelDir dir;
  dir.Write("tokenizer_config.json", R"({"chat_template": "from config"})");
  dir.Write("chat_template.jinja", "from jinja file");
  const std::string explicit_file = dir.Write("mine.jinja", "explicit");
  absl::StatusOr<ChatTemplateSource> source = FindChatTemplate(dir.path(), explicit_file);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->templates.at("default"), "explicit");
  EXPECT_EQ(source->origin, explicit_file);
}

TEST(ChatTemplateSourceTest, NamedTemplateList) {
  ChatModelDir dir;
  dir.Write("tokenizer_config.json", R"({"chat_template": [
      {"name": "default", "template": "plain"},
      {"name": "tool_use", "template": "tools"}]})");
  absl::StatusOr<ChatTemplateSource> source = FindChatTemplate(dir.path(), "");
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_EQ(source->templates.size(), 2u);
  EXPECT_EQ(source->templates.at("default"), "plain");
  EXPECT_EQ(source->templates.at("tool_use"), "tools");
}

TEST(ChatTemplateSourceTest, NoTemplateNamesTheDirectoryAndTheFilesLookedAt) {
  ChatModelDir dir;
  dir.Write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  absl::StatusOr<ChatTemplateSource> source = FindChatTemplate(dir.path(), "");
  ASSERT_EQ(source.status().code(), absl::StatusCode::kFailedPrecondition) << source.status();
  EXPECT_THAT(std::string(source.status().message()),
              HasSubstr(dir.path() + " has no chat template"));
  EXPECT_THAT(std::string(source.status().message()), HasSubstr(dir.file("chat_template.jinja")));
  EXPECT_THAT(std::string(source.status().message()),
              HasSubstr("chat_template field of " + dir.file("tokenizer_config.json")));
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("--chat-template"));
}

TEST(ChatTemplateSourceTest, EmptyDirectoryHasNoTemplate) {
  ChatModelDir dir;
  absl::StatusOr<ChatTemplateSource> source = FindChatTemplate(dir.path(), "");
  ASSERT_EQ(source.status().code(), absl::StatusCode::kFailedPrecondition) << source.status();
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("(file missing)"));
}

TEST(ChatTemplateSourceTest, MissingExplicitFileIsNotFound) {
  ChatModelDir dir;
  absl::StatusOr<ChatTemplateSource> source =
      FindChatTemplate(dir.path(), dir.file("absent.jinja"));
  ASSERT_EQ(source.status().code(), absl::StatusCode::kNotFound) << source.status();
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("absent.jinja"));
}

TEST(ChatTemplateSourceTest, OversizedTemplatesAreRefused) {
  ChatModelDir dir;
  const std::string big(static_cast<size_t>(kMaxChatTemplateBytes) + 1, 'x');
  const std::string explicit_file = dir.Write("big.jinja", big);
  absl::StatusOr<ChatTemplateSource> source = FindChatTemplate(dir.path(), explicit_file);
  ASSERT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument) << source.status();
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("big.jinja"));

  dir.Write("chat_template.jinja", big);
  source = FindChatTemplate(dir.path(), "");
  ASSERT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument) << source.status();
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("chat_template.jinja"));

  ChatModelDir config_dir;
  config_dir.Write("tokenizer_config.json", R"({"chat_template": ")" + big + R"("})");
  source = FindChatTemplate(config_dir.path(), "");
  ASSERT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument) << source.status();
  EXPECT_THAT(std::string(source.status().message()),
              HasSubstr("chat_template: the chat template has"));
}

TEST(ChatTemplateSourceTest, MalformedFieldsNameTheField) {
  struct Case {
    const char* config;
    const char* field;
  };
  for (const Case& c : {
           Case{R"({"chat_template": 7})", "chat_template is an integer"},
           Case{R"({"chat_template": []})", "chat_template is an empty list"},
           Case{R"({"chat_template": [{"template": "t"}]})", "chat_template[0].name"},
           Case{R"({"chat_template": [{"name": "default", "template": 1}]})",
                "chat_template[0].template"},
           Case{R"({"chat_template": [{"name": "a", "template": "x"},
                                       {"name": "a", "template": "y"}]})",
                "chat_template[1].name: \"a\" is given twice"},
           Case{R"({"chat_template": "t", "bos_token": 3})", "bos_token"},
       }) {
    ChatModelDir dir;
    dir.Write("tokenizer_config.json", c.config);
    absl::StatusOr<ChatTemplateSource> source = FindChatTemplate(dir.path(), "");
    ASSERT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument)
        << c.config << ": " << source.status();
    EXPECT_THAT(std::string(source.status().message()), HasSubstr(c.field)) << c.config;
  }
}

TEST(ChatTemplateSourceTest, BadJsonNamesTheFile) {
  ChatModelDir dir;
  dir.Write("tokenizer_config.json", "{\"chat_template\": ");
  absl::StatusOr<ChatTemplateSource> source = FindChatTemplate(dir.path(), "");
  ASSERT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument) << source.status();
  EXPECT_THAT(std::string(source.status().message()),
              HasSubstr("tokenizer_config.json: invalid JSON"));
}

}  // namespace
}  // namespace inferd::engine
