// server/engine_config_flags.cc
#include "server/engine_config_flags.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/memory_limit.h"
#include "server/flags.h"
#include "server/model_locator.h"

// Defined here, beside their only reader (serve and generate share it).
ABSL_FLAG(double, gpu_memory_utilization, 0.9,
          "With --device cuda: the fraction of the GPU memory free after the weights are "
          "uploaded that this engine takes for activations and the KV cache, in (0, 1]. The KV "
          "pool is that, less the largest step's activations (--max-num-batched-tokens, "
          "--max-num-seqs); --kv-cache-memory is the KV budget on the CPU only");

namespace inferd::server {

namespace {

absl::Status InRange(const char* flag, int64_t value, int64_t min, int64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " must be in [", min, ", ", max, "], got ", value));
}

absl::Status SpeculativeFromFlags(engine::SpeculativeConfig* spec) {
  absl::StatusOr<engine::SpecMethod> method =
      engine::ParseSpecMethod(absl::GetFlag(FLAGS_speculative));
  if (!method.ok())
    return absl::InvalidArgumentError(absl::StrCat("--speculative: ", method.status().message()));
  spec->method = *method;
  absl::StatusOr<engine::SpecPolicy> policy =
      engine::ParseSpecPolicy(absl::GetFlag(FLAGS_speculative_policy));
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--speculative-policy: ", policy.status().message()));
  }
  spec->policy = *policy;
  spec->num_speculative_tokens = absl::GetFlag(FLAGS_num_speculative_tokens);
  if (spec->num_speculative_tokens < 1 ||
      spec->num_speculative_tokens > engine::kMaxSpeculativeTokens) {
    return absl::InvalidArgumentError(absl::StrCat("--num-speculative-tokens must be in [1, ",
                                                   engine::kMaxSpeculativeTokens, "], got ",
                                                   spec->num_speculative_tokens));
  }
  spec->medusa_tree = absl::GetFlag(FLAGS_medusa_tree);
  spec->model_dir = absl::GetFlag(FLAGS_speculative_model);
  const bool needs_dir = spec->method == engine::SpecMethod::kDraft ||
                         spec->method == engine::SpecMethod::kMedusa ||
                         spec->method == engine::SpecMethod::kMtp;
  if (needs_dir && spec->model_dir.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--speculative ", engine::SpecMethodName(spec->method), " needs --speculative-model DIR"));
  }
  if (!needs_dir && !spec->model_dir.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--speculative-model is only used with --speculative draft, medusa or mtp "
                     "(got --speculative ",
                     engine::SpecMethodName(spec->method), ")"));
  }
  const std::string typical = absl::GetFlag(FLAGS_typical_acceptance);
  if (!typical.empty()) {
    std::vector<std::string> parts = absl::StrSplit(typical, ',');
    float eps = 0, delta = 0;
    if (parts.size() != 2 || !absl::SimpleAtof(parts[0], &eps) ||
        !absl::SimpleAtof(parts[1], &delta) || !(eps > 0 && eps <= 1) ||
        !(delta > 0 && delta <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--typical-acceptance: expected EPSILON,DELTA with both in (0, 1], got \"",
                       typical, "\""));
    }
    if (spec->method != engine::SpecMethod::kMedusa) {
      return absl::InvalidArgumentError(
          "--typical-acceptance is Medusa's rule: it needs --speculative medusa");
    }
    spec->typical_acceptance = std::make_pair(eps, delta);
  }
  return absl::OkStatus();
}

// engine::ParseDTypeSetting, the error naming the flag.
absl::StatusOr<engine::DTypeSetting> DTypeFromFlag(const char* flag, const std::string& value) {
  absl::StatusOr<engine::DTypeSetting> dtype = engine::ParseDTypeSetting(value);
  if (!dtype.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", dtype.status().message()));
  }
  return dtype;
}

}  // namespace

absl::StatusOr<engine::EngineConfig> EngineConfigFromFlags() {
  engine::EngineConfig config;
  config.max_num_seqs = absl::GetFlag(FLAGS_max_num_seqs);
  config.max_num_batched_tokens = absl::GetFlag(FLAGS_max_num_batched_tokens);
  config.kv_cache_memory_bytes = absl::GetFlag(FLAGS_kv_cache_memory).bytes;
  config.gpu_memory_utilization = absl::GetFlag(FLAGS_gpu_memory_utilization);
  if (!(config.gpu_memory_utilization > 0 && config.gpu_memory_utilization <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--gpu-memory-utilization must be in (0, 1], got ", config.gpu_memory_utilization));
  }
  config.block_size = absl::GetFlag(FLAGS_block_size);
  config.max_queue_len = absl::GetFlag(FLAGS_max_queue_len);
  config.num_threads = absl::GetFlag(FLAGS_num_threads);
  config.track_expert_load = absl::GetFlag(FLAGS_expert_load_stats);
  config.enable_prefix_caching = !absl::GetFlag(FLAGS_no_prefix_caching);
  config.enable_chunked_prefill = !absl::GetFlag(FLAGS_no_chunked_prefill);
  config.max_num_partial_prefills = absl::GetFlag(FLAGS_max_num_partial_prefills);
  config.max_model_len = absl::GetFlag(FLAGS_max_model_len);
  absl::StatusOr<engine::DeviceSetting> device =
      engine::ParseDeviceSetting(absl::GetFlag(FLAGS_device));
  if (!device.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--device ", device.status().message()));
  }
  config.device = *device;
  absl::StatusOr<engine::DTypeSetting> dtype = DTypeFromFlag("dtype", absl::GetFlag(FLAGS_dtype));
  if (!dtype.ok()) return dtype.status();
  config.dtype = *dtype;
  absl::StatusOr<engine::DTypeSetting> kv_dtype =
      DTypeFromFlag("kv-cache-dtype", absl::GetFlag(FLAGS_kv_cache_dtype));
  if (!kv_dtype.ok()) return kv_dtype.status();
  config.kv_cache_dtype = *kv_dtype;
  absl::StatusOr<engine::QuantizationSetting> quantization =
      engine::ParseQuantization(absl::GetFlag(FLAGS_quantization));
  if (!quantization.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--quantization ", quantization.status().message()));
  }
  config.quantization = *quantization;
  config.quantize_lm_head = absl::GetFlag(FLAGS_quantize_lm_head);
  absl::StatusOr<std::optional<engine::CpuIsa>> cpu_isa =
      engine::ParseCpuIsaSetting(absl::GetFlag(FLAGS_cpu_isa));
  if (!cpu_isa.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--cpu-isa ", cpu_isa.status().message()));
  }
  config.cpu_isa = *cpu_isa;
  if (config.quantize_lm_head && !config.quantization.dtype.has_value()) {
    return absl::InvalidArgumentError("--quantize-lm-head needs --quantization int8 or q4");
  }
  absl::StatusOr<engine::LoadFormat> load_format =
      engine::ParseLoadFormat(absl::GetFlag(FLAGS_load_format));
  if (!load_format.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--load-format ", load_format.status().message()));
  }
  config.load_format = *load_format;
  using engine::kMaxBlockSize, engine::kMaxNumBatchedTokens, engine::kMaxNumPartialPrefills,
      engine::kMaxNumSeqs, engine::kMaxNumThreads, engine::kMaxQueueLen;
  for (absl::Status s :
       {InRange("max-num-seqs", config.max_num_seqs, 1, kMaxNumSeqs),
        InRange("max-num-batched-tokens", config.max_num_batched_tokens, 1, kMaxNumBatchedTokens),
        InRange("block-size", config.block_size, 1, kMaxBlockSize),
        InRange("max-queue-len", config.max_queue_len, 1, kMaxQueueLen),
        InRange("max-num-partial-prefills", config.max_num_partial_prefills, 1,
                kMaxNumPartialPrefills),
        InRange("num-threads", config.num_threads, 0, kMaxNumThreads),
        InRange("max-model-len", config.max_model_len, 0, engine::kMaxModelLen)}) {
    if (!s.ok()) return s;
  }
  if (config.kv_cache_memory_bytes < 1) {
    return absl::InvalidArgumentError("--kv-cache-memory must be at least 1 byte, got 0");
  }
  if (config.kv_cache_memory_bytes > MemoryLimitBytes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--kv-cache-memory ", AbslUnparseFlag(absl::GetFlag(FLAGS_kv_cache_memory)),
                     " (", FormatBytes(static_cast<double>(config.kv_cache_memory_bytes)),
                     ") is more than the ", FormatBytes(static_cast<double>(MemoryLimitBytes())),
                     " of memory this machine (or container) has"));
  }
  if (absl::Status s = SpeculativeFromFlags(&config.speculative); !s.ok()) return s;
  absl::StatusOr<engine::GenerationConfigMode> generation_config =
      engine::ParseGenerationConfigMode(absl::GetFlag(FLAGS_generation_config));
  if (!generation_config.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--generation-config: ", generation_config.status().message()));
  }
  config.generation_config = *generation_config;
  absl::StatusOr<std::string> model_dir = ResolveModelDir(absl::GetFlag(FLAGS_model));
  if (!model_dir.ok()) return model_dir.status();
  config.model_dir = std::move(*model_dir);
  config.tokenizer_dir = absl::GetFlag(FLAGS_tokenizer);
  return config;
}

}  // namespace inferd::server
