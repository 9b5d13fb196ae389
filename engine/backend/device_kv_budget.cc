// engine/backend/device_kv_budget.cc
#include "engine/backend/device_kv_budget.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace inferd::engine {

namespace {

std::string GiB(int64_t bytes) {
  return absl::StrFormat("%.2f GiB", static_cast<double>(bytes) / (1ll << 30));
}

}  // namespace

int64_t ModelActivationBytes(const StepShape& s) {
  const int64_t q_dim = s.num_q_heads * s.head_dim;
  const int64_t kv_dim = s.num_kv_heads * s.head_dim;
  // Transformer: residual, h, selected. Decoder layer: delta, qkv, q, k, v,
  // attn. Dense MLP (dense layers, MoE models' included): gate_up, act. MoE
  // block: router logits, the shared expert's output, gate and dense MLP.
  int64_t row = 3 * s.hidden + s.hidden + (q_dim + 2 * kv_dim) + q_dim + 2 * kv_dim + q_dim +
                3 * s.intermediate;
  if (s.num_experts > 0) {
    row += s.num_experts;
    if (s.shared_intermediate > 0) row += s.hidden + 1 + 3 * s.shared_intermediate;
  }
  return s.max_tokens * row * s.activation_dtype_bytes +
         s.max_logits_rows * s.vocab * static_cast<int64_t>(sizeof(float));
}

absl::StatusOr<DeviceKvPlan> PlanDeviceKv(const DeviceKvPlanInput& in) {
  if (!(in.utilization > 0.0 && in.utilization <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--gpu-memory-utilization must be in (0, 1], got ", in.utilization));
  }
  if (in.bytes_per_block <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("a KV block must have a positive size, got ", in.bytes_per_block));
  }
  DeviceKvPlan plan;
  const int64_t free_bytes = std::max<int64_t>(in.memory.free_bytes, 0);
  plan.usable_bytes =
      static_cast<int64_t>(std::floor(static_cast<double>(free_bytes) * in.utilization));
  const int64_t for_kv = plan.usable_bytes - std::max<int64_t>(in.activation_bytes, 0);
  plan.num_blocks = for_kv > 0 ? for_kv / in.bytes_per_block : 0;
  if (in.max_blocks > 0) plan.num_blocks = std::min(plan.num_blocks, in.max_blocks);
  plan.kv_bytes = plan.num_blocks * in.bytes_per_block;
  if (plan.num_blocks < 1) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "no GPU memory is left for the KV cache on ", in.device, ": ", GiB(free_bytes), " of its ",
        GiB(in.memory.total_bytes), " are free after the weights; ", "--gpu-memory-utilization ",
        in.utilization, " makes ", GiB(plan.usable_bytes),
        " usable, and the largest step's activations and scratch take ", GiB(in.activation_bytes),
        ", which leaves less than one KV block (", GiB(in.bytes_per_block),
        "); raise --gpu-memory-utilization, lower --max-num-batched-tokens or "
        "--max-num-seqs, or use a smaller --dtype"));
  }
  return plan;
}

}  // namespace inferd::engine
