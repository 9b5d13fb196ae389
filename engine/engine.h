// engine/engine.h — the public face of the engine: load a model, accept
// requests, stream tokens.
//
// One engine thread owns all mutable state (queues, block tables, KV pool) and
// runs the step loop: schedule -> run model -> sample -> update -> emit
// (DESIGN §2). Submit/Abort/AbortAll/GetStats are thread-safe and only enqueue messages
// or read atomics; they never touch the step loop's state.
#ifndef INFERD_ENGINE_ENGINE_H_
#define INFERD_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/backend/cpu_isa_setting.h"
#include "engine/engine_observer.h"
#include "engine/model/config.h"
#include "engine/model/load_format.h"
#include "engine/model/load_progress.h"
#include "engine/output_channel.h"
#include "engine/request.h"
#include "engine/sampling_defaults.h"
#include "engine/spec_decode/spec_config.h"
#include "engine/tokenizer/tokenizer.h"
#include "kernels/dtype.h"

namespace inferd::engine {

// Bounds of EngineConfig's sizes, checked by Engine::Create and, under the
// flags' names, by `inferd serve|generate` before any port opens. Each is far
// past any sensible setting; they exist so that a typo cannot ask for an
// allocation or a thread count the machine cannot give.
inline constexpr int32_t kMaxNumSeqs = 16384;
inline constexpr int32_t kMaxNumBatchedTokens = 1 << 20;
inline constexpr int32_t kMaxBlockSize = 1024;
inline constexpr int32_t kMaxQueueLen = 1 << 20;
inline constexpr int32_t kMaxNumThreads = 1024;
inline constexpr int32_t kMaxNumPartialPrefills = 1024;
inline constexpr int64_t kMaxModelLen = int64_t{1} << 24;

// What a dtype setting of "auto" resolves to (EngineConfig::dtype,
// kv_cache_dtype): nullopt.
using DTypeSetting = std::optional<kernels::DType>;

// The spelling of --dtype and --kv-cache-dtype: "auto" -> nullopt; fp32,
// bf16, fp16 (or float32, bfloat16, float16) -> that dtype. Anything else is
// INVALID_ARGUMENT "must be auto, fp32, bf16 or fp16, got \"<value>\"" (the
// caller puts the flag's name in front).
absl::StatusOr<DTypeSetting> ParseDTypeSetting(absl::string_view value);

// What --quantization asks the linear layers' matrices to be held as
// (engine/model/transformer.h WeightQuantization).
struct QuantizationSetting {
  // int8/q4: quantized at load to kQ8_0/kQ4_0 (used as stored where a GGUF
  // file stores them so).
  std::optional<kernels::DType> dtype;
  // auto: the quantized types a GGUF file stores them in (Q8_0, Q4_0, Q4_K, Q5_K,
  // Q6_K), as llama.cpp serves them; a float checkpoint is unquantized.
  bool as_stored = true;
};

// The spelling of --quantization: "auto" -> as stored; "none" -> neither;
// "int8" (or "q8_0") -> kQ8_0; "q4" (or "q4_0") -> kQ4_0. Anything else is
// INVALID_ARGUMENT "must be auto, none, int8 or q4, got \"<value>\"" (the
// caller puts the flag's name in front).
absl::StatusOr<QuantizationSetting> ParseQuantization(absl::string_view value);

// The spelling of --load-format: "auto" and "copy" -> kCopy, "mmap" ->
// kMmap. Anything else is INVALID_ARGUMENT "must be auto, copy or mmap, got
// \"<value>\"" (the caller puts the flag's name in front).
absl::StatusOr<LoadFormat> ParseLoadFormat(absl::string_view value);

// Where the model runs (--device): the CPU; CUDA device 0; or auto (CUDA
// where this build has it and a device is found, else the CPU).
enum class DeviceSetting { kCpu, kCuda, kAuto };

// The spelling of --device: auto, cpu, cuda. Anything else is
// INVALID_ARGUMENT "must be auto, cpu or cuda, got \"<value>\"".
absl::StatusOr<DeviceSetting> ParseDeviceSetting(absl::string_view value);

struct EngineConfig {
  std::string model_dir;
  // --tokenizer: a HF tokenizer directory (tokenizer.json or
  // tokenizer.model) used instead of the model's own (a GGUF file's
  // metadata, or model_dir); "" = the model's.
  std::string tokenizer_dir;
  DeviceSetting device = DeviceSetting::kCpu;
  // The CPU kernels' instruction-set path (--cpu-isa;
  // engine/backend/cpu_isa_setting.h): nullopt = the best this CPU runs (or
  // INFERD_CPU_ISA's). Process-wide: Create selects it, and fails when the
  // CPU cannot run it.
  std::optional<CpuIsa> cpu_isa;
  // Weights' storage dtype: nullopt (auto) = the checkpoint's own dtype; a
  // different one converts at load (fp32 -> bf16 rounds to nearest even).
  DTypeSetting dtype;
  // KV cache element type: nullopt (auto) = the weights' dtype.
  DTypeSetting kv_cache_dtype;
  // Weight-only quantization of the linear layers (--quantization;
  // engine/model/transformer.h WeightQuantization): as stored (auto), none,
  // or kQ8_0 / kQ4_0 at load, the LM head too when quantize_lm_head. CPU
  // only. A draft model is not quantized.
  QuantizationSetting quantization;
  bool quantize_lm_head = false;
  // How the target model's weights are loaded (engine/model/load_format.h):
  // copied into owned memory, or, opted in, served from a mapping of the
  // files where no fusing or conversion is needed. A draft model or MTP
  // module is always copied.
  LoadFormat load_format = LoadFormat::kCopy;
  // Longest sequence (prompt + generated) admitted, in tokens. 0 (auto): the
  // model's context, capped to what the KV budget holds for one sequence
  // (with a load warning). Set: it must fit both, or Create fails.
  int64_t max_model_len = 0;
  int32_t max_num_seqs = 64;              // sequences in one step
  int32_t max_num_batched_tokens = 2048;  // tokens (prefill + decode) in one step
  // KV budget on the CPU. On a device (CUDA) the KV pool is instead
  // gpu_memory_utilization of the device memory free after the weights,
  // less the largest step's activations (engine/backend/device_kv_budget.h).
  int64_t kv_cache_memory_bytes = 256ll << 20;
  double gpu_memory_utilization = 0.9;  // in (0, 1]
  int32_t block_size = 16;
  int32_t max_queue_len = 1024;       // waiting requests beyond this: RESOURCE_EXHAUSTED
  int32_t num_threads = 0;            // kernel threads; 0 = all cores
  bool track_expert_load = false;     // MoE models: count tokens per expert per layer
  bool enable_prefix_caching = true;  // reuse cached KV blocks of identical prefixes
  // Split long prompts across steps so decodes keep flowing. Off: a prompt is
  // computed in one step, so max_num_batched_tokens must cover the context.
  bool enable_chunked_prefill = true;
  int32_t max_num_partial_prefills = 1;  // prompts being chunked at the same time
  // Debugging only (`inferd serve --debug-stall-file`): while this file
  // exists, the step loop sleeps instead of stepping (requests are still
  // admitted and aborted), so a stalled engine can be simulated. Empty: off;
  // when set, one stat() per loop iteration.
  std::string debug_stall_file;
  // Speculative decoding (DESIGN §6); off by default.
  SpeculativeConfig speculative;
  // Where a request's unset sampling fields take their defaults from
  // (engine/sampling_defaults.h): the model's generation_config.json or not.
  GenerationConfigMode generation_config = GenerationConfigMode::kAuto;
  // Metrics hook (engine/engine_observer.h); null: none. Shared with the
  // caller, which may keep reading what it recorded after the engine is gone.
  std::shared_ptr<EngineObserver> observer;
  // Progress of the weight load (engine/model/load_progress.h): called once a
  // load has run for a second, then every second, and at 100%; null: silent.
  LoadProgressSink on_load_progress;
};

// Static facts about the loaded model (GetModelInfo).
struct ModelInfo {
  std::string model_name;  // directory base name
  std::string model_dir;
  std::string architecture;
  int64_t vocab_size = 0;
  // The longest sequence admitted (prompt + max_tokens): max_model_len, or
  // max_position_embeddings capped to the KV budget.
  int64_t max_context = 0;
  int64_t model_max_position_embeddings = 0;  // config.json's context
  std::string device;                         // the backend, e.g. "cpu (2 threads)"
  // The CPU kernels' path ("avx2", "avx-vnni", "avx512") and what it runs per
  // weight type (engine/backend/cpu_isa_setting.h).
  std::string cpu_isa;
  std::string cpu_kernels;
  std::string dtype;             // weights' storage dtype ("fp32", "bf16", "fp16")
  std::string checkpoint_dtype;  // what the checkpoint stores them as
  // The linear layers' quantization ("none", "q8_0", "q4_0": --quantization;
  // as stored, the types held joined by commas, e.g. "q4_k,q6_k") and
  // whether the LM head is quantized too.
  std::string quantization = "none";
  bool lm_head_quantized = false;
  int64_t weight_bytes = 0;  // bytes of weights held in memory
  // Of weight_bytes, those served from a mapping of the checkpoint (page
  // cache, --load-format mmap); the rest were copied into owned memory.
  int64_t weights_mapped_bytes = 0;
  std::string load_format;  // "copy" or "mmap"
  double load_seconds = 0;  // reading the weights
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int32_t bos_id = -1;
  std::vector<int32_t> eos_ids;  // stop tokens from generation_config / config
  bool adds_bos = false;
  int32_t block_size = 0;
  int64_t num_kv_blocks = 0;
  int64_t kv_cache_bytes = 0;  // num_kv_blocks * bytes per block (K and V, every layer)
  std::string kv_cache_dtype;  // element type of the KV cache ("fp32", "bf16", "fp16")
  int32_t max_num_seqs = 0;
  int32_t max_num_batched_tokens = 0;
  bool prefix_caching = false;
  bool chunked_prefill = false;
  int32_t max_num_partial_prefills = 0;
  std::string speculative_method;  // "off", "ngram", "draft", "medusa", "mtp"
  std::string speculative_model;   // its directory ("" for off and ngram)
  int32_t num_speculative_tokens = 0;
  std::string speculative_policy;  // "adaptive" or "always"
  std::string generation_config;   // "auto" or "vllm" (EngineConfig::generation_config)
  // What Submit gives the sampling fields a request leaves unset.
  SamplingDefaults sampling_defaults;
  // Problems found at load that do not stop it (all-NaN weight tensors, a
  // tokenizer smaller than vocab_size); the caller logs them as warnings.
  std::vector<std::string> load_warnings;
};

// A thread-safe snapshot for introspection (GetModelInfo); metrics come
// through EngineConfig::observer.
struct EngineStats {
  int64_t num_running = 0;
  int64_t num_waiting = 0;
  int64_t num_kv_blocks_total = 0;
  int64_t num_kv_blocks_free = 0;  // not owned by any request (cached ones included)
  int64_t cached_free_blocks = 0;  // of those, holding reusable prefix blocks
  int64_t num_steps = 0;
  int64_t num_requests_finished = 0;
  int64_t num_preemptions = 0;
  // Prefix cache, since start: prompt tokens looked up when a request was
  // first scheduled, and tokens found cached (served without computing).
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;
  // Prompt tokens computed by forward passes, since start (prefill chunks
  // and recomputes after preemption; cached and forked prompts are not
  // computed, so a group's shared prompt counts once).
  int64_t prompt_tokens_computed = 0;
  // Requests submitted and not yet finished (the engine's request table).
  int64_t num_live_requests = 0;
  // Tokens routed to each expert, [layer][expert], since start; only MoE
  // layers of a MoE model with track_expert_load (empty otherwise).
  std::vector<std::pair<int64_t, std::vector<int64_t>>> expert_load;
};

// The admission limit as errors name it: "the model context of N tokens",
// or, when --max-model-len or the KV budget lowered it, "the max model
// length of N tokens (the model's context is M)".
std::string DescribeContextLimit(const ModelInfo& info);

// The model name of a model directory: its base name ("stories260K" for
// "../shared/models/stories260K/"). ModelInfo::model_name is this.
std::string ModelNameFromDir(const std::string& model_dir);

class Engine {
 public:
  // Loads the model and tokenizer and starts the engine thread.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const EngineConfig& config);
  virtual ~Engine() = default;  // stops the thread; unfinished requests end with kAbort

  virtual const ModelInfo& model_info() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;

  // Validates and enqueues a request, after giving the sampling fields
  // request.unset_sampling marks model_info().sampling_defaults' values.
  // Errors (nothing enqueued):
  //   INVALID_ARGUMENT   bad sampling values, empty prompt, ids out of vocab,
  //                      prompt + max_tokens beyond the model context,
  //                      duplicate live request_id
  //   RESOURCE_EXHAUSTED waiting queue full
  //   UNAVAILABLE        engine shutting down
  // `channel` receives the stream; the engine calls channel->SetNotify never:
  // the caller sets it before calling Submit.
  virtual absl::Status Submit(Request request, std::shared_ptr<OutputChannel> channel) = 0;

  // Submits the n choices of one prompt (an OpenAI request with n > 1) as
  // n requests: each has its own request_id, channel, sampling parameters
  // (its own seed: the caller derives them), stop strings, constraint and
  // priority; every prompt_ids must be the same. Validation and admission are
  // all or nothing (the queue must hold all n). The prompt is computed once:
  // requests[0] (the parent) prefills it, and in the step that completes it
  // the others fork (engine/scheduler/scheduler.h): they share its full KV
  // blocks, copy its last partial block and sample their first token from
  // the same logits, so each request's tokens equal what it would produce
  // submitted alone. Where the pool or max_num_seqs has no room for a fork,
  // or speculation keeps KV of its own (a draft model, MTP), a request
  // computes its prompt itself, as if submitted alone. Abort of requests[0]'s
  // id aborts every request of the group; Abort of another id, that one.
  // Errors as Submit, plus INVALID_ARGUMENT for an empty group, a count of
  // channels unlike the requests' or prompts that differ.
  virtual absl::Status SubmitGroup(std::vector<Request> requests,
                                   std::vector<std::shared_ptr<OutputChannel>> channels) = 0;

  // Aborts a live request (no-op if unknown or finished). Its final chunk has
  // finish_reason kAbort; its KV blocks are freed in the next step.
  virtual void Abort(const std::string& request_id) = 0;

  // Aborts every live request, waiting or running (a server's drain timeout):
  // each gets a final chunk with finish_reason kAbort and `status` (not OK:
  // the stream ends with that error), and its KV blocks are freed in the
  // next step. Every request submitted before the call is included (and one
  // submitted concurrently may be); callers stop submitting first.
  virtual void AbortAll(absl::Status status) = 0;

  virtual EngineStats GetStats() const = 0;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_ENGINE_H_
