// server/request_builder.h — a GenerateRequest (proto) -> an engine::Request,
// validating every field on the way.
//
// Checks are cheap (no model work besides tokenizing a text prompt) and agree
// with the engine's own Submit checks: sampling ranges go through the
// engine's SamplingParams::Validate. Every error is INVALID_ARGUMENT and its
// message names the field.
#ifndef INFERD_SERVER_REQUEST_BUILDER_H_
#define INFERD_SERVER_REQUEST_BUILDER_H_

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "engine/request.h"
#include "engine/tokenizer/tokenizer.h"
#include "inferd/v1/inference.pb.h"

namespace inferd::server {

inline constexpr size_t kMaxRequestIdBytes = 256;
inline constexpr int32_t kMaxSpeculativeTokens = engine::kMaxSpeculativeTokens;

// The request_id is copied as is (possibly empty: the caller assigns one).
// Absent max_tokens becomes the rest of the model context. The deadline is the
// earlier of `call_deadline` (the gRPC deadline) and `now` + timeout_ms.
// `max_tokens_limit` > 0 (--max-tokens-limit) caps max_tokens: a larger one is
// INVALID_ARGUMENT, an absent one is capped to it.
absl::StatusOr<engine::Request> BuildEngineRequest(
    const v1::GenerateRequest& request, const engine::ModelInfo& model,
    const engine::Tokenizer& tokenizer, absl::Time now = absl::Now(),
    absl::Time call_deadline = absl::InfiniteFuture(), int32_t max_tokens_limit = 0);

// Checks that every id is in [0, vocab_size); `field` names the list in the
// error ("prompt.token_ids").
absl::Status CheckTokenIds(const google::protobuf::RepeatedField<int32_t>& ids, int64_t vocab_size,
                           const char* field);

}  // namespace inferd::server

#endif  // INFERD_SERVER_REQUEST_BUILDER_H_
