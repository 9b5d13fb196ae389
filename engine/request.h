// engine/request.h — what a client asks for and what the engine streams back.
//
// These types cross the server -> engine boundary; they carry ids, numbers and
// text, never tensors or gRPC types.
#ifndef INFERD_ENGINE_REQUEST_H_
#define INFERD_ENGINE_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace inferd::engine {

struct SamplingParams {
  int32_t max_tokens = 256;
  float temperature = 1.0f;             // 0 = greedy (argmax, lowest id wins ties)
  int32_t top_k = 0;                    // 0 = disabled
  float top_p = 1.0f;                   // 1 = disabled
  float min_p = 0.0f;                   // 0 = disabled
  float repetition_penalty = 1.0f;      // 1 = disabled (HF/vLLM: prompt + output tokens)
  float presence_penalty = 0.0f;        // OpenAI semantics, output tokens only
  float frequency_penalty = 0.0f;       // OpenAI semantics, output tokens only
  std::optional<uint64_t> seed;         // same seed -> same output, whatever the batch
  std::vector<std::string> stop;        // stop strings (excluded from the text)
  std::vector<int32_t> stop_token_ids;  // in addition to the model's EOS ids
  bool ignore_eos = false;
  int32_t logprobs = -1;  // -1: none; 0: chosen token only; n: chosen + top n (n <= 20)

  // Checks ranges; the message names the field (INVALID_ARGUMENT).
  absl::Status Validate(int64_t vocab_size) const;
};

// The sampling fields a model may give defaults for (its
// generation_config.json; engine/sampling_defaults.h). A front end marks the
// ones its client left unset (a proto field absent, a CLI flag not given, a
// JSON key missing); Engine::Submit sets each marked field of
// Request::sampling to the model's default and keeps the others as given.
struct UnsetSamplingFields {
  bool temperature = false;
  bool top_k = false;
  bool top_p = false;
  bool min_p = false;
  bool repetition_penalty = false;
};

enum class FinishReason { kNone = 0, kStop, kLength, kStopString, kAbort };
// "stop", "length", "stop_string", "abort" ("" for kNone): the JSON/CLI contract.
const char* FinishReasonName(FinishReason reason);

// A request's say in speculative decoding (GenerateRequest.speculative).
struct SpeculativeChoice {
  enum class Mode {
    kDefault,  // the server's policy decides
    kOff,      // never draft for this request
    kOn,       // draft every step the proposer can, whatever the policy
  };
  Mode mode = Mode::kDefault;
  int32_t max_tokens = -1;  // cap on drafted tokens per step; -1: the server's
};

// Structured output: the request's output must be a sentence of this
// language (engine/structured_output/). Compiled once per distinct
// constraint, off the engine thread; enforced token by token on every path
// (plain decoding, batching, chunked prefill, preemption, speculation).
struct Constraint {
  enum class Kind {
    kNone,        // unconstrained
    kJsonSchema,  // text: a JSON Schema
    kJsonObject,  // any JSON object
    kRegex,       // text: a regex over the whole output
    kGrammar,     // text: GBNF (llama.cpp's dialect), start rule `root`
    kChoice,      // exactly one of `choices`
  };
  Kind kind = Kind::kNone;
  std::string text;
  std::vector<std::string> choices;
  // JSON kinds: allow the JSON standard's whitespace between tokens
  // (default: compact, no optional whitespace).
  bool allow_whitespace = false;

  bool active() const { return kind != Kind::kNone; }
};
// "json_schema", "json_object", "regex", "grammar", "choice" ("" for kNone).
const char* ConstraintKindName(Constraint::Kind kind);

struct Request {
  std::string request_id;           // unique among live requests
  std::vector<int32_t> prompt_ids;  // fed exactly as given (BOS already added by the caller)
  SamplingParams sampling;
  UnsetSamplingFields unset_sampling;  // none by default: `sampling` as given
  int32_t priority = 0;                // lower value = served first (vLLM convention)
  absl::Time deadline = absl::InfiniteFuture();
  SpeculativeChoice speculative;
  Constraint constraint;  // kNone by default
};

struct TokenLogprob {
  int32_t token_id = 0;
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;  // (id, logprob), best first
};

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t cached_tokens = 0;
  // Engine steps that produced this request's output tokens (the prefill
  // step included); with speculation, fewer than completion_tokens.
  int32_t num_steps = 0;
  int32_t draft_tokens = 0;           // drafted tokens verified for this request
  int32_t accepted_draft_tokens = 0;  // of those, accepted
};

// One chunk of a request's stream. Consecutive chunks may be merged by the
// output channel when the reader is slower than the engine.
struct RequestOutput {
  std::vector<int32_t> token_ids;      // new generated ids (a stop token is never included)
  std::string text;                    // new text (valid UTF-8, never past a stop string)
  std::vector<TokenLogprob> logprobs;  // one per token id when logprobs >= 0
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  Usage usage;          // filled on the final chunk
  absl::Status status;  // non-OK: the request failed (final chunk)
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_REQUEST_H_
