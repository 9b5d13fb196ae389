// engine/backend/backend.h — the device seam: the one interface through which
// the engine allocates device memory and runs every op of a forward pass.
//
// The model code above it (Transformer, the decoder layer, the MLPs, the KV
// cache tensors, the model runner, Medusa heads, the MTP module, the draft
// model) is written once against this interface; a backend owns a device
// (CpuBackend: host memory and kernels/cpu; a CUDA backend: one GPU, its
// stream, cuBLAS handle and workspaces) and implements the ops with its
// kernels. The numerics of every op are those of kernels/ops.h, the op set
// and reference every backend implements; shapes below are checked once at
// this boundary.
//
// Activations are tensors of activation_dtype() (CPU: fp32); weights and the
// KV cache are in their own dtype; norm weights, biases and RoPE frequencies
// are fp32; accumulation is always fp32. Index arrays are int32 on the
// device (IndexView). Sampling runs on the host over logits read back with
// ReadToHost.
//
// One engine thread issues every op; the memory calls (Allocate, Adopt,
// FromHost, CopyFromHost) may also come from several loading threads at
// once. Ops may run asynchronously on a device: ReadToHost and Synchronize
// wait.
#ifndef INFERD_ENGINE_BACKEND_BACKEND_H_
#define INFERD_ENGINE_BACKEND_BACKEND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/device_kv_budget.h"
#include "engine/backend/input_batch.h"
#include "engine/backend/tensor.h"

namespace inferd::engine {

// One layer's paged KV cache: K and V pools of
// [num_blocks * block_size, kv_dim] elements of the cache dtype; a token's
// row is its slot = block_id * block_size + offset.
struct KvLayerView {
  TensorView k;
  TensorView v;
  int32_t block_size = 0;
};

// A step's batch layout as the attention op reads it, on the device.
struct StepInputs {
  IndexView token_ids;                  // [num_tokens]
  IndexView positions;                  // [num_tokens]
  IndexView slot_mapping;               // [num_tokens]
  IndexView query_start;                // [num_seqs + 1]
  IndexView seq_lens;                   // [num_seqs]
  IndexView block_tables;               // [num_seqs, max_blocks_per_seq]
  IndexView logits_rows;                // [rows whose logits are wanted]
  const uint64_t* tree_mask = nullptr;  // [num_tokens] or null (kernels::PagedAttentionParams)
  int32_t num_tokens = 0;
  int32_t num_seqs = 0;
  int32_t max_blocks_per_seq = 0;
  int32_t max_query_len = 0;  // longest query of a sequence (host-side bound)
  int32_t max_seq_len = 0;    // longest context after the step (host-side bound)
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual Device device() const = 0;
  // One line for the start-up summary, e.g. "cpu (2 threads)".
  virtual std::string Describe() const = 0;
  // The dtype of activations (hidden states, q/k/v; logits handed to the
  // sampler are always fp32).
  virtual DType activation_dtype() const = 0;
  // The dtype small parameters are kept in (norm weights, biases, routers):
  // fp32 on the CPU, the activation dtype on a GPU (whose ops take one dtype).
  virtual DType param_dtype() const = 0;

  // --- memory -------------------------------------------------------------

  // Uninitialised device memory for `shape` elements of `dtype`.
  // RESOURCE_EXHAUSTED naming the size when it cannot be had.
  virtual absl::StatusOr<Tensor> Allocate(DType dtype, std::vector<int64_t> shape) = 0;
  // A tensor loaded into host memory, made resident on this device: the CPU
  // keeps it as it is; a GPU uploads it and frees the host copy.
  virtual absl::StatusOr<Tensor> Adopt(Tensor host) = 0;
  // fp32 host values as a device tensor of `shape` in param_dtype() (norm
  // weights, biases, routers), or in `dtype` (RoPE frequencies stay fp32).
  absl::StatusOr<Tensor> FromHost(const std::vector<float>& values, std::vector<int64_t> shape);
  absl::StatusOr<Tensor> FromHost(const std::vector<float>& values, std::vector<int64_t> shape,
                                  DType dtype);
  // dst = the host bytes at src (dst.bytes() of them).
  virtual void CopyFromHost(const void* src, TensorView dst) = 0;
  // The fp32 elements of `src` readable on the host: `src` itself where the
  // device is the host, else a copy into *staging. Waits for pending ops.
  virtual float* ReadToHost(TensorView src, std::vector<float>* staging) = 0;
  // `batch`'s index arrays where the ops can read them (the batch's own
  // vectors on the CPU). Valid until the next Upload or until `batch`
  // changes.
  virtual StepInputs Upload(const InputBatch& batch) = 0;
  // Host indices on the device; valid until the next call with the same
  // `slot` (a small per-caller staging area; the CPU returns `host` itself).
  virtual IndexView UploadIndices(const std::vector<int32_t>& host, int slot) = 0;
  // Waits for every op issued so far.
  virtual void Synchronize() = 0;
  // The device's memory now (free and total), or nullopt for host memory,
  // which the KV budget (--kv-cache-memory) sizes instead. A device KV pool
  // is sized from it (device_kv_budget.h).
  virtual std::optional<DeviceMemory> QueryMemory() const { return std::nullopt; }
  // Bytes of scratch the backend itself allocates (workspaces, conversion
  // buffers) for steps up to `shape`, grown as it grows them.
  virtual int64_t ScratchBytes(const StepShape& /*shape*/) const { return 0; }

  // --- ops (kernels/ops.h gives each one's exact numerics) ----------------

  // out[i, :] = table[ids[i], :].   table: [vocab, hidden]   out: [n, hidden]
  virtual void Embedding(TensorView table, IndexView ids, TensorView out) = 0;
  // out = x · wᵀ (+ bias).   x: [m, k]   w: [n, k]   bias: [n] or empty   out: [m, n]
  virtual void Matmul(TensorView x, TensorView w, TensorView bias, TensorView out) = 0;
  // out = RMSNorm(x) * weight per row.   x, out: [n, d] (may alias)   weight: [d]
  virtual void RmsNorm(TensorView x, TensorView weight, float eps, TensorView out) = 0;
  // residual += x; out = RMSNorm(residual) * weight.   residual, x, out: [n, d]
  virtual void AddRmsNorm(TensorView residual, TensorView x, TensorView weight, float eps,
                          TensorView out) = 0;
  // out = a + b.   a, b, out: same numel (out may alias)
  virtual void Add(TensorView a, TensorView b, TensorView out) = 0;
  // RoPE (rotate-half) in place.   x: [n, heads, head_dim]   positions: [n]
  //   inv_freq: [head_dim / 2] fp32
  virtual void Rope(TensorView x, IndexView positions, TensorView inv_freq) = 0;
  // out = silu(gate) * up.   gate_up: [n, 2 * inter] (gate, then up)   out: [n, inter]
  virtual void SiluMul(TensorView gate_up, TensorView out) = 0;
  // out = x + silu(z) (Medusa's ResBlock).   x, z, out: [n, d]
  virtual void AddSilu(TensorView x, TensorView z, TensorView out) = 0;
  // out[i, :] += sigmoid(gate[i]) * y[i, :].   gate: [n, 1]   y, out: [n, d]
  virtual void SigmoidGatedAdd(TensorView gate, TensorView y, TensorView out) = 0;
  // dst[i, dst_col + j] = src[i, src_col + j] for j < cols.   src: [n, a]   dst: [n, b]
  virtual void CopyColumns(TensorView src, int64_t src_col, TensorView dst, int64_t dst_col,
                           int64_t cols) = 0;
  // dst[i, :] = src[rows[i], :].   src: [n, d]   rows: [r]   dst: [r, d]
  virtual void GatherRows(TensorView src, IndexView rows, TensorView dst) = 0;

  // K/V rows into the cache at `slots` (a negative slot skips its row).
  //   k, v: [n, kv_dim]   slots: [n]
  virtual void WriteKvCache(TensorView k, TensorView v, IndexView slots, KvLayerView cache) = 0;
  // Paged attention over the step's layout (causal, or the tree mask).
  //   q: [num_tokens, q_heads, head_dim]   out: same shape
  //   num_kv_heads = cache.k.dim(1) / head_dim
  virtual void PagedAttention(TensorView q, KvLayerView cache, const StepInputs& in, float scale,
                              TensorView out) = 0;
  // cache[dst[i]] = cache[src[i]] for i in order (K and V).
  virtual void CopyKvSlots(IndexView src, IndexView dst, KvLayerView cache) = 0;

  // A Mixture-of-Experts block: softmax top-k routing of router_logits, then
  // the SwiGLU experts over the tokens routed to them, combined in top-k
  // order (kernels::MoeRoute and kernels::MoeExperts).
  //   x: [n, hidden]   router_logits: [n, num_experts]
  //   gate_up: [num_experts * 2 * inter, hidden]   down: [num_experts * hidden, inter]
  //   out: [n, hidden]
  // When `topk_ids` is not null it receives the routing, [n, k], on the host.
  virtual void Moe(TensorView x, TensorView router_logits, int64_t k, bool renormalize,
                   TensorView gate_up, TensorView down, TensorView out,
                   std::vector<int32_t>* topk_ids) = 0;
};

// `*t` as a [>= rows, cols] tensor of `dtype` (the backend's activation
// dtype when absent) on `backend`: reallocated (contents lost) only when it
// is empty, narrower, of another dtype or has fewer rows. Workspaces grow
// with it to the largest batch seen.
void EnsureRows(Backend& backend, int64_t rows, int64_t cols, Tensor* t,
                std::optional<DType> dtype = std::nullopt);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_BACKEND_BACKEND_H_
