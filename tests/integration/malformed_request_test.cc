// tests/integration/malformed_request_test.cc — every bad GenerateRequest gets
// the right gRPC code and a message naming the field, and the server keeps
// serving afterwards; so do request bytes that are not the method's message
// at all (sent raw through a generic stub: truncated, a length past the end,
// invalid UTF-8 in a string). One CTest test per case.
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "grpcpp/generic/generic_stub.h"
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

struct RawCase {
  std::string name;
  std::string method;   // "Generate", "Tokenize", ...
  std::string bytes;    // sent as the request message
  std::string message;  // the error message contains it
};

std::ostream& operator<<(std::ostream& os, const RawCase& c) { return os << c.name; }

std::string Bytes(std::initializer_list<unsigned char> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// Field numbers (inference.proto): GenerateRequest text 2, token_ids 3
// (TokenIds.ids 1), max_tokens 5, stop 14; TokenizeRequest text 1;
// DetokenizeRequest token_ids 1.
const std::vector<RawCase>& RawCases() {
  static const auto* cases = new std::vector<RawCase>{
      {"RandomBytes", "Generate", Bytes({0xff, 0xff, 0xff, 0xff}),
       "request is not a valid inferd.v1.GenerateRequest: "},
      {"TruncatedVarint", "Generate", Bytes({0x28}), "max_tokens: truncated varint at byte 1"},
      {"LengthPastTheEnd", "Generate", Bytes({0x12, 0xff, 0x01, 'a'}),
       "text: length 255 at byte 1 runs past the end of the message (1 bytes left)"},
      {"TruncatedVarintInsideTokenIds", "Generate", Bytes({0x1a, 0x03, 0x08, 0x80, 0x80}),
       "token_ids.ids[0]: truncated varint at byte 3"},
      {"InvalidUtf8Text", "Generate", Bytes({0x12, 0x02, 0xc3, 0x28}),
       "request is not a valid inferd.v1.GenerateRequest: text: invalid UTF-8 in a string "
       "field (byte 0"},
      {"InvalidUtf8StopString", "Generate",
       ValidRequest().SerializeAsString() + Bytes({0x72, 0x01, 'a', 0x72, 0x02, 0xff, 0xfe}),
       "stop[1]: invalid UTF-8 in a string field"},
      {"InvalidUtf8TokenizeText", "Tokenize", Bytes({0x0a, 0x03, 'a', 0xc3, 0x28}),
       "request is not a valid inferd.v1.TokenizeRequest: text: invalid UTF-8 in a string field "
       "(byte 1"},
      {"DetokenizePackedIdsTruncated", "Detokenize", Bytes({0x0a, 0x02, 0x05, 0x80}),
       "request is not a valid inferd.v1.DetokenizeRequest: token_ids: truncated varint at byte "
       "3"},
      {"GetModelInfoInvalidWireType", "GetModelInfo", Bytes({0x0f}),
       "request is not a valid inferd.v1.GetModelInfoRequest: field 1: invalid wire type 7"},
  };
  return *cases;
}

// The status of a call of /inferd.v1.Inference/<method> whose request
// message is `bytes` (a server-streaming Generate refused before its first
// message ends like a unary call).
grpc::Status CallWithBytes(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                           const std::string& bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Slice slice(bytes);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&context, "/inferd.v1.Inference/" + method, request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

class MalformedBytesTest : public ServerTest, public ::testing::WithParamInterface<RawCase> {};

TEST_P(MalformedBytesTest, IsInvalidArgumentSayingWhatIsWrong) {
  const RawCase& c = GetParam();
  const grpc::Status bad = CallWithBytes(server_->channel(), c.method, c.bytes);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << "code " << bad.error_code() << ": " << bad.error_message();
  EXPECT_NE(bad.error_message().find(c.message), std::string::npos)
      << "message does not contain '" << c.message << "': " << bad.error_message();

  const StreamResult good = RunGenerate(*stub_, ValidRequest(), std::chrono::seconds(30));
  EXPECT_TRUE(good.status.ok()) << good.status.error_message();
  EXPECT_FALSE(good.ids.empty());
}

INSTANTIATE_TEST_SUITE_P(Cases, MalformedBytesTest, ::testing::ValuesIn(RawCases()),
                         [](const auto& info) { return info.param.name; });

// The same path serves valid bytes: a request serialized by hand through the
// generic stub is answered.
using RequestBytesTest = ServerTest;

TEST_F(RequestBytesTest, ValidRequestBytesAreServed) {
  v1::TokenizeRequest request;
  request.set_text("Once upon a time");
  const grpc::Status status =
      CallWithBytes(server_->channel(), "Tokenize", request.SerializeAsString());
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
}

}  // namespace
}  // namespace inferd::testing
