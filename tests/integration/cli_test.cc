// tests/integration/cli_test.cc — the command lines other tools rely on:
// `inferd generate --json`, `inferd serve` flag errors, and `inferctl
// generate/health/tokenize/info` against a running server (real processes).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_fixture.h"

namespace inferd::testing {
namespace {

using CliTest = ServerTest;

nlohmann::json ParseLastLine(const CommandResult& result) {
  const nlohmann::json json = nlohmann::json::parse(LastLine(result.out), nullptr, false);
  EXPECT_FALSE(json.is_discarded()) << "last line is not JSON: " << result.out;
  return json;
}

TEST_F(CliTest, InferdGenerateJsonHasTheFourFields) {
  const nlohmann::json json = RunOfflineGenerate(
      ModelDir(), {"--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "20"});
  ASSERT_TRUE(json.is_object());
  const auto prompt_ids = json.at("prompt_ids").get<std::vector<int32_t>>();
  EXPECT_EQ(prompt_ids, Tokenize(*stub_, "Once upon a time"));
  EXPECT_EQ(prompt_ids.front(), 1);
  const auto output_ids = json.at("output_ids").get<std::vector<int32_t>>();
  EXPECT_FALSE(output_ids.empty());
  EXPECT_LE(output_ids.size(), 20u);
  const std::string reason = json.at("finish_reason").get<std::string>();
  EXPECT_TRUE(reason == "stop" || reason == "length") << reason;
  // The same request over gRPC gives the same ids and text.
  v1::GenerateRequest request;
  request.set_text("Once upon a time");
  request.set_max_tokens(20);
  request.set_temperature(0.0f);
  const StreamResult stream = RunGenerate(*stub_, request);
  ASSERT_TRUE(stream.status.ok());
  EXPECT_EQ(output_ids, stream.ids);
  EXPECT_EQ(json.at("text").get<std::string>(), stream.text);
  EXPECT_EQ(reason, FinishReasonName(stream.finish_reason));
}

TEST_F(CliTest, InferdGenerateEmptyPromptIsBos) {
  const nlohmann::json json =
      RunOfflineGenerate(ModelDir(), {"--prompt", "", "--temperature", "0", "--max-tokens", "5"});
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json.at("prompt_ids").get<std::vector<int32_t>>(), std::vector<int32_t>{1});
}

TEST_F(CliTest, InferdGenerateStopStringsRepeat) {
  // Find a word the greedy continuation contains, then stop on it.
  const nlohmann::json full = RunOfflineGenerate(
      ModelDir(),
      {"--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "60", "--ignore-eos"});
  ASSERT_TRUE(full.is_object());
  const std::string text = full.at("text").get<std::string>();
  ASSERT_GT(text.size(), 12u);
  const std::string stop = text.substr(text.size() / 2, 3);
  const nlohmann::json stopped = RunOfflineGenerate(
      ModelDir(), {"--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "60",
                   "--ignore-eos", "--stop", "zzzzqq", "--stop", stop});
  ASSERT_TRUE(stopped.is_object());
  EXPECT_EQ(stopped.at("finish_reason"), "stop_string");
  const std::string cut = stopped.at("text").get<std::string>();
  EXPECT_EQ(cut, text.substr(0, text.find(stop)));
}

TEST_F(CliTest, InferdGenerateWithoutJsonStreamsTheText) {
  const CommandResult plain =
      RunCommand({InferdPath(), "generate", "--model", ModelDir(), "--prompt", "Once upon a time",
                  "--temperature", "0", "--max-tokens", "20"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const nlohmann::json json = RunOfflineGenerate(
      ModelDir(), {"--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "20"});
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(plain.out, json.at("text").get<std::string>() + "\n");
}

TEST_F(CliTest, InferdGenerateUsesTheEmbeddedModelByDefault) {
  const CommandResult result = RunCommand({InferdPath(), "generate", "--prompt-ids", "1,403",
                                           "--temperature", "0", "--max-tokens", "3", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ParseLastLine(result).at("prompt_ids").get<std::vector<int32_t>>(),
            (std::vector<int32_t>{1, 403}));
}

TEST_F(CliTest, InferdRejectsBadFlagsWithExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"serve", "--no-such-flag"},
      {"serve", "--port", "70000"},
      {"serve", "--port", "abc"},
      {"serve", "--kv-cache-memory", "12 parsecs"},
      {"serve", "--prompt", "x"},  // a generate flag
      {"generate", "--prompt", "x", "--prompt-ids", "1"},
      {"generate", "--max-tokens"},
      {"generate", "--prompt-ids", "1,x"},
      {"bogus-command"},
  };
  for (const std::vector<std::string>& args : bad) {
    std::vector<std::string> argv = {InferdPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    const CommandResult result = RunCommand(argv);
    EXPECT_EQ(result.exit_code, 2) << args[0] << " " << (args.size() > 1 ? args[1] : "");
    EXPECT_FALSE(result.err.empty());
  }
}

TEST_F(CliTest, HelpExitsZero) {
  for (const auto& argv :
       std::vector<std::vector<std::string>>{{InferdPath(), "--help"},
                                             {InferdPath(), "serve", "--help"},
                                             {InferdPath(), "generate", "--help"},
                                             {InferctlPath(), "generate", "--help"},
                                             {InferctlPath(), "health", "--help"}}) {
    const CommandResult result = RunCommand(argv);
    EXPECT_EQ(result.exit_code, 0) << argv[1];
    EXPECT_NE(result.out.find("usage:"), std::string::npos);
  }
  EXPECT_NE(RunCommand({InferdPath(), "serve", "--help"}).out.find("--kv-cache-memory"),
            std::string::npos);
}

TEST_F(CliTest, InferctlGenerateJsonMatchesInferdGenerate) {
  const CommandResult result =
      RunCommand({InferctlPath(), "generate", "--addr", server_->address(), "--temperature", "0",
                  "--max-tokens", "30", "--json", "Once upon a time"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json online = ParseLastLine(result);
  const nlohmann::json offline = RunOfflineGenerate(
      ModelDir(), {"--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "30"});
  EXPECT_EQ(online, offline);
  // The streamed text comes first, then a newline, then the JSON line.
  EXPECT_EQ(result.out, offline.at("text").get<std::string>() + "\n" + LastLine(result.out) + "\n");
}

TEST_F(CliTest, InferctlGenerateJsonHasTheSevenFields) {
  const CommandResult result =
      RunCommand({InferctlPath(), "generate", "--addr", server_->address(), "--temperature", "0",
                  "--max-tokens", "8", "--json", "Once upon a time"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = ParseLastLine(result);
  std::vector<std::string> keys;
  for (const auto& item : json.items()) keys.push_back(item.key());
  // The README's inferctl section lists these, in this (alphabetical) order.
  EXPECT_EQ(keys,
            (std::vector<std::string>{"accepted_draft_tokens", "draft_tokens", "finish_reason",
                                      "num_steps", "output_ids", "prompt_ids", "text"}));
  EXPECT_EQ(json.at("num_steps"), 8);
  EXPECT_EQ(json.at("draft_tokens"), 0);
}

// A generate refused or unable to connect leaves stdout empty (the error is
// on stderr, exit 1); one cut mid-stream keeps only the text it streamed.
TEST_F(CliTest, InferctlGenerateFailurePrintsNothingOnStdout) {
  struct Case {
    const char* what;
    std::vector<std::string> args;
    const char* err;
  };
  const std::string addr = server_->address();
  const std::vector<Case> cases = {
      {"unreachable", {"--addr", "127.0.0.1:1", "--timeout", "5", "Hi"}, "127.0.0.1:1"},
      {"unreachable --json",
       {"--addr", "127.0.0.1:1", "--timeout", "5", "--json", "Hi"},
       "127.0.0.1:1"},
      {"bad request", {"--addr", addr, "--max-tokens", "0", "Hi"}, "INVALID_ARGUMENT"},
      {"bad request --json",
       {"--addr", addr, "--temperature", "-1", "--json", "Hi"},
       "temperature"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {InferctlPath(), "generate"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const CommandResult result = RunCommand(argv);
    EXPECT_EQ(result.exit_code, 1) << c.what << ": " << result.err;
    EXPECT_EQ(result.out, "") << c.what;
    EXPECT_NE(result.err.find(c.err), std::string::npos) << c.what << ": " << result.err;
  }
  // 500 tokens take longer than 30 ms (about 0.1 ms a step at best): the
  // deadline passes during the stream. Whatever text came stays, alone.
  const CommandResult cut =
      RunCommand({InferctlPath(), "generate", "--addr", addr, "--max-tokens", "500", "--ignore-eos",
                  "--temperature", "0", "--timeout", "0.03", "--json", "Hi"});
  EXPECT_EQ(cut.exit_code, 1) << cut.err;
  EXPECT_NE(cut.err.find("DEADLINE_EXCEEDED"), std::string::npos) << cut.err;
  EXPECT_EQ(cut.out.find("accepted_draft_tokens"), std::string::npos) << cut.out;
  const nlohmann::json full = RunOfflineGenerate(
      ModelDir(), {"--prompt", "Hi", "--temperature", "0", "--max-tokens", "500", "--ignore-eos"});
  ASSERT_TRUE(full.is_object());
  EXPECT_EQ(full.at("text").get<std::string>().substr(0, cut.out.size()), cut.out);
}

TEST_F(CliTest, InferctlGenerateIsReproducibleWithASeed) {
  const std::vector<std::string> argv = {
      InferctlPath(), "generate",     "--addr", server_->address(), "--seed",
      "42",           "--max-tokens", "30",     "--json",           "Tom"};
  const CommandResult a = RunCommand(argv);
  const CommandResult b = RunCommand(argv);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(ParseLastLine(a), ParseLastLine(b));
}

TEST_F(CliTest, InferctlHealth) {
  const CommandResult ready = RunCommand({InferctlPath(), "health", "--addr", server_->address()});
  EXPECT_EQ(ready.exit_code, 0) << ready.err;
  EXPECT_EQ(ready.out, "SERVING\n");
  const CommandResult live =
      RunCommand({InferctlPath(), "health", "--addr", server_->address(), "--service", "liveness"});
  EXPECT_EQ(live.out, "SERVING\n");
  const CommandResult unknown =
      RunCommand({InferctlPath(), "health", "--addr", server_->address(), "--service", "nope"});
  EXPECT_EQ(unknown.exit_code, 0);
  EXPECT_EQ(unknown.out, "SERVICE_UNKNOWN\n");
}

TEST_F(CliTest, InferctlHealthFailsWhenUnreachable) {
  const CommandResult result =
      RunCommand({InferctlPath(), "health", "--addr", "127.0.0.1:1", "--timeout", "5"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(result.out.empty());
  EXPECT_NE(result.err.find("127.0.0.1:1"), std::string::npos) << result.err;
}

TEST_F(CliTest, InferctlTokenize) {
  const CommandResult result =
      RunCommand({InferctlPath(), "tokenize", "--addr", server_->address(), "Once upon a time"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, JoinIds(Tokenize(*stub_, "Once upon a time")) + "\n");
}

TEST_F(CliTest, InferctlInfo) {
  const CommandResult result = RunCommand({InferctlPath(), "info", "--addr", server_->address()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json info = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_TRUE(info.is_object()) << result.out;
  EXPECT_EQ(info.at("model_name"), "stories260K");
  EXPECT_EQ(info.at("vocab_size"), 512);
  EXPECT_TRUE(info.at("engine").contains("num_kv_blocks_free"));
}

TEST_F(CliTest, InferctlRejectsFlagsOfOtherCommands) {
  const CommandResult result =
      RunCommand({InferctlPath(), "tokenize", "--addr", server_->address(), "--json", "x"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--json"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace inferd::testing
