// tests/integration/test_client.cc
#include "tests/integration/test_client.h"

#include <thread>

#include "tests/integration/inferd_server.h"
#include "tests/integration/subprocess.h"

namespace inferd::testing {

namespace {

void SetDeadline(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace

StreamResult RunGenerate(v1::Inference::Stub& stub, const v1::GenerateRequest& request,
                         std::chrono::milliseconds timeout) {
  StreamResult result;
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  auto reader = stub.Generate(&context, request);
  for (v1::GenerateResponse chunk; reader->Read(&chunk);) {
    if (result.num_chunks++ == 0) result.request_id = chunk.request_id();
    result.ids.insert(result.ids.end(), chunk.token_ids().begin(), chunk.token_ids().end());
    result.text += chunk.text();
    if (chunk.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      result.finish_reason = chunk.finish_reason();
      result.usage = chunk.usage();
    }
  }
  result.status = reader->Finish();
  return result;
}

v1::GenerateRequest GreedyRequest(const std::vector<int32_t>& prompt_ids, int32_t max_tokens) {
  v1::GenerateRequest request;
  request.mutable_token_ids()->mutable_ids()->Add(prompt_ids.begin(), prompt_ids.end());
  request.set_max_tokens(max_tokens);
  request.set_temperature(0.0f);
  return request;
}

std::vector<int32_t> Tokenize(v1::Inference::Stub& stub, const std::string& text) {
  grpc::ClientContext context;
  SetDeadline(context, std::chrono::seconds(10));
  v1::TokenizeRequest request;
  request.set_text(text);
  v1::TokenizeResponse response;
  const grpc::Status status = stub.Tokenize(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return {response.token_ids().begin(), response.token_ids().end()};
}

v1::GetModelInfoResponse GetModelInfo(v1::Inference::Stub& stub) {
  grpc::ClientContext context;
  SetDeadline(context, std::chrono::seconds(10));
  v1::GetModelInfoResponse response;
  const grpc::Status status = stub.GetModelInfo(&context, v1::GetModelInfoRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

::testing::AssertionResult WaitUntilIdle(v1::Inference::Stub& stub,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  v1::EngineState state;
  while (true) {
    state = GetModelInfo(stub).engine();
    if (state.num_running() == 0 && state.num_waiting() == 0 && state.num_kv_blocks_total() > 0 &&
        state.num_kv_blocks_free() == state.num_kv_blocks_total()) {
      return ::testing::AssertionSuccess();
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionFailure()
         << "engine not idle after " << timeout.count() << " ms: " << state.ShortDebugString();
}

nlohmann::json RunOfflineGenerate(const std::string& model_dir,
                                  const std::vector<std::string>& args) {
  std::vector<std::string> argv = {InferdPath(), "generate", "--model", model_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--json");
  const CommandResult result = RunCommand(argv);
  if (result.exit_code != 0) {
    ADD_FAILURE() << "inferd generate failed (exit " << result.exit_code << "): " << result.err;
    return nullptr;
  }
  const nlohmann::json json = nlohmann::json::parse(LastLine(result.out), nullptr, false);
  if (json.is_discarded()) ADD_FAILURE() << "not JSON: " << LastLine(result.out);
  return json;
}

std::string JoinIds(const std::vector<int32_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(ids[i]);
  }
  return out;
}

std::string FinishReasonName(v1::FinishReason reason) {
  switch (reason) {
    case v1::FINISH_REASON_STOP:
      return "stop";
    case v1::FINISH_REASON_LENGTH:
      return "length";
    case v1::FINISH_REASON_STOP_STRING:
      return "stop_string";
    case v1::FINISH_REASON_ABORT:
      return "abort";
    default:
      break;
  }
  return "";
}

}  // namespace inferd::testing
