// engine/backend/device_kv_budget.h — how large the KV pool on a GPU is:
// --gpu-memory-utilization of the device memory still free once the weights
// are resident, less the largest step's activations and the backend's
// scratch. Pure arithmetic (tested on the CPU); the CUDA backend supplies the
// device's numbers (Backend::QueryMemory, Backend::ScratchBytes).
//
// How it relates to --kv-cache-memory: that flag is the KV budget on the CPU
// (host memory has no "free after the weights" that means anything under
// overcommit and page cache). On a device backend the pool comes from this
// plan and --kv-cache-memory is not used.
//
// Unlike vLLM's flag (a fraction of the device's TOTAL memory that this
// instance may reach), the fraction here is of the memory FREE after the
// weights: two engines in one process (the tests do this) or a second
// server on the same GPU each take their share of what is left instead of
// the second failing.
#ifndef INFERD_ENGINE_BACKEND_DEVICE_KV_BUDGET_H_
#define INFERD_ENGINE_BACKEND_DEVICE_KV_BUDGET_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace inferd::engine {

// A device's memory as its runtime reports it, in bytes.
struct DeviceMemory {
  int64_t free_bytes = 0;
  int64_t total_bytes = 0;
};

// The largest step the engine will run, in the shapes that size its
// buffers: what the model's activations (ModelActivationBytes) and a
// backend's scratch (Backend::ScratchBytes) are bounded by.
struct StepShape {
  int64_t max_tokens = 0;       // max_num_batched_tokens
  int64_t max_seqs = 0;         // max_num_seqs
  int64_t max_seq_len = 0;      // the longest sequence admitted (max_model_len)
  int64_t max_logits_rows = 0;  // rows whose logits one step reads back
  int64_t hidden = 0;
  int64_t num_q_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate = 0;  // dense MLP width (0: none)
  int64_t vocab = 0;
  int64_t num_experts = 0;  // MoE (0: dense)
  int64_t experts_per_token = 0;
  int64_t moe_intermediate = 0;
  int64_t shared_intermediate = 0;  // a shared expert's width (0: none)
  int64_t activation_dtype_bytes = 0;
};

// Bytes of the activation tensors the model code allocates for a step of
// shape `s` (engine/model: the residual stream, one decoder layer's q/k/v,
// attention and MLP buffers — reused across layers — and the fp32 logits).
// Tensors only grow to the largest step, so this bounds them for any step.
int64_t ModelActivationBytes(const StepShape& s);

struct DeviceKvPlanInput {
  DeviceMemory memory;           // measured after the weights are resident
  double utilization = 0.9;      // --gpu-memory-utilization, in (0, 1]
  int64_t activation_bytes = 0;  // ModelActivationBytes + the backend's scratch
  int64_t bytes_per_block = 0;   // one KV block: K and V of every layer (> 0)
  int64_t max_blocks = 0;        // a cap on the pool (0: none): slots are int32
  std::string device;            // for messages: "cuda:0 (NVIDIA H100 ...)"
};

struct DeviceKvPlan {
  int64_t usable_bytes = 0;  // floor(free * utilization)
  int64_t kv_bytes = 0;      // num_blocks * bytes_per_block
  int64_t num_blocks = 0;
};

// usable = floor(free * utilization); num_blocks = (usable - activations) /
// bytes_per_block, at most max_blocks. INVALID_ARGUMENT for a utilization outside (0, 1] or a
// non-positive block size; RESOURCE_EXHAUSTED naming every number when not
// one block fits.
absl::StatusOr<DeviceKvPlan> PlanDeviceKv(const DeviceKvPlanInput& in);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_BACKEND_DEVICE_KV_BUDGET_H_
