// tests/fuzz/generate_request_fuzz.cc — arbitrary bytes parsed as an
// inferd.v1.GenerateRequest by the server's ParseRequestBytes (which must
// agree with protobuf and name what it refuses), then BuildEngineRequest against the embedded
// stories260K model (its config.json and tokenizer, loaded once): a Status,
// never a crash. Errors are INVALID_ARGUMENT; an accepted request has its
// prompt ids in the vocabulary and prompt + max_tokens within the context.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "engine/engine.h"
#include "engine/model/config.h"
#include "engine/tokenizer/tokenizer.h"
#include "google/protobuf/stubs/logging.h"
#include "inferd/v1/inference.pb.h"
#include "server/request_builder.h"
#include "server/request_parsing.h"

namespace {

struct Model {
  inferd::engine::ModelInfo info;
  std::unique_ptr<inferd::engine::Tokenizer> tokenizer;
};

Model* Load() {
  // Parsing logs every string field that is not UTF-8; not a finding.
  google::protobuf::SetLogHandler(nullptr);
  const std::string dir = INFERD_SOURCE_DIR "/models/stories260K";
  auto config = inferd::engine::ModelConfig::FromDirectory(dir);
  auto tok = inferd::engine::Tokenizer::FromDirectory(dir);
  if (!config.ok() || !tok.ok()) abort();  // the embedded model must load
  auto* m = new Model;
  m->tokenizer = *std::move(tok);
  m->info.model_name = "stories260K";
  m->info.model_dir = dir;
  m->info.architecture = config->architecture;
  m->info.vocab_size = config->vocab_size;
  m->info.max_context = config->max_position_embeddings;
  m->info.hidden_size = config->hidden_size;
  m->info.num_layers = config->num_hidden_layers;
  m->info.bos_id = m->tokenizer->bos_id();
  m->info.eos_ids = config->eos_token_ids;
  m->info.adds_bos = m->tokenizer->adds_bos();
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Model* model = Load();
  // The server's own parse (server/request_parsing.h): it must accept
  // exactly what protobuf accepts, and name a problem for the rest.
  inferd::v1::GenerateRequest request;
  const absl::Status parsed = inferd::server::ParseRequestBytes(
      std::string_view(reinterpret_cast<const char*>(data), size), &request);
  inferd::v1::GenerateRequest reference;
  const bool protobuf_ok = reference.ParseFromArray(data, static_cast<int>(size));
  if (parsed.ok() != protobuf_ok) abort();
  if (!parsed.ok()) {
    if (parsed.code() != absl::StatusCode::kInvalidArgument || parsed.message().empty()) abort();
    return 0;
  }
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  auto built = inferd::server::BuildEngineRequest(request, model->info, *model->tokenizer, now,
                                                  now + absl::Seconds(30));
  if (!built.ok()) {
    if (built.status().code() != absl::StatusCode::kInvalidArgument) abort();
    return 0;
  }
  for (int32_t id : built->prompt_ids) {
    if (id < 0 || id >= model->info.vocab_size) abort();
  }
  const int64_t prompt_len = static_cast<int64_t>(built->prompt_ids.size());
  if (built->sampling.max_tokens < 1 ||
      prompt_len + built->sampling.max_tokens > model->info.max_context) {
    abort();
  }
  return 0;
}
