// tests/integration/speculative_test.cc — speculative decoding through the
// real daemon and CLI: `inferd serve --speculative draft` streams the same
// greedy ids as a plain server under 16 concurrent streams, reports the
// draft counts in usage and metrics, honours a request's opt-out;
// `inferd generate --json` carries num_steps / draft_tokens /
// accepted_draft_tokens; bad speculative flags exit 2 with a message.
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/exposition.h"
#include "tests/integration/http_get.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/subprocess.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

const char* kDraft = "models/stories260K-draft";

class SpeculativeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(SharedPath(kModel)) ||
        !std::filesystem::exists(SharedPath(kDraft))) {
      return;
    }
    std::string error;
    spec_ =
        InferdServer::Start(SharedPath(kModel),
                            {"--speculative", "draft", "--speculative-model", SharedPath(kDraft),
                             "--num-speculative-tokens", "4", "--metrics-port", "0"},
                            &error);
    ASSERT_NE(spec_, nullptr) << error;
    plain_ = InferdServer::Start(SharedPath(kModel), {}, &error);
    ASSERT_NE(plain_, nullptr) << error;
  }
  static void TearDownTestSuite() {
    spec_.reset();
    plain_.reset();
  }
  void SetUp() override {
    INFERD_REQUIRE_SHARED(kModel);
    INFERD_REQUIRE_SHARED(kDraft);
    ASSERT_NE(spec_, nullptr);
  }

  inline static std::unique_ptr<InferdServer> spec_;
  inline static std::unique_ptr<InferdServer> plain_;
};

std::vector<int32_t> Prompt(int i) {
  static const std::vector<std::vector<int32_t>> prompts = {
      {1, 403, 407, 261, 378}, {1, 291, 282, 420, 271}, {1, 385, 328, 432, 261}, {1}};
  return prompts[i % prompts.size()];
}

TEST_F(SpeculativeTest, SixteenConcurrentStreamsMatchAPlainServer) {
  auto spec_stub = spec_->NewStub();
  auto plain_stub = plain_->NewStub();
  std::vector<StreamResult> spec(16), plain(16);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      v1::GenerateRequest r = GreedyRequest(Prompt(i), 48 + i);
      r.set_request_id("s" + std::to_string(i));
      spec[i] = RunGenerate(*spec_stub, r);
    });
  }
  for (std::thread& t : threads) t.join();
  int64_t drafted = 0, accepted = 0;
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(spec[i].status.ok()) << spec[i].status.error_message();
    plain[i] = RunGenerate(*plain_stub, GreedyRequest(Prompt(i), 48 + i));
    ASSERT_TRUE(plain[i].status.ok());
    EXPECT_EQ(spec[i].ids, plain[i].ids) << "stream " << i;
    const v1::Usage& u = spec[i].usage;
    EXPECT_LE(u.accepted_draft_tokens(), u.draft_tokens());
    EXPECT_GE(u.num_steps(), 1);
    EXPECT_LE(u.num_steps(), u.completion_tokens() + 1);
    drafted += u.draft_tokens();
    accepted += u.accepted_draft_tokens();
    // A plain server drafts nothing and takes a step per token.
    EXPECT_EQ(plain[i].usage.draft_tokens(), 0);
  }
  EXPECT_GT(accepted, 0);
  EXPECT_TRUE(WaitUntilIdle(*spec_stub));

  // The counters add up in the metrics.
  std::string error;
  std::optional<HttpResponse> response = HttpGet(spec_->metrics_port(), "/metrics", &error);
  ASSERT_TRUE(response.has_value()) << error;
  std::optional<Exposition> e = ParseExposition(response->body, &error);
  ASSERT_TRUE(e.has_value()) << error;
  EXPECT_GE(e->Sum("inferd:spec_decode_num_draft_tokens_total"), static_cast<double>(drafted));
  EXPECT_GE(e->Sum("inferd:spec_decode_num_accepted_tokens_total"), static_cast<double>(accepted));
  EXPECT_GT(e->Sum("inferd:spec_decode_num_drafts_total"), 0);
  EXPECT_GT(e->Sum("inferd:spec_decode_num_accepted_tokens_per_pos_total", {{"position", "0"}}), 0);
}

TEST_F(SpeculativeTest, ARequestCanOptOut) {
  auto stub = spec_->NewStub();
  v1::GenerateRequest r = GreedyRequest(Prompt(0), 40);
  r.mutable_speculative()->set_mode(v1::SpeculativeOverride::MODE_OFF);
  const StreamResult off = RunGenerate(*stub, r);
  ASSERT_TRUE(off.status.ok());
  EXPECT_EQ(off.usage.draft_tokens(), 0);
  EXPECT_EQ(off.usage.num_steps(),
            off.usage.completion_tokens() + (off.finish_reason == v1::FINISH_REASON_STOP ? 1 : 0));
  r.mutable_speculative()->set_mode(v1::SpeculativeOverride::MODE_ON);
  r.mutable_speculative()->set_num_speculative_tokens(2);
  const StreamResult on = RunGenerate(*stub, r);
  ASSERT_TRUE(on.status.ok());
  EXPECT_EQ(on.ids, off.ids);
  EXPECT_GT(on.usage.draft_tokens(), 0);
  EXPECT_LE(on.usage.draft_tokens(), 2 * on.usage.num_steps());
}

TEST_F(SpeculativeTest, GetModelInfoReportsTheMethod) {
  auto stub = spec_->NewStub();
  const v1::GetModelInfoResponse info = GetModelInfo(*stub);
  EXPECT_EQ(info.speculative(), "draft");
  EXPECT_EQ(info.num_speculative_tokens(), 4);
  EXPECT_EQ(info.speculative_policy(), "adaptive");
  EXPECT_EQ(info.speculative_model(), SharedPath(kDraft));
  auto plain_stub = plain_->NewStub();
  EXPECT_EQ(GetModelInfo(*plain_stub).speculative(), "off");
}

TEST_F(SpeculativeTest, GenerateJsonCarriesTheStepCounts) {
  const nlohmann::json plain = RunOfflineGenerate(
      SharedPath(kModel),
      {"--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "40"});
  const nlohmann::json spec = RunOfflineGenerate(
      SharedPath(kModel),
      {"--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "40", "--speculative",
       "draft", "--speculative-model", SharedPath(kDraft), "--speculative-policy", "always"});
  ASSERT_TRUE(plain.is_object() && spec.is_object());
  EXPECT_EQ(spec.at("output_ids"), plain.at("output_ids"));
  EXPECT_EQ(plain.at("draft_tokens").get<int>(), 0);
  EXPECT_EQ(plain.at("accepted_draft_tokens").get<int>(), 0);
  const int n = static_cast<int>(plain.at("output_ids").size());
  EXPECT_EQ(plain.at("num_steps").get<int>(), n + (plain.at("finish_reason") == "stop" ? 1 : 0));
  EXPECT_GT(spec.at("accepted_draft_tokens").get<int>(), 0);
  EXPECT_LE(spec.at("accepted_draft_tokens").get<int>(), spec.at("draft_tokens").get<int>());
  EXPECT_LT(spec.at("num_steps").get<int>(), n);
}

TEST(SpeculativeFlagsTest, BadSpeculativeFlagsExitTwoWithAMessage) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--speculative", "bogus"}, "unknown speculative method"},
      {{"--speculative", "draft"}, "needs --speculative-model"},
      {{"--speculative", "ngram", "--speculative-model", "/tmp"}, "only used with"},
      {{"--speculative", "ngram", "--num-speculative-tokens", "0"}, "--num-speculative-tokens"},
      {{"--speculative", "ngram", "--num-speculative-tokens", "17"}, "--num-speculative-tokens"},
      {{"--speculative", "ngram", "--speculative-policy", "sometimes"}, "speculative policy"},
      {{"--speculative", "ngram", "--typical-acceptance", "0.1,0.2"}, "needs --speculative medusa"},
      {{"--speculative", "draft", "--speculative-model", "/nonexistent/draft"}, "/nonexistent"},
  };
  for (const auto& [args, message] : bad) {
    std::vector<std::string> argv = {InferdPath(), "generate", "--prompt", "x"};
    argv.insert(argv.end(), args.begin(), args.end());
    const CommandResult result = RunCommand(argv);
    EXPECT_NE(result.exit_code, 0) << args[1];
    EXPECT_NE(result.err.find(message), std::string::npos)
        << args[1] << ": stderr was " << result.err;
  }
}

}  // namespace
}  // namespace inferd::testing
