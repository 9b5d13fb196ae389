// tests/fuzz/openai_request_fuzz.cc — arbitrary bytes as the JSON body of an
// OpenAI-compatible request (server/http/openai_request.h): byte 0 picks the
// endpoint (even: /v1/completions, odd: /v1/chat/completions), the rest is
// the body. ParseJsonBody and ParseOpenAiRequest return a Status, never
// crash: INVALID_ARGUMENT with a message, or NOT_FOUND naming `model`. An
// accepted completion request goes through BuildEngineRequest against the
// embedded stories260K model (as generate_request_fuzz does); an accepted
// engine request's prompt ids then stand in for its output and go through
// OpenAiResponder (up to 3 of its `n` choices), streaming and not, whose every body and SSE event
// must parse as JSON.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "engine/model/config.h"
#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"
#include "server/http/openai_request.h"
#include "server/http/openai_response.h"
#include "server/request_builder.h"

namespace {

namespace http = inferd::server::http;

struct Model {
  inferd::engine::ModelInfo info;
  std::unique_ptr<inferd::engine::Tokenizer> tokenizer;
};

Model* Load() {
  const std::string dir = INFERD_SOURCE_DIR "/models/stories260K";
  auto config = inferd::engine::ModelConfig::FromDirectory(dir);
  auto tok = inferd::engine::Tokenizer::FromDirectory(dir);
  if (!config.ok() || !tok.ok()) abort();  // the embedded model must load
  auto* m = new Model;
  m->tokenizer = *std::move(tok);
  m->info.model_name = "stories260K";
  m->info.model_dir = dir;
  m->info.vocab_size = config->vocab_size;
  m->info.max_context = config->max_position_embeddings;
  m->info.bos_id = m->tokenizer->bos_id();
  m->info.eos_ids = config->eos_token_ids;
  m->info.adds_bos = m->tokenizer->adds_bos();
  return m;
}

void CheckJson(absl::string_view text) {
  if (!nlohmann::json::accept(text.begin(), text.end())) abort();
}

// Every `data: ` event of an SSE stream is JSON or [DONE], and [DONE] ends it.
void CheckEvents(absl::string_view events) {
  while (!events.empty()) {
    if (!absl::StartsWith(events, "data: ")) abort();
    const size_t end = events.find("\n\n");
    if (end == absl::string_view::npos) abort();
    const absl::string_view payload = events.substr(6, end - 6);
    events.remove_prefix(end + 2);
    if (payload == "[DONE]") {
      if (!events.empty()) abort();
      return;
    }
    CheckJson(payload);
  }
}

void Respond(const Model& model, const http::OpenAiRequest& request,
             const inferd::engine::Request& built) {
  for (bool stream : {false, true}) {
    http::ResponseContext context;
    context.endpoint = request.endpoint;
    context.id = "cmpl-fuzz";
    context.model = model.info.model_name;
    context.stream = stream;
    context.include_usage = request.include_usage;
    context.top_logprobs = request.top_logprobs;
    context.tokenizer = model.tokenizer.get();
    context.tool_choice = request.tool_choice;
    context.tool_name = request.tool_name;
    const int n = std::min(request.n, 3);
    http::OpenAiResponder responder(std::move(context), n);
    std::string events = responder.Start();
    inferd::engine::RequestOutput output;
    for (size_t i = 0; i < built.prompt_ids.size() && i < 64; ++i) {
      const int32_t id = built.prompt_ids[i];
      output.token_ids.push_back(id);
      if (request.top_logprobs.has_value()) {
        inferd::engine::TokenLogprob lp{.token_id = id, .logprob = -1.0f, .top = {}};
        for (int32_t k = 0; k < *request.top_logprobs; ++k) lp.top.emplace_back(k, -2.0f);
        output.logprobs.push_back(std::move(lp));
      }
    }
    output.text = model.tokenizer->Decode(output.token_ids, false);
    std::string tail;
    for (int i = 0; i < n; ++i) {
      events += responder.Consume(i, output);
      inferd::engine::RequestOutput last;
      last.finished = true;
      last.finish_reason = inferd::engine::FinishReason::kLength;
      std::string end = responder.Consume(i, last);
      if (i + 1 < n) {
        events += end;
      } else {
        tail = std::move(end);
      }
    }
    if (!responder.finished()) abort();
    if (stream) {
      CheckEvents(events + tail);
    } else {
      if (!events.empty() || responder.status() != 200) abort();
      CheckJson(tail);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Model* model = Load();
  if (size == 0) return 0;
  const http::Endpoint endpoint =
      (data[0] & 1) ? http::Endpoint::kChatCompletions : http::Endpoint::kCompletions;
  const absl::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto json = http::ParseJsonBody(body);
  if (!json.ok()) {
    if (json.status().code() != absl::StatusCode::kInvalidArgument) abort();
    if (json.status().message().empty()) abort();
    return 0;
  }
  auto request = http::ParseOpenAiRequest(endpoint, *json, model->info.model_name);
  if (!request.ok()) {
    const absl::StatusCode code = request.status().code();
    if (request.status().message().empty()) abort();
    if (code == absl::StatusCode::kNotFound) {
      if (http::ParamOf(request.status()) != "model") abort();
    } else if (code != absl::StatusCode::kInvalidArgument) {
      abort();
    }
    return 0;
  }
  if (endpoint == http::Endpoint::kChatCompletions) {
    if (!request->messages.is_array() || request->generate.has_token_ids()) abort();
    request->generate.set_text("chat");  // what a template would have rendered
  }
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  auto built = inferd::server::BuildEngineRequest(request->generate, model->info, *model->tokenizer,
                                                  now, absl::InfiniteFuture());
  if (!built.ok()) {
    if (built.status().code() != absl::StatusCode::kInvalidArgument) abort();
    return 0;
  }
  const int64_t prompt_len = static_cast<int64_t>(built->prompt_ids.size());
  if (built->sampling.max_tokens < 1 ||
      prompt_len + built->sampling.max_tokens > model->info.max_context) {
    abort();
  }
  Respond(*model, *request, *built);
  return 0;
}
