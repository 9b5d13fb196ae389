// kernels/cuda/cuda_ops.h — the CUDA backend of kernels/ops.h.
//
// Every op of kernels/ops.h, with the same semantics and shapes, on device
// buffers whose element type is a runtime `DType` (fp32, fp16, bf16). The CPU
// ops are the reference; tests/gpu compares each op against them.
//
// Contracts shared by every op here:
//   * Pointers are device pointers (cudaMalloc), except where a comment says
//     host. Nothing here allocates, synchronises or logs: work is enqueued on
//     `stream` and runs asynchronously, so every launch can be captured in a
//     CUDA graph (kernels/cuda/graph_cache.h).
//   * Storage is `dtype`; arithmetic is fp32 (accumulators, softmax, norms),
//     each output rounded once to `dtype` (round to nearest even).
//   * Shapes and host-side arguments are validated once at the boundary
//     (INFERD_CHECK: a bad call is a programming error). Device-side data is
//     bounds-checked where it indexes memory (ids, slots, block tables): an
//     out-of-range entry never reads or writes outside its buffer.
//   * Determinism: the same inputs give the same bits run after run. Unlike
//     the CPU backend, results may depend on the batch composition (cuBLAS
//     picks its algorithm by shape); within one shape they are fixed.
#ifndef INFERD_KERNELS_CUDA_CUDA_OPS_H_
#define INFERD_KERNELS_CUDA_CUDA_OPS_H_

#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/dtype.h"

namespace inferd::kernels::cuda {

// dst[i] = src[i] converted (fp32 -> fp16/bf16 rounds to nearest even;
// widening is exact; same type copies).   src, dst: [n]
void Convert(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n,
             cudaStream_t stream);

// out[i, :] = table[ids[i], :]. An id outside [0, vocab) fills its row with
// NaN (a caller bug made visible, never an out-of-bounds read).
//   table: [vocab, hidden]   ids: [n]   out: [n, hidden]
void Embedding(const void* table, int64_t vocab, int64_t hidden, const int32_t* ids, int64_t n,
               void* out, DType dtype, cudaStream_t stream);

// out = x · wᵀ (+ bias) through cublasGemmEx, CUBLAS_COMPUTE_32F (no TF32).
// With a bias, out is first filled with it and the GEMM adds to it (beta = 1),
// so each element is rounded to `dtype` once. `handle` is used on `stream`
// (cublasSetStream); see kernels/cuda/cublas_handle.h.
//   x: [m, k]   w: [n, k]   bias: [n] or nullptr   out: [m, n] (must not alias x or w)
void Matmul(cublasHandle_t handle, const void* x, const void* w, const void* bias, int64_t m,
            int64_t n, int64_t k, void* out, DType dtype, cudaStream_t stream);

// out[i] = x[i] / sqrt(mean(x[i]^2) + eps) * weight. One block per row; the
// sum of squares has a fixed order per row.
//   x, out: [n, hidden] (may alias)   weight: [hidden]
void RmsNorm(const void* x, const void* weight, int64_t n, int64_t hidden, float eps, void* out,
             DType dtype, cudaStream_t stream);

// residual[i] += x[i] (rounded to dtype); out[i] = RmsNorm(residual[i]) of the
// rounded residual, so AddRmsNorm equals Add then RmsNorm bit for bit.
//   residual, x, out: [n, hidden]   weight: [hidden]
void AddRmsNorm(void* residual, const void* x, const void* weight, int64_t n, int64_t hidden,
                float eps, void* out, DType dtype, cudaStream_t stream);

// out = a + b elementwise.   a, b, out: [n] (out may alias a or b)
void Add(const void* a, const void* b, int64_t n, void* out, DType dtype, cudaStream_t stream);

// RoPE, rotate-half, in place, with the CPU's angle rule: angle = float(pos) *
// inv_freq[i] (a float product), cos/sin in double rounded to float.
//   x: [n, num_heads, head_dim]   positions: [n]   inv_freq: [head_dim / 2] (fp32)
void Rope(void* x, const int32_t* positions, int64_t n, int64_t num_heads, int64_t head_dim,
          const float* inv_freq, DType dtype, cudaStream_t stream);

// Rope on q and k (in place, as Rope), then the rotated k and v written to
// the cache (as WriteKvCache; a negative slot skips the row): the same bits as
// the three ops, in one launch.
//   q: [n, num_q_heads, head_dim]   k: [n, num_kv_heads, head_dim]
//   v: [n, num_kv_heads * head_dim]   positions, slot_mapping: [n]
//   k_cache, v_cache: [num_slots, num_kv_heads * head_dim]
void RopeWriteKvCache(void* q, void* k, const void* v, const int32_t* positions,
                      const int32_t* slot_mapping, int64_t n, int64_t num_q_heads,
                      int64_t num_kv_heads, int64_t head_dim, const float* inv_freq, void* k_cache,
                      void* v_cache, DType dtype, cudaStream_t stream);

// out[i, j] = silu(gate_up[i, j]) * gate_up[i, inter + j]
//   gate_up: [n, 2 * inter]   out: [n, inter]
void SiluMul(const void* gate_up, int64_t n, int64_t inter, void* out, DType dtype,
             cudaStream_t stream);

// out[i] = x[i] + silu(z[i]) = x[i] + z[i] / (1 + exp(-z[i]))   (Medusa's
// ResBlock; the engine's CPU backend computes the same expression in fp32)
//   x, z, out: [n] (out may alias x)
void AddSilu(const void* x, const void* z, int64_t n, void* out, DType dtype, cudaStream_t stream);

// out[i, :] += sigmoid(gate[i]) * y[i, :]   (sigmoid in double, as the CPU)
//   gate: [n]   y, out: [n, hidden]
void SigmoidGatedAdd(const void* gate, const void* y, int64_t n, int64_t hidden, void* out,
                     DType dtype, cudaStream_t stream);

// Writes new K/V rows into the paged cache at flat slots; a negative slot
// skips its row.
//   k, v: [n, kv_dim]   slot_mapping: [n]   k_cache, v_cache: [num_slots, kv_dim]
void WriteKvCache(const void* k, const void* v, const int32_t* slot_mapping, int64_t n,
                  int64_t kv_dim, void* k_cache, void* v_cache, DType dtype, cudaStream_t stream);

// Moves cache rows between flat slots in order, with sequential semantics (a
// later move sees earlier ones), as kernels/ops.h. One thread block walks the
// moves in order; a negative slot skips its move.
//   src_slots, dst_slots: [n]   k_cache, v_cache: [num_slots, kv_dim]
void CopyKvSlots(const int32_t* src_slots, const int32_t* dst_slots, int64_t n, int64_t kv_dim,
                 void* k_cache, void* v_cache, DType dtype, cudaStream_t stream);

// ---------------------------------------------------------------------------
// Paged attention (kernels/ops.h PagedAttentionParams, same layout and
// semantics, tree mask included). Two kernels behind one entry point:
//   * split-KV (FlashDecoding): for query lengths up to kSplitKvMaxQueryLen
//     (decode, speculative verification). Each sequence's context is cut into
//     splits of kAttentionSplitTokens positions (the rule depends on the
//     context length only, never on the batch); one thread block per (split,
//     KV head, group of query rows) runs an online softmax over its keys, and
//     a merge kernel combines the splits in increasing order. Any head_dim up
//     to 256, every dtype.
//   * flash prefill (FlashAttention-2): for longer query chunks, fp16/bf16,
//     head_dim 64 or 128. Q tiles of 64 rows and K/V tiles of 64 keys are
//     staged in shared memory (cp.async, double-buffered K/V) straight from the
//     paged cache through the block table; S = QKᵀ and O += PV run on tensor
//     cores (mma.sync m16n8k16, fp32 accumulators); the online softmax keeps a
//     running max and sum per row and rescales the accumulator, so no score
//     matrix ever reaches global memory.
// kAuto picks flash prefill when max_query_len > kSplitKvMaxQueryLen and it
// supports the shape, split-KV otherwise. Forcing a kernel is for tests and
// benchmarks; a forced kernel that does not support the shape is a CHECK.
constexpr int kAttentionSplitTokens = 256;
constexpr int kSplitKvMaxQueryLen = 8;

enum class AttentionKernel { kAuto, kSplitKv, kFlashPrefill };

struct PagedAttentionArgs {
  DType dtype = DType::kBF16;             // q, k_cache, v_cache, out
  const void* q = nullptr;                // [num_tokens, num_q_heads, head_dim]
  const void* k_cache = nullptr;          // [num_blocks, block_size, num_kv_heads, head_dim]
  const void* v_cache = nullptr;          // [num_blocks, block_size, num_kv_heads, head_dim]
  void* out = nullptr;                    // [num_tokens, num_q_heads, head_dim]
  const int32_t* query_start = nullptr;   // [num_seqs + 1], query_start[0] == 0
  const int32_t* seq_lens = nullptr;      // [num_seqs]
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq]
  const uint64_t* tree_mask = nullptr;    // [num_tokens] or nullptr (kernels/ops.h)
  int32_t num_seqs = 0;
  int32_t num_tokens = 0;  // query_start[num_seqs], known to the caller (host)
  int32_t max_blocks_per_seq = 0;
  int32_t num_q_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t block_size = 0;
  float scale = 1.0f;
  // The plan (host): bounds of the device-side lengths. Launch grids depend
  // on these and the sizes above only, so a replayed CUDA graph stays valid
  // while the bounds hold. They must hold: rows of a longer query are not
  // computed, and a longer context can give NaN.
  int32_t max_query_len = 0;  // >= every query length
  int32_t max_seq_len = 0;    // >= every seq_lens[s]
  // Split-KV partial results; PagedAttentionWorkspaceBytes(*this) bytes.
  void* workspace = nullptr;
  int64_t workspace_bytes = 0;
  AttentionKernel kernel = AttentionKernel::kAuto;
};

// The kernel PagedAttention will run for `a` (never kAuto).
AttentionKernel SelectAttentionKernel(const PagedAttentionArgs& a);

// Workspace bytes PagedAttention needs for `a` (0 when no split is needed).
// For a worst-case buffer, ask with the largest num_tokens and max_seq_len.
int64_t PagedAttentionWorkspaceBytes(const PagedAttentionArgs& a);

void PagedAttention(const PagedAttentionArgs& a, cudaStream_t stream);

// ---------------------------------------------------------------------------
// MoE routing as kernels/ops.h MoeRoute (softmax in double, top-k by logit,
// ties to the lower id, optional renormalisation), one thread per token, so
// ids match the CPU exactly for the same logits.
//   router_logits: [n, num_experts] (dtype)   topk_ids: [n, k]   topk_weights: [n, k] (fp32)
void MoeRoute(const void* router_logits, DType dtype, int64_t n, int64_t num_experts, int64_t k,
              bool renormalize, int32_t* topk_ids, float* topk_weights, cudaStream_t stream);

// MoE expert compute as kernels/ops.h MoeExperts: permutation by expert
// (counts, offsets, rows), gather, grouped GEMM over the experts that
// received tokens (gate_up, then SiLU·mul, then down; tensor cores for
// fp16/bf16), weighted combine in token order (fma over j = 0..k-1 from 0).
// Intermediates are stored in `dtype`. The grid does not depend on the
// routing, so the whole op can be captured in a CUDA graph.
// Supports num_experts <= kMoeMaxExperts.
constexpr int64_t kMoeMaxExperts = 1024;

struct MoeExpertsArgs {
  DType dtype = DType::kBF16;           // x, gate_up, down, out, scratch
  const void* x = nullptr;              // [n, hidden]
  const int32_t* topk_ids = nullptr;    // [n, k]
  const float* topk_weights = nullptr;  // [n, k]
  const void* gate_up = nullptr;        // [num_experts, 2 * inter, hidden]
  const void* down = nullptr;           // [num_experts, hidden, inter]
  void* out = nullptr;                  // [n, hidden]
  void* scratch = nullptr;              // MoeScratchBytes(...) bytes
  int32_t* int_scratch = nullptr;       // MoeScratchInts(...) int32s
  int64_t n = 0, k = 0, hidden = 0, inter = 0, num_experts = 0;
};
int64_t MoeScratchBytes(DType dtype, int64_t n, int64_t k, int64_t hidden, int64_t inter);
int64_t MoeScratchInts(int64_t n, int64_t k, int64_t num_experts);
void MoeExperts(const MoeExpertsArgs& a, cudaStream_t stream);

// out[r] = index of the largest value of row r, as kernels/ops.h Argmax (the
// lowest index among equal maxima; NaN never wins; 0 when nothing exceeds
// -inf).   x: [rows, n]   out: [rows]
void Argmax(const void* x, int64_t rows, int64_t n, DType dtype, int32_t* out, cudaStream_t stream);

}  // namespace inferd::kernels::cuda

#endif  // INFERD_KERNELS_CUDA_CUDA_OPS_H_
