// The CLI contract on the real checkpoint: `inferd generate --prompt TEXT
// --temperature 0 --json` reproduces every prompt of
// ../shared/golden/stories260K-greedy.json — prompt ids (the tokenizer's
// encoding, BOS included), generated ids, text and finish reason.
#include <algorithm>
#include <fstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/inferd_server.h"
#include "tests/integration/subprocess.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

TEST(InferdGenerateGoldenTest, EveryStories260kPromptMatchesLlama2c) {
  INFERD_REQUIRE_SHARED("golden/stories260K-greedy.json");
  INFERD_REQUIRE_SHARED("models/stories260K");
  std::ifstream in(SharedPath("golden/stories260K-greedy.json"));
  const nlohmann::json golden = nlohmann::json::parse(in);
  int total = 0;
  for (const auto& p : golden["prompts"]) {
    const std::string prompt = p["prompt"];
    const auto prompt_ids = p["prompt_ids"].get<std::vector<int32_t>>();
    const int n = static_cast<int>(prompt_ids.size());
    // run.c -n STEPS counts prompt positions; inferd admits prompt +
    // max_tokens <= the 512-token context (the 512-step case ends on BOS first).
    const int max_tokens = std::min(p["steps"].get<int>() - (n - 1), 512 - n);
    CommandResult r = RunCommand(
        {InferdPath(), "generate", "--model", SharedPath("models/stories260K"), "--prompt", prompt,
         "--max-tokens", std::to_string(max_tokens), "--temperature", "0", "--json"});
    ASSERT_EQ(r.exit_code, 0) << "prompt \"" << prompt << "\": " << r.err;
    const nlohmann::json out = nlohmann::json::parse(LastLine(r.out));
    EXPECT_EQ(out["prompt_ids"].get<std::vector<int32_t>>(), prompt_ids) << prompt;
    const auto ids = out["output_ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids, p["generated_ids"].get<std::vector<int32_t>>()) << prompt;
    EXPECT_EQ(out["text"].get<std::string>(), p["generated_text_without_prompt"].get<std::string>())
        << prompt;
    const bool ends_on_bos = p["terminated_by"].get<std::string>().rfind("BOS", 0) == 0;
    EXPECT_EQ(out["finish_reason"].get<std::string>(), ends_on_bos ? "stop" : "length") << prompt;
    total += static_cast<int>(ids.size());
  }
  EXPECT_EQ(total, 1083);
}

}  // namespace
}  // namespace inferd::testing
