// engine/engine.cc — Engine::Create: load config, tokenizer and weights, size
// the KV cache from the memory budget, start the engine thread.
#include "engine/engine.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/memory_limit.h"
#include "common/thread_pool.h"
#include "engine/backend/cpu_backend.h"
#include "engine/backend/cuda_backend.h"
#include "engine/engine_impl.h"
#include "engine/gguf_tokenizer.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/gguf_config.h"
#include "engine/model/gguf_file.h"
#include "engine/model/transformer.h"
#include "engine/model/weight_store.h"
#include "engine/runner/model_runner.h"
#include "engine/spec_decode/proposer_factory.h"

namespace inferd::engine {

namespace {

absl::Status InRange(const char* field, int64_t value, int64_t min, int64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be in [", min, ", ", max, "], got ", value));
}

absl::Status ValidateConfig(const EngineConfig& c) {
  for (absl::Status s :
       {InRange("max_num_seqs", c.max_num_seqs, 1, kMaxNumSeqs),
        InRange("max_num_batched_tokens", c.max_num_batched_tokens, 1, kMaxNumBatchedTokens),
        InRange("block_size", c.block_size, 1, kMaxBlockSize),
        InRange("max_num_partial_prefills", c.max_num_partial_prefills, 1, kMaxNumPartialPrefills),
        InRange("max_queue_len", c.max_queue_len, 1, kMaxQueueLen),
        InRange("num_threads", c.num_threads, 0, kMaxNumThreads),
        InRange("max_model_len", c.max_model_len, 0, kMaxModelLen)}) {
    if (!s.ok()) return s;
  }
  if (c.speculative.enabled() && (c.speculative.num_speculative_tokens < 1 ||
                                  c.speculative.num_speculative_tokens > kMaxSpeculativeTokens)) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_speculative_tokens must be in [1, ", kMaxSpeculativeTokens, "]"));
  }
  if (c.kv_cache_memory_bytes < 1) {
    return absl::InvalidArgumentError("kv_cache_memory must be > 0");
  }
  if (!(c.gpu_memory_utilization > 0 && c.gpu_memory_utilization <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("gpu_memory_utilization must be in (0, 1], got ", c.gpu_memory_utilization));
  }
  if (c.kv_cache_memory_bytes > MemoryLimitBytes()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "kv_cache_memory of ", FormatBytes(static_cast<double>(c.kv_cache_memory_bytes)),
        " is more than the ", FormatBytes(static_cast<double>(MemoryLimitBytes())),
        " of memory this machine (or container) has"));
  }
  return absl::OkStatus();
}

// An explicit max_model_len against the model's context and the KV budget
// (bytes_per_block: every layer's K and V, the proposer's included).
absl::Status CheckMaxModelLen(const EngineConfig& config, int64_t model_context,
                              int64_t bytes_per_block, kernels::DType kv_dtype) {
  if (config.max_model_len > model_context) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_model_len ", config.max_model_len, " is longer than the model's context of ",
        model_context, " tokens (max_position_embeddings in config.json)"));
  }
  const int64_t budget_tokens = config.kv_cache_memory_bytes / bytes_per_block * config.block_size;
  if (config.max_model_len > budget_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_model_len ", config.max_model_len, " needs ",
        FormatBytes(static_cast<double>((config.max_model_len + config.block_size - 1) /
                                        config.block_size * bytes_per_block)),
        " of KV cache for one sequence, but kv_cache_memory of ",
        FormatBytes(static_cast<double>(config.kv_cache_memory_bytes)), " holds ", budget_tokens,
        " tokens (", kernels::DTypeName(kv_dtype),
        "); raise --kv-cache-memory or lower --max-model-len"));
  }
  return absl::OkStatus();
}

// The backend --device names, computing in `dtype`.
absl::StatusOr<std::shared_ptr<Backend>> CreateBackend(DeviceSetting device, DType dtype,
                                                       DType kv_dtype) {
  if (device == DeviceSetting::kCpu) return CpuBackend::Create();
  if (device == DeviceSetting::kAuto && CudaDeviceCount() == 0) return CpuBackend::Create();
  if (kv_dtype != dtype) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--device cuda computes with one dtype: --kv-cache-dtype (", kernels::DTypeName(kv_dtype),
        ") must equal the compute dtype (", kernels::DTypeName(dtype), ")"));
  }
  return CreateCudaBackend(dtype);
}

// The KV bytes of a device backend's pool (0 on the CPU, whose budget is
// --kv-cache-memory): gpu_memory_utilization of the memory free now that the
// weights are resident, less the largest step's activations and scratch.
absl::StatusOr<int64_t> DeviceKvBytes(const EngineConfig& config, const ModelConfig& m,
                                      const Transformer& model, int64_t bytes_per_block) {
  Backend& backend = model.backend();
  const std::optional<DeviceMemory> memory = backend.QueryMemory();
  if (!memory.has_value()) return 0;
  StepShape s;
  s.max_tokens = config.max_num_batched_tokens;
  s.max_seqs = config.max_num_seqs;
  s.max_seq_len = config.max_model_len > 0 ? config.max_model_len : m.max_position_embeddings;
  s.max_logits_rows = std::min<int64_t>(
      s.max_tokens,
      static_cast<int64_t>(config.max_num_seqs) *
          (1 + (config.speculative.enabled() ? config.speculative.num_speculative_tokens : 0)));
  s.hidden = m.hidden_size;
  s.num_q_heads = m.num_attention_heads;
  s.num_kv_heads = m.num_key_value_heads;
  s.head_dim = m.head_dim;
  s.intermediate = m.intermediate_size;
  s.vocab = m.vocab_size;
  if (m.moe.num_experts > 0) {
    s.num_experts = m.moe.num_experts;
    s.experts_per_token = m.moe.num_experts_per_tok;
    s.moe_intermediate = m.moe.expert_intermediate_size;
    s.shared_intermediate = m.moe.shared_expert_intermediate_size;
  }
  s.activation_dtype_bytes = static_cast<int64_t>(kernels::DTypeSize(backend.activation_dtype()));
  DeviceKvPlanInput in;
  in.memory = *memory;
  in.utilization = config.gpu_memory_utilization;
  // The model's tensors can be held twice for a moment while one grows.
  in.activation_bytes = 2 * ModelActivationBytes(s) + backend.ScratchBytes(s);
  in.bytes_per_block = bytes_per_block;
  // Slots (block * block_size + offset) are int32 in every step's inputs.
  in.max_blocks = std::numeric_limits<int32_t>::max() / config.block_size;
  in.device = backend.Describe();
  absl::StatusOr<DeviceKvPlan> plan = PlanDeviceKv(in);
  if (!plan.ok()) return plan.status();
  return plan->kv_bytes;
}

}  // namespace

absl::StatusOr<DeviceSetting> ParseDeviceSetting(absl::string_view value) {
  if (value == "cpu") return DeviceSetting::kCpu;
  if (value == "cuda") return DeviceSetting::kCuda;
  if (value == "auto") return DeviceSetting::kAuto;
  return absl::InvalidArgumentError(absl::StrCat("must be auto, cpu or cuda, got \"", value, "\""));
}

absl::StatusOr<DTypeSetting> ParseDTypeSetting(absl::string_view value) {
  if (value == "auto") return DTypeSetting();
  std::optional<kernels::DType> dtype =
      kernels::ParseDTypeName(std::string_view(value.data(), value.size()));
  if (!dtype.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be auto, fp32, bf16 or fp16, got \"", value, "\""));
  }
  return DTypeSetting(*dtype);
}

absl::StatusOr<QuantizationSetting> ParseQuantization(absl::string_view value) {
  if (value == "auto") return QuantizationSetting{.dtype = std::nullopt, .as_stored = true};
  if (value == "none") return QuantizationSetting{.dtype = std::nullopt, .as_stored = false};
  if (value == "int8" || value == "q8_0") {
    return QuantizationSetting{.dtype = kernels::DType::kQ8_0, .as_stored = false};
  }
  if (value == "q4" || value == "q4_0") {
    return QuantizationSetting{.dtype = kernels::DType::kQ4_0, .as_stored = false};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("must be auto, none, int8 or q4, got \"", value, "\""));
}

absl::StatusOr<LoadFormat> ParseLoadFormat(absl::string_view value) {
  if (value == "auto" || value == "copy") return LoadFormat::kCopy;
  if (value == "mmap") return LoadFormat::kMmap;
  return absl::InvalidArgumentError(
      absl::StrCat("must be auto, copy or mmap, got \"", value, "\""));
}

std::string DescribeContextLimit(const ModelInfo& info) {
  if (info.max_context >= info.model_max_position_embeddings) {
    return absl::StrCat("the model context of ", info.max_context, " tokens");
  }
  return absl::StrCat("the max model length of ", info.max_context,
                      " tokens (the model's context is ", info.model_max_position_embeddings, ")");
}

std::string ModelNameFromDir(const std::string& model_dir) {
  const std::filesystem::path dir = std::filesystem::path(model_dir).lexically_normal();
  std::string name = dir.filename().string();
  if (name.empty()) name = dir.parent_path().filename().string();  // "dir/"
  return name;
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineConfig& config) {
  if (absl::Status s = ValidateConfig(config); !s.ok()) return s;
  if (absl::Status s = ApplyCpuIsaSetting(config.cpu_isa); !s.ok()) return s;
  // A model directory, or one GGUF file (config, tokenizer and weights all
  // from its metadata and tensors).
  std::shared_ptr<const GgufFile> gguf;
  if (IsGgufPath(config.model_dir)) {
    absl::StatusOr<std::unique_ptr<GgufFile>> opened = GgufFile::Open(config.model_dir);
    if (!opened.ok()) return opened.status();
    gguf = *std::move(opened);
  } else if (!std::filesystem::is_directory(config.model_dir)) {
    return absl::NotFoundError(absl::StrCat("model directory ", config.model_dir, " not found"));
  }
  absl::StatusOr<ModelConfig> model_config =
      gguf != nullptr ? ModelConfigFromGguf(*gguf) : ModelConfig::FromDirectory(config.model_dir);
  if (!model_config.ok()) return model_config.status();
  absl::StatusOr<GenerationConfig> gen_config =
      gguf != nullptr ? GenerationConfigFromGguf(*gguf)
                      : GenerationConfig::FromDirectory(config.model_dir);
  if (!gen_config.ok()) return gen_config.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer;
  if (!config.tokenizer_dir.empty()) {
    if (!std::filesystem::is_directory(config.tokenizer_dir)) {
      return absl::NotFoundError(
          absl::StrCat("--tokenizer ", config.tokenizer_dir, ": not a directory"));
    }
    tokenizer = Tokenizer::FromDirectory(config.tokenizer_dir);
    if (!tokenizer.ok()) {
      return absl::Status(tokenizer.status().code(),
                          absl::StrCat("--tokenizer: ", tokenizer.status().message()));
    }
  } else {
    tokenizer =
        gguf != nullptr ? TokenizerFromGguf(*gguf) : Tokenizer::FromDirectory(config.model_dir);
    if (!tokenizer.ok()) return tokenizer.status();
  }
  if ((*tokenizer)->vocab_size() > model_config->vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer of ", config.model_dir, " has ", (*tokenizer)->vocab_size(),
                     " tokens but config.json vocab_size is ", model_config->vocab_size));
  }

  std::unique_ptr<Transformer> model;
  std::vector<std::string> warnings;
  // Resolved from the flags and the checkpoint's headers, before the load.
  kernels::DType checkpoint_dtype = kernels::DType::kF32;
  kernels::DType weights_dtype = kernels::DType::kF32;
  kernels::DType kv_dtype = kernels::DType::kF32;
  int64_t target_bytes_per_block = 0;  // the target's K and V, every layer
  double load_seconds = 0;
  int64_t weights_mapped_bytes = 0;
  std::vector<std::string> held_quantized;  // the linear layers' quantized dtypes
  {
    // Tensors are read into memory the model owns, or with --load-format mmap
    // partly served from mappings the model keeps; the files are closed after.
    absl::StatusOr<std::unique_ptr<WeightStore>> weights =
        gguf != nullptr ? WeightStore::OpenGguf(std::move(gguf), *model_config, config.load_format)
                        : WeightStore::Open(config.model_dir, config.load_format);
    if (!weights.ok()) return weights.status();
    checkpoint_dtype = (*weights)->StorageDType();
    weights_dtype = config.dtype.value_or(checkpoint_dtype);
    kv_dtype = config.kv_cache_dtype.value_or(weights_dtype);
    target_bytes_per_block = KvCacheTensors::BytesPerBlock(
        model_config->num_hidden_layers, config.block_size,
        static_cast<int64_t>(model_config->num_key_value_heads) * model_config->head_dim, kv_dtype);
    // A --max-model-len the model or the budget cannot take fails before the
    // load (the budget here is the target's KV only; with the proposer's,
    // known after its load, it is checked again below).
    // (On a device the KV pool is sized after the load: checked below.)
    if (config.max_model_len > 0 && config.device == DeviceSetting::kCpu) {
      if (absl::Status s = CheckMaxModelLen(config, model_config->max_position_embeddings,
                                            target_bytes_per_block, kv_dtype);
          !s.ok()) {
        return s;
      }
    }
    absl::StatusOr<std::shared_ptr<Backend>> backend =
        CreateBackend(config.device, weights_dtype, kv_dtype);
    if (!backend.ok()) return backend.status();
    const absl::Time load_start = absl::Now();
    LoadProgressReporter progress(
        static_cast<int64_t>((*weights)->BytesAs(
            weights_dtype,
            config.quantization.as_stored && !config.quantization.dtype.has_value())),
        [&store = **weights] { return store.BytesLoaded(); }, config.on_load_progress);
    absl::StatusOr<std::unique_ptr<Transformer>> loaded =
        Transformer::Load(*model_config, **weights, weights_dtype, *std::move(backend),
                          {.linear = config.quantization.dtype,
                           .lm_head = config.quantize_lm_head,
                           .as_stored = config.quantization.as_stored});
    progress.Finish(loaded.ok());
    if (!loaded.ok()) return loaded.status();
    load_seconds = absl::ToDoubleSeconds(absl::Now() - load_start);
    model = *std::move(loaded);
    weights_mapped_bytes = (*weights)->BytesMapped();
    for (kernels::DType t : (*weights)->HeldQuantized()) {
      held_quantized.push_back(kernels::DTypeName(t));
    }
    if (const std::vector<std::string> mixed = (*weights)->Requantized(); !mixed.empty()) {
      warnings.push_back(absl::StrCat(
          mixed.size(),
          " matrix(es) held as q8_0, requantized at load from the file's types (no kernel "
          "computes on q4_1/q5_0/q5_1; one fused matrix cannot hold two types): ",
          absl::StrJoin(mixed.begin(), mixed.begin() + std::min<size_t>(mixed.size(), 5), ", "),
          mixed.size() > 5 ? ", ..." : ""));
    }
    if (const std::vector<std::string> kept = (*weights)->KeptUnquantized(); !kept.empty()) {
      warnings.push_back(absl::StrCat(
          kept.size(),
          " matrix(es) kept in fp32, not quantized: their rows are not whole "
          "blocks of 32 elements: ",
          absl::StrJoin(kept.begin(), kept.begin() + std::min<size_t>(kept.size(), 5), ", "),
          kept.size() > 5 ? ", ..." : ""));
    }
    if (const std::vector<std::string>& bad = (*weights)->NonFiniteTensors(); !bad.empty()) {
      warnings.push_back(absl::StrCat(
          bad.size(), " weight tensor(s) hold only NaN or infinite values (sampled): ",
          absl::StrJoin(bad.begin(), bad.begin() + std::min<size_t>(bad.size(), 5), ", "),
          bad.size() > 5 ? ", ..." : "",
          ": the checkpoint is broken and its outputs will be"
          " garbage"));
    }
  }
  if ((*tokenizer)->vocab_size() < model_config->vocab_size) {
    warnings.push_back(absl::StrCat(
        "the tokenizer has ", (*tokenizer)->vocab_size(), " tokens but config.json vocab_size is ",
        model_config->vocab_size, ": ids ", (*tokenizer)->vocab_size(), " to ",
        model_config->vocab_size - 1,
        " have no text (padding, as in Qwen checkpoints, is harmless; otherwise the tokenizer "
        "belongs to another model)"));
  }

  absl::StatusOr<std::unique_ptr<Proposer>> proposer = CreateProposer(config.speculative, *model);
  if (!proposer.ok()) return proposer.status();

  // A draft model's or MTP module's KV shares the blocks (and the budget).
  const int64_t bytes_per_block =
      target_bytes_per_block +
      (*proposer == nullptr ? 0 : (*proposer)->KvBytesPerBlock(config.block_size));
  // The KV budget: --kv-cache-memory on the CPU; on a device, what the
  // device has free after the weights (device_kv_budget.h).
  EngineConfig sized = config;
  if (absl::StatusOr<int64_t> device_kv =
          DeviceKvBytes(config, *model_config, *model, bytes_per_block);
      !device_kv.ok()) {
    return device_kv.status();
  } else if (*device_kv > 0) {
    sized.kv_cache_memory_bytes = *device_kv;
  }
  const int64_t num_blocks = sized.kv_cache_memory_bytes / bytes_per_block;
  // The longest sequence: --max-model-len, or the model's context capped to
  // what the budget holds for one sequence.
  const int64_t model_context = model_config->max_position_embeddings;
  const int64_t budget_tokens = num_blocks * config.block_size;
  int64_t max_model_len = model_context;
  if (config.max_model_len > 0) {
    if (absl::Status s = CheckMaxModelLen(sized, model_context, bytes_per_block, kv_dtype);
        !s.ok()) {
      return s;
    }
    max_model_len = config.max_model_len;
  } else if (model_context > budget_tokens) {
    if (budget_tokens < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kv_cache_memory of ", FormatBytes(static_cast<double>(sized.kv_cache_memory_bytes)),
          " holds no block of ", FormatBytes(static_cast<double>(bytes_per_block)),
          "; raise --kv-cache-memory"));
    }
    max_model_len = budget_tokens;
    warnings.push_back(absl::StrCat(
        "the model's context of ", model_context, " tokens does not fit the KV cache (",
        FormatBytes(static_cast<double>(sized.kv_cache_memory_bytes)), " of ",
        kernels::DTypeName(kv_dtype), " holds ", budget_tokens,
        " tokens): serving sequences of at most ", max_model_len,
        " tokens; raise --kv-cache-memory or set --max-model-len to choose"));
  }
  if (!config.enable_chunked_prefill && config.max_num_batched_tokens < max_model_len) {
    return absl::InvalidArgumentError(absl::StrCat(
        "with chunked prefill off a whole prompt must fit in one step: max_num_batched_tokens (",
        config.max_num_batched_tokens, ") must be >= the longest sequence (", max_model_len, ")"));
  }

  ModelInfo info;
  info.model_dir = config.model_dir;
  info.model_name = ModelNameFromDir(config.model_dir);
  info.architecture = model_config->architecture;
  info.vocab_size = model_config->vocab_size;
  info.max_context = max_model_len;
  info.model_max_position_embeddings = model_context;
  info.dtype = kernels::DTypeName(model->dtype());
  info.checkpoint_dtype = kernels::DTypeName(checkpoint_dtype);
  info.weight_bytes = model->weight_bytes();
  if (model->quantization().linear.has_value()) {
    info.quantization = kernels::DTypeName(*model->quantization().linear);
    info.lm_head_quantized = model->quantization().lm_head;
  } else if (model->quantization().as_stored && !held_quantized.empty()) {
    info.quantization = absl::StrJoin(held_quantized, ",");
    info.lm_head_quantized = model->lm_head_quantized();
  }
  info.weights_mapped_bytes = weights_mapped_bytes;
  info.load_format = LoadFormatName(config.load_format);
  info.load_seconds = load_seconds;
  info.hidden_size = model_config->hidden_size;
  info.num_layers = model_config->num_hidden_layers;
  info.bos_id = (*tokenizer)->bos_id();
  // Stop tokens: generation_config.json, else config.json, else the tokenizer's EOS.
  info.eos_ids = gen_config->eos_token_ids;
  if (info.eos_ids.empty()) info.eos_ids = model_config->eos_token_ids;
  if (info.eos_ids.empty() && (*tokenizer)->eos_id() >= 0) {
    info.eos_ids.push_back((*tokenizer)->eos_id());
  }
  info.adds_bos = (*tokenizer)->adds_bos();
  info.block_size = config.block_size;
  info.num_kv_blocks = num_blocks;
  info.kv_cache_bytes = num_blocks * bytes_per_block;
  info.kv_cache_dtype = kernels::DTypeName(kv_dtype);
  info.max_num_seqs = config.max_num_seqs;
  info.max_num_batched_tokens = config.max_num_batched_tokens;
  info.prefix_caching = config.enable_prefix_caching;
  info.chunked_prefill = config.enable_chunked_prefill;
  info.max_num_partial_prefills = config.max_num_partial_prefills;
  info.load_warnings = std::move(warnings);
  info.generation_config = GenerationConfigModeName(config.generation_config);
  info.sampling_defaults = SamplingDefaults::ForMode(config.generation_config, *gen_config);
  info.speculative_method = SpecMethodName(config.speculative.method);
  if (config.speculative.enabled()) {
    info.speculative_model = config.speculative.model_dir;
    info.num_speculative_tokens = config.speculative.num_speculative_tokens;
    info.speculative_policy = SpecPolicyName(config.speculative.policy);
  }

  if (config.track_expert_load) model->EnableExpertLoad();
  try {
    // The host pool: the CPU backend's ops and host-side sampling.
    inferd::SetNumThreads(config.num_threads);
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start ", config.num_threads, " kernel threads: ", e.what()));
  }
  info.device = model->backend().Describe();
  info.cpu_isa = ActiveCpuIsaName();
  info.cpu_kernels = ActiveCpuKernels();
  if (*proposer != nullptr) (*proposer)->AllocateKv(num_blocks, config.block_size);
  auto runner =
      std::make_unique<ModelRunner>(std::move(model), num_blocks, config.block_size, kv_dtype);
  return std::unique_ptr<Engine>(new EngineImpl(config, std::move(info), *std::move(tokenizer),
                                                std::move(runner), num_blocks,
                                                *std::move(proposer)));
}

}  // namespace inferd::engine
