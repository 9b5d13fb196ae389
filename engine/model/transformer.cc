// engine/model/transformer.cc
#include "engine/model/transformer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/check.h"
#include "common/memory_limit.h"
#include "engine/backend/cpu_backend.h"

namespace inferd::engine {

namespace {

#define INFERD_RETURN_IF_ERROR(expr)          \
  do {                                        \
    if (absl::Status s_ = (expr); !s_.ok()) { \
      return s_;                              \
    }                                         \
  } while (0)

// Most threads a load uses.
constexpr int64_t kLoadThreads = 8;

}  // namespace

Transformer::Transformer(const ModelConfig& config, std::shared_ptr<Backend> backend)
    : config_(config), backend_(std::move(backend)) {}

absl::StatusOr<std::unique_ptr<Transformer>> Transformer::Load(const ModelConfig& config,
                                                               const WeightStore& w, DType dtype,
                                                               std::shared_ptr<Backend> backend,
                                                               WeightQuantization quant) {
  if (quant.linear.has_value() && !kernels::IsQuantized(*quant.linear)) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantization must be q8_0 or q4_0, got ", kernels::DTypeName(*quant.linear)));
  }
  if (quant.linear.has_value()) quant.as_stored = false;
  if (!quant.linear.has_value()) quant.lm_head = quant.as_stored;
  if (backend != nullptr && backend->device() != Device::kCpu && quant.as_stored) {
    quant = {};  // no quantized kernels there: the model dtype
  }
  // Sizes from config.json are checked against the checkpoint and the
  // machine before anything is sized from them.
  const double implied = config.MinParameterCount();
  const double stored = w.NumElements();
  if (implied > stored) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "config.json implies at least %.4g parameters (vocab_size %d, hidden_size %d, "
        "num_hidden_layers %d, num_attention_heads %d, num_key_value_heads %d, head_dim %d) but "
        "the checkpoint's tensors hold %.4g: config.json does not describe these weights",
        implied, config.vocab_size, config.hidden_size, config.num_hidden_layers,
        config.num_attention_heads, config.num_key_value_heads, config.head_dim, stored));
  }
  const double bytes = w.BytesAs(dtype, quant.as_stored);
  if (bytes > static_cast<double>(MemoryLimitBytes())) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the checkpoint's ", absl::StrFormat("%.4g", stored), " parameters need ",
                     FormatBytes(bytes), " as ", kernels::DTypeName(dtype), ", more than the ",
                     FormatBytes(static_cast<double>(MemoryLimitBytes())),
                     " of memory this machine (or container) has",
                     dtype == DType::kF32 ? " (--dtype bf16 halves it)" : ""));
  }
  if (backend == nullptr) backend = CpuBackend::Create();
  if (quant.linear.has_value() && backend->device() != Device::kCpu) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--quantization ", kernels::DTypeName(*quant.linear), " is not supported on ",
        DeviceName(backend->device()), ": quantized weights run on the CPU backend only"));
  }
  std::unique_ptr<Transformer> t(new Transformer(config, std::move(backend)));
  Backend& b = *t->backend_;
  t->dtype_ = dtype;
  t->quant_ = quant;
  const WeightDType linear(quant.linear.value_or(dtype), quant.as_stored);
  const WeightDType head = quant.lm_head ? linear : WeightDType(dtype);
  const int64_t bytes_before = w.BytesLoaded();
  const int64_t hidden = config.hidden_size;
  const int64_t vocab = config.vocab_size;
  {
    const std::vector<float> inv_freq = config.RopeInvFreq();
    absl::StatusOr<Tensor> f =
        b.FromHost(inv_freq, {static_cast<int64_t>(inv_freq.size())}, DType::kF32);
    if (!f.ok()) return f.status();
    t->inv_freq_ = *std::move(f);
  }
  INFERD_RETURN_IF_ERROR(MoveInto(LoadWeight(w, b, "model.embed_tokens.weight", {vocab, hidden},
                                             WeightDType(dtype, quant.as_stored)),
                                  &t->embed_tokens_));
  INFERD_RETURN_IF_ERROR(
      MoveInto(LoadF32Weight(w, b, {{"model.norm.weight", {hidden}}}), &t->final_norm_));
  if (!config.tie_word_embeddings) {
    INFERD_RETURN_IF_ERROR(
        MoveInto(LoadWeight(w, b, "lm_head.weight", {vocab, hidden}, head), &t->lm_head_));
  } else if (!head.as_stored && head.dtype != dtype) {  // a quantized copy of the tied embedding
    INFERD_RETURN_IF_ERROR(MoveInto(
        LoadWeight(w, b, "model.embed_tokens.weight", {vocab, hidden}, head), &t->lm_head_));
  }
  t->layers_.resize(config.num_hidden_layers);
  auto load_layer = [&](int64_t i) -> absl::Status {
    return LoadDecoderLayer(config, w, b, absl::StrCat("model.layers.", i, "."), i, linear,
                            &t->layers_[i]);
  };
  // Layers load in parallel: most of a load is the kernel zeroing fresh
  // pages and copying from the page cache, both of which scale with threads.
  // Errors are reported in layer order, whichever thread met them.
  std::vector<absl::Status> layer_status(config.num_hidden_layers);
  std::atomic<int64_t> next_layer{0};
  auto worker = [&] {
    for (int64_t i; (i = next_layer.fetch_add(1)) < config.num_hidden_layers;) {
      layer_status[i] = load_layer(i);
    }
  };
  std::vector<std::thread> threads;
  const int64_t workers = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, kLoadThreads);
  for (int64_t k = 1; k < workers; ++k) {
    try {
      threads.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // fewer threads: the ones running (and this one) take the rest
    }
  }
  worker();
  for (std::thread& th : threads) th.join();
  for (const absl::Status& s : layer_status) INFERD_RETURN_IF_ERROR(s);
  // What the model holds: every tensor it loaded, the matrices in `dtype`
  // (or quantized), the rest in fp32.
  t->weight_bytes_ = w.BytesLoaded() - bytes_before;
  return t;
}

void Transformer::EnsureWorkspace(int64_t n) {
  if (n <= capacity_) return;
  const int64_t hidden = config_.hidden_size;
  EnsureRows(*backend_, n, hidden, &residual_);
  EnsureRows(*backend_, n, hidden, &h_);
  EnsureRows(*backend_, n, hidden, &selected_);
  capacity_ = n;
}

void Transformer::EnableExpertLoad() {
  if (config_.moe.num_experts == 0 || expert_load_ != nullptr) return;
  expert_load_ = std::make_unique<ExpertLoad>(config_.num_hidden_layers, config_.moe.num_experts);
}

void Transformer::Forward(const InputBatch& batch, KvCacheTensors* kv, TensorView logits) {
  const int64_t n = batch.num_tokens();
  INFERD_CHECK_GT(n, 0);
  EnsureWorkspace(n);
  last_tokens_ = n;
  Backend& b = *backend_;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  const StepInputs in = b.Upload(batch);
  const TensorView residual = residual_.view().Rows(0, n);  // [n, hidden]
  const TensorView h = h_.view().Rows(0, n);                // [n, hidden]

  b.Embedding(embed_tokens_.view(), in.token_ids, residual);
  b.RmsNorm(residual, layers_[0].input_norm.view(), eps, h);
  for (int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    const TensorView next_norm = layer + 1 < config_.num_hidden_layers
                                     ? layers_[layer + 1].input_norm.view()
                                     : final_norm_.view();
    RunDecoderLayer(b, config_, layers_[layer], layer, in, kv->layer(layer), inv_freq_.view(),
                    next_norm, residual, h, &scratch_, expert_load_.get());
  }

  // Only the rows that sample need the LM head: [R, hidden] -> [R, vocab].
  const int64_t r = static_cast<int64_t>(batch.logits_rows.size());
  if (r == 0) return;
  INFERD_CHECK_EQ(logits.numel(), r * config_.vocab_size);
  const TensorView selected = selected_.view().Rows(0, r);
  b.GatherRows(h, in.logits_rows, selected);
  b.Matmul(selected, lm_head().view(), TensorView(), logits);
}

}  // namespace inferd::engine
