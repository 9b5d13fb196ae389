// tests/unit/chat/chat_template_test.cc — rendering: the variables HF
// passes (special tokens, tools, add_generation_prompt, extra kwargs,
// strftime_now), named-template choice, message normalization as templates
// see it, and the errors: syntax errors, raise_exception, bad messages,
// reserved kwargs, the sandbox, output and nesting bounds.
#include "engine/chat/chat_template.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/chat/chat_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::ChatModelDir;
using ::testing::HasSubstr;

// Compiles one template with the given special tokens.
ChatTemplate MustCompile(const std::string& text, std::optional<std::string> bos = std::nullopt) {
  ChatTemplateSource source;
  source.templates["default"] = text;
  source.origin = "test.jinja";
  source.bos_token = std::move(bos);
  absl::StatusOr<ChatTemplate> compiled = ChatTemplate::Compile(std::move(source));
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return *std::move(compiled);
}

ChatTemplateInput Input(const char* messages_json) {
  ChatTemplateInput input;
  input.messages = OrderedJson::parse(messages_json);
  return input;
}

// Prints every message as role=content, then the generation prompt.
constexpr char kPlain[] =
    "{% for m in messages %}[{{ m.role }}={{ m.content }}]{% endfor %}"
    "{% if add_generation_prompt %}<gen>{% endif %}";

TEST(ChatTemplateTest, RendersMessagesSpecialTokensAndGenerationPrompt) {
  ChatTemplate t = MustCompile(std::string("{{ bos_token }}") + kPlain, "<s>");
  ChatTemplateInput input = Input(R"([{"role": "system", "content": "be brief"},
                                      {"role": "user", "content": "hi"}])");
  absl::StatusOr<std::string> text = t.Render(input);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "<s>[system=be brief][user=hi]<gen>");
  input.add_generation_prompt = false;
  EXPECT_EQ(t.Render(input).value(), "<s>[system=be brief][user=hi]");
}

TEST(ChatTemplateTest, TrimBlocksAndLstripBlocksAsHf) {
  ChatTemplate t = MustCompile("A\n  {% if true %}\nB\n  {% endif %}\nC");
  EXPECT_EQ(t.Render(Input(R"([{"role": "user", "content": "x"}])")).value(), "A\nB\nC");
}

TEST(ChatTemplateTest, TextPartsAreJoinedWithNewlines) {
  ChatTemplate t = MustCompile(kPlain);
  absl::StatusOr<std::string> text = t.Render(Input(
      R"([{"role": "user", "content": [{"type": "text", "text": "one"},
                                       {"type": "text", "text": "two"}]}])"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "[user=one\ntwo]<gen>");
}

TEST(ChatTemplateTest, AssistantToolCallsReachTheTemplateWithParsedArguments) {
  ChatTemplate t = MustCompile(
      "{% for m in messages %}{% if m.tool_calls %}{% for c in m.tool_calls %}"
      "{{ c.id }}:{{ c.function.name }}({{ c.function.arguments | tojson }}) "
      "{{ c.function.arguments.city }};"
      "{% endfor %}{% elif m.role == 'tool' %}<{{ m.tool_call_id }}={{ m.content }}>"
      "{% else %}[{{ m.content }}]{% endif %}{% endfor %}");
  absl::StatusOr<std::string> text = t.Render(Input(R"([
      {"role": "user", "content": "Weather?"},
      {"role": "assistant", "content": null, "tool_calls": [
         {"id": "call_1", "type": "function",
          "function": {"name": "get_weather", "arguments": "{\"unit\": \"c\", \"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "18"}])"));
  ASSERT_TRUE(text.ok()) << text.status();
  // Arguments keep the client's key order; non-ASCII stays as it is.
  EXPECT_EQ(*text,
            "[Weather?]call_1:get_weather({\"unit\": \"c\", \"city\": \"Paris\"}) Paris;"
            "<call_1=18>");
}

TEST(ChatTemplateTest, EmptyOrMissingArgumentsBecomeAnEmptyObject) {
  ChatTemplate t = MustCompile(
      "{% for m in messages %}{% for c in m.tool_calls or [] %}{{ c.function.arguments | tojson }}"
      "{% endfor %}{% endfor %}");
  absl::StatusOr<std::string> text = t.Render(Input(R"([{"role": "user", "content": "x"},
      {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": ""}},
                                           {"function": {"name": "g"}}]}])"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "{}{}");
}

TEST(ChatTemplateTest, ToolsAreRenderedInTheClientsKeyOrder) {
  ChatTemplate t = MustCompile("{% for tool in tools %}{{ tool | tojson }}{% endfor %}");
  ChatTemplateInput input = Input(R"([{"role": "user", "content": "x"}])");
  input.tools = OrderedJson::parse(
      R"([{"type": "function", "function": {"name": "z", "description": "café", "parameters": {}}}])");
  absl::StatusOr<std::string> text = t.Render(input);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(
      *text,
      R"({"type": "function", "function": {"name": "z", "description": "café", "parameters": {}}})");
}

TEST(ChatTemplateTest, TojsonTakesHfsOptions) {
  ChatTemplate t = MustCompile(
      "{{ {'b': 1, 'a': [1, 2]} | tojson(indent=2, sort_keys=true) }}|"
      "{{ {'k': 'v'} | tojson(separators=(',', ':')) }}");
  EXPECT_EQ(t.Render(Input(R"([{"role": "user", "content": "x"}])")).value(),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": 1\n}|{\"k\":\"v\"}");
}

TEST(ChatTemplateTest, ExtraKwargsBecomeVariablesAndMayOverrideSpecialTokens) {
  ChatTemplate t = MustCompile(
      "{{ bos_token }}{% if enable_thinking is defined and not enable_thinking %}no-think"
      "{% else %}think{% endif %}",
      "<s>");
  ChatTemplateInput input = Input(R"([{"role": "user", "content": "x"}])");
  EXPECT_EQ(t.Render(input).value(), "<s>think");
  input.kwargs = OrderedJson::parse(R"({"enable_thinking": false, "bos_token": "<B>"})");
  EXPECT_EQ(t.Render(input).value(), "<B>no-think");
}

TEST(ChatTemplateTest, ReservedKwargsAreRefused) {
  ChatTemplate t = MustCompile(kPlain);
  for (const char* name : {"messages", "tools", "documents", "add_generation_prompt"}) {
    ChatTemplateInput input = Input(R"([{"role": "user", "content": "x"}])");
    input.kwargs = OrderedJson::object();
    input.kwargs[name] = 1;
    absl::StatusOr<std::string> text = t.Render(input);
    ASSERT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(text.status().message()),
                HasSubstr(std::string("chat_template_kwargs.") + name));
  }
  ChatTemplateInput input = Input(R"([{"role": "user", "content": "x"}])");
  input.kwargs = OrderedJson::array();
  EXPECT_THAT(std::string(t.Render(input).status().message()),
              HasSubstr("chat_template_kwargs: not an object"));
}

TEST(ChatTemplateTest, StrftimeNowUsesTheGivenClock) {
  ChatTemplate t = MustCompile("{{ strftime_now('%d %b %Y %H:%M:%S') }}");
  ChatTemplateInput input = Input(R"([{"role": "user", "content": "x"}])");
  input.now = absl::CivilSecond(2026, 1, 2, 3, 4, 5);
  EXPECT_EQ(t.Render(input).value(), "02 Jan 2026 03:04:05");
  input.now.reset();  // the local time: a date of this century
  EXPECT_THAT(t.Render(input).value(), HasSubstr(" 20"));
}

TEST(ChatTemplateTest, GenerationBlockKeepsItsBody) {
  ChatTemplate t = MustCompile("a{% generation %}b{% endgeneration %}c");
  EXPECT_EQ(t.Render(Input(R"([{"role": "user", "content": "x"}])")).value(), "abc");
}

TEST(ChatTemplateTest, NamedTemplatesPickToolUseWhenToolsAreGiven) {
  ChatTemplateSource source;
  source.templates["default"] = "default";
  source.templates["tool_use"] = "tool_use";
  source.origin = "tokenizer_config.json: chat_template";
  ChatTemplate t = ChatTemplate::Compile(source).value();
  ChatTemplateInput input = Input(R"([{"role": "user", "content": "x"}])");
  EXPECT_EQ(t.Render(input).value(), "default");
  input.tools = OrderedJson::parse(R"([{"type": "function", "function": {"name": "f"}}])");
  EXPECT_EQ(t.Render(input).value(), "tool_use");

  source.templates.erase("default");
  ChatTemplate tools_only = ChatTemplate::Compile(source).value();
  EXPECT_EQ(tools_only.Render(input).value(), "tool_use");
  input.tools = nullptr;
  absl::StatusOr<std::string> text = tools_only.Render(input);
  ASSERT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition) << text.status();
  EXPECT_THAT(std::string(text.status().message()), HasSubstr("no \"default\""));
}

TEST(ChatTemplateTest, SyntaxErrorIsInvalidArgumentWithJinjasMessage) {
  ChatTemplateSource source;
  source.templates["default"] = "line one\n{% for m in messages %}{{ m.content }}";
  source.origin = "broken.jinja";
  absl::StatusOr<ChatTemplate> t = ChatTemplate::Compile(source);
  ASSERT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("broken.jinja: chat template does not compile"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("line 2"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("endfor"));
}

TEST(ChatTemplateTest, TemplateThatIsNotUtf8IsRefused) {
  ChatTemplateSource source;
  source.templates["default"] = "\xff\xfe";
  source.origin = "binary.jinja";
  absl::StatusOr<ChatTemplate> t = ChatTemplate::Compile(source);
  ASSERT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("not UTF-8"));
}

TEST(ChatTemplateTest, RaiseExceptionIsItsMessage) {
  ChatTemplate t = MustCompile(
      "{% if messages[0].role != 'system' %}"
      "{{ raise_exception('Conversation must start with a system message') }}{% endif %}ok");
  absl::StatusOr<std::string> text = t.Render(Input(R"([{"role": "user", "content": "x"}])"));
  ASSERT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument) << text.status();
  EXPECT_EQ(text.status().message(),
            "chat template raised: Conversation must start with a system message");
}

TEST(ChatTemplateTest, RenderErrorsAreInvalidArgumentNamingThePythonError) {
  ChatTemplate t = MustCompile("{{ messages[0].missing.deeper }}");
  absl::StatusOr<std::string> text = t.Render(Input(R"([{"role": "user", "content": "x"}])"));
  ASSERT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument) << text.status();
  EXPECT_THAT(std::string(text.status().message()),
              HasSubstr("chat template failed: UndefinedError"));
}

TEST(ChatTemplateTest, TheSandboxRefusesUnsafeAttributes) {
  ChatTemplate t = MustCompile("{{ ''.__class__.__mro__ }}");
  absl::StatusOr<std::string> text = t.Render(Input(R"([{"role": "user", "content": "x"}])"));
  ASSERT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument) << text.status();
  EXPECT_THAT(std::string(text.status().message()), HasSubstr("SecurityError"));
  ChatTemplate mutate = MustCompile("{{ messages.append(1) }}");
  EXPECT_THAT(
      std::string(mutate.Render(Input(R"([{"role": "user", "content": "x"}])")).status().message()),
      HasSubstr("SecurityError"));
}

TEST(ChatTemplateTest, OutputIsBounded) {
  ChatTemplate t = MustCompile("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}");
  absl::StatusOr<std::string> text = t.Render(Input(R"([{"role": "user", "content": "x"}])"));
  ASSERT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument) << text.status();
  EXPECT_THAT(std::string(text.status().message()), HasSubstr("exceeds"));
}

TEST(ChatTemplateTest, BadMessagesNameTheField) {
  ChatTemplate t = MustCompile(kPlain);
  struct Case {
    const char* messages;
    const char* error;
  };
  for (
      const Case& c : {
          Case{R"({"role": "user"})", "messages: is an object, not a list"},
          Case{R"([])", "messages: is empty"},
          Case{R"(["hi"])", "messages[0]: is a string, not an object"},
          Case{R"([{"content": "x"}])", "messages[0].role: missing"},
          Case{R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                    {"role": "robot", "content": "x"}])",
               "messages[2].role: \"robot\" is not one of system, user, assistant, tool"},
          Case{R"([{"role": "user", "content": 5}])",
               "messages[0].content: is a number, not a string or a list of text parts"},
          Case{R"([{"role": "user"}])", "messages[0].content: missing"},
          Case{R"([{"role": "system", "content": null}])", "messages[0].content: missing"},
          Case{R"([{"role": "user", "content": [{"type": "text", "text": "a"},
                    {"type": "image_url", "image_url": {"url": "x"}}]}])",
               "messages[0].content[1].type: \"image_url\" is not supported (text parts only)"},
          Case{R"([{"role": "user", "content": [{"type": "text"}]}])",
               "messages[0].content[0].text: missing or not a string"},
          Case{R"([{"role": "user", "content": ["a"]}])",
               "messages[0].content[0]: is a string, not an object"},
          Case{R"([{"role": "user", "content": "x", "name": 1}])",
               "messages[0].name: is a number, not a string"},
          Case{R"([{"role": "user", "content": "x", "tool_calls": []}])",
               "messages[0].tool_calls: only assistant messages have tool calls"},
          Case{R"([{"role": "assistant", "content": "", "tool_calls": {}}])",
               "messages[0].tool_calls: is an object, not a list"},
          Case{R"([{"role": "assistant", "tool_calls": [{"type": "function"}]}])",
               "messages[0].tool_calls[0].function: missing or not an object"},
          Case{R"([{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}])",
               "messages[0].tool_calls[0].function.name: missing or not a string"},
          Case{
              R"([{"role": "assistant", "tool_calls": [{"type": "code", "function": {"name": "f"}}]}])",
              "messages[0].tool_calls[0].type: only \"function\" tool calls are supported"},
          Case{R"([{"role": "assistant", "tool_calls": [
                    {"function": {"name": "f", "arguments": "{\"a\": "}}]}])",
               "messages[0].tool_calls[0].function.arguments: is a string that is not valid JSON"},
          Case{R"([{"role": "user", "content": "x", "tool_call_id": "c"}])",
               "messages[0].tool_call_id: only tool messages have one"},
          Case{R"([{"role": "tool", "content": "x", "tool_call_id": 7}])",
               "messages[0].tool_call_id: is a number, not a string"},
          Case{R"([{"role": "user", "content": "x", "reasoning_content": "r"}])",
               "messages[0].reasoning_content: only assistant messages have one"},
      }) {
    absl::StatusOr<std::string> text = t.Render(Input(c.messages));
    ASSERT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument)
        << c.messages << ": " << text.status();
    EXPECT_THAT(std::string(text.status().message()), HasSubstr(c.error)) << c.messages;
  }
}

TEST(ChatTemplateTest, BadToolsNameTheField) {
  ChatTemplate t = MustCompile(kPlain);
  for (const auto& [tools, error] : std::vector<std::pair<const char*, const char*>>{
           {R"({"type": "function"})", "tools: is an object, not a list"},
           {R"([1])", "tools[0]: is a number, not an object"},
           {R"([{"type": "function"}])", "tools[0].function: missing or not an object"},
           {R"([{"type": "function", "function": {"description": "d"}}])",
            "tools[0].function.name: missing or not a string"},
           {R"([{"type": "retrieval", "function": {"name": "f"}}])",
            "tools[0].type: only \"function\" tools are supported"},
       }) {
    ChatTemplateInput input = Input(R"([{"role": "user", "content": "x"}])");
    input.tools = OrderedJson::parse(tools);
    absl::StatusOr<std::string> text = t.Render(input);
    ASSERT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument) << tools;
    EXPECT_THAT(std::string(text.status().message()), HasSubstr(error)) << tools;
  }
}

TEST(ChatTemplateTest, DeepNestingIsRefusedBeforeItIsPrinted) {
  ChatTemplate t = MustCompile(kPlain);
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  ChatTemplateInput input = Input(R"([{"role": "user", "content": "x"}])");
  input.kwargs = OrderedJson::object();
  input.kwargs["deep"] = OrderedJson::parse(deep);
  EXPECT_THAT(std::string(t.Render(input).status().message()),
              HasSubstr("chat_template_kwargs: nested deeper than 64 levels"));

  OrderedJson messages = OrderedJson::parse(R"([{"role": "assistant", "tool_calls": [
      {"function": {"name": "f", "arguments": ""}}]}])");
  messages[0]["tool_calls"][0]["function"]["arguments"] = deep;  // a string holding JSON
  input.kwargs = nullptr;
  input.messages = messages;
  EXPECT_THAT(std::string(t.Render(input).status().message()),
              HasSubstr("messages[0].tool_calls[0].function.arguments: nested deeper than 64"));
}

TEST(ChatTemplateTest, StringsThatAreNotUtf8AreRefused) {
  ChatTemplate t = MustCompile(kPlain);
  ChatTemplateInput input;
  input.messages = OrderedJson::array({OrderedJson{{"role", "user"}, {"content", "\xc3("}}});
  absl::StatusOr<std::string> text = t.Render(input);
  ASSERT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument) << text.status();
  EXPECT_THAT(std::string(text.status().message()), HasSubstr("UTF-8"));
}

TEST(ChatTemplateTest, RendersFromManyThreadsAtOnce) {
  ChatTemplate t = MustCompile(kPlain);
  std::vector<std::thread> threads;
  std::vector<std::string> results(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&t, &results, i] {
      ChatTemplateInput input;
      input.messages =
          OrderedJson::array({OrderedJson{{"role", "user"}, {"content", "n" + std::to_string(i)}}});
      for (int k = 0; k < 50; ++k) {
        absl::StatusOr<std::string> text = t.Render(input);
        results[i] = text.ok() ? *text : std::string(text.status().message());
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(results[i], "[user=n" + std::to_string(i) + "]<gen>");
}

TEST(ChatTemplateTest, LoadFindsCompilesAndRenders) {
  ChatModelDir dir;
  dir.Write("tokenizer_config.json",
            R"({"chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}",
                "bos_token": {"content": "<s>"}, "eos_token": "</s>"})");
  absl::StatusOr<ChatTemplate> t = ChatTemplate::Load(dir.path());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->origin(), dir.file("tokenizer_config.json") + ": chat_template");
  EXPECT_EQ(t->Render(Input(R"([{"role": "user", "content": "hi"}])")).value(), "<s>hi</s>");

  dir.Write("chat_template.jinja", "{% for m in messages %}");
  absl::StatusOr<ChatTemplate> broken = ChatTemplate::Load(dir.path());
  ASSERT_EQ(broken.status().code(), absl::StatusCode::kInvalidArgument) << broken.status();
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr(dir.file("chat_template.jinja")));
}

TEST(ChatTemplateTest, LoadWithoutTemplateIsFailedPrecondition) {
  ChatModelDir dir;
  absl::StatusOr<ChatTemplate> t = ChatTemplate::Load(dir.path());
  ASSERT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition) << t.status();
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("has no chat template"));
}

}  // namespace
}  // namespace inferd::engine
