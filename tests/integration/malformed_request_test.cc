// tests/integration/malformed_request_test.cc — every bad GenerateRequest gets
// the right gRPC code and a message naming the field, and the server keeps
// serving afterwards. One CTest test per case.
#include <cmath>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/server_fixture.h"

namespace inferd::testing {
namespace {

struct MalformedCase {
  std::string name;
  std::function<void(v1::GenerateRequest&)> mutate;  // applied to a valid request
  std::string field;                                 // the error message names it
  grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
};

std::ostream& operator<<(std::ostream& os, const MalformedCase& c) { return os << c.name; }

// A valid request: prompt [BOS, 403, 407], greedy, 8 tokens.
v1::GenerateRequest ValidRequest() { return GreedyRequest({1, 403, 407}, 8); }

void SetIds(v1::GenerateRequest& r, const std::vector<int32_t>& ids) {
  r.mutable_token_ids()->mutable_ids()->Assign(ids.begin(), ids.end());
}

const std::vector<MalformedCase>& Cases() {
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  constexpr float kInf = std::numeric_limits<float>::infinity();
  static const auto* cases = new std::vector<MalformedCase>{
      {"NoPrompt", [](auto& r) { r.clear_prompt(); }, "prompt"},
      {"EmptyTokenIds", [](auto& r) { SetIds(r, {}); }, "token_ids"},
      {"NegativeTokenId",
       [](auto& r) {
         SetIds(r, {1, -3});
       },
       "token_ids"},
      {"TokenIdAtVocabSize",
       [](auto& r) {
         SetIds(r, {1, 512});
       },
       "token_ids"},
      {"EmptyTextWithoutBos",
       [](auto& r) {
         r.set_text("");
         r.set_add_special_tokens(false);
       },
       "text"},
      {"NegativeTemperature", [](auto& r) { r.set_temperature(-0.5f); }, "temperature"},
      {"NanTemperature", [=](auto& r) { r.set_temperature(kNan); }, "temperature"},
      {"InfiniteTemperature", [=](auto& r) { r.set_temperature(kInf); }, "temperature"},
      {"TopPZero", [](auto& r) { r.set_top_p(0.0f); }, "top_p"},
      {"TopPAboveOne", [](auto& r) { r.set_top_p(1.5f); }, "top_p"},
      {"NegativeTopK", [](auto& r) { r.set_top_k(-1); }, "top_k"},
      {"MinPAboveOne", [](auto& r) { r.set_min_p(1.5f); }, "min_p"},
      {"NegativeMinP", [](auto& r) { r.set_min_p(-0.1f); }, "min_p"},
      {"MaxTokensZero", [](auto& r) { r.set_max_tokens(0); }, "max_tokens"},
      {"RepetitionPenaltyZero", [](auto& r) { r.set_repetition_penalty(0.0f); },
       "repetition_penalty"},
      {"PresencePenaltyAboveTwo", [](auto& r) { r.set_presence_penalty(2.5f); },
       "presence_penalty"},
      {"FrequencyPenaltyBelowMinusTwo", [](auto& r) { r.set_frequency_penalty(-2.5f); },
       "frequency_penalty"},
      {"LogprobsAboveTwenty", [](auto& r) { r.set_logprobs(21); }, "logprobs"},
      {"NegativeLogprobs", [](auto& r) { r.set_logprobs(-1); }, "logprobs"},
      {"EmptyStopString", [](auto& r) { r.add_stop(""); }, "stop"},
      {"SeventeenStopStrings",
       [](auto& r) {
         for (int i = 0; i < 17; ++i) r.add_stop()->append("s").append(std::to_string(i));
       },
       "stop"},
      {"StopTokenIdOutsideVocab", [](auto& r) { r.add_stop_token_ids(100000); }, "stop_token_ids"},
      {"PromptLongerThanContext", [](auto& r) { SetIds(r, std::vector<int32_t>(600, 100)); },
       "prompt"},
      {"PromptPlusMaxTokensBeyondContext",
       [](auto& r) {
         SetIds(r, std::vector<int32_t>(500, 100));
         r.set_max_tokens(100);
       },
       "max_tokens"},
      {"UnknownSpeculativeMode",
       [](auto& r) {
         r.mutable_speculative()->set_mode(static_cast<v1::SpeculativeOverride::Mode>(99));
       },
       "speculative.mode"},
      {"TooManySpeculativeTokens",
       [](auto& r) { r.mutable_speculative()->set_num_speculative_tokens(1000); },
       "speculative.num_speculative_tokens"},
      {"RequestIdTooLong", [](auto& r) { r.set_request_id(std::string(257, 'x')); }, "request_id"},
  };
  return *cases;
}

class MalformedRequestTest : public ServerTest,
                             public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(MalformedRequestTest, IsRejectedAndTheServerStaysUp) {
  const MalformedCase& c = GetParam();
  v1::GenerateRequest request = ValidRequest();
  c.mutate(request);
  const StreamResult bad = RunGenerate(*stub_, request, std::chrono::seconds(30));
  EXPECT_EQ(bad.status.error_code(), c.code) << bad.status.error_message();
  EXPECT_NE(bad.status.error_message().find(c.field), std::string::npos)
      << "message does not name '" << c.field << "': " << bad.status.error_message();
  EXPECT_EQ(bad.num_chunks, 0);

  const StreamResult good = RunGenerate(*stub_, ValidRequest(), std::chrono::seconds(30));
  EXPECT_TRUE(good.status.ok()) << good.status.error_message();
  EXPECT_FALSE(good.ids.empty());
  EXPECT_TRUE(WaitUntilIdle(*stub_));
}

INSTANTIATE_TEST_SUITE_P(Cases, MalformedRequestTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace inferd::testing
