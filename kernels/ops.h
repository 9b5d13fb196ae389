// kernels/ops.h — the op set every backend implements.
//
// Pure functions on device buffers: no engine types, no allocation inside an
// op (callers own every buffer), no logging. The CPU implementations in
// kernels/cpu/ are also the reference the CUDA ones (kernels/cuda/) are tested
// against.
//
// Numerics: activations are fp32; weights (Embedding, Matmul, MoeExperts) and
// the KV cache (WriteKvCache, PagedAttention, CopyKvSlots) are stored as a
// runtime DType (kernels/dtype.h: fp32, fp16, bf16) and widened to fp32 in
// registers; accumulation is always fp32. Matmul and MoeExperts also take
// block-quantized weights (kQ8_0, kQ4_0: kernels/quant_blocks.h, k a multiple
// of 32): there x is quantized per row to int8 in blocks of 32 (an fp32 scale
// per block) and each block's dot product is exact in int32, scaled and
// accumulated in fp32 (kernels/cpu/matmul_quant.cc has the exact order); and
// llama.cpp's k-quants (kQ4_K, kQ5_K, kQ6_K: kernels/quant_kblocks.h, k a multiple
// of 256), with x quantized per 256 and exact int32 sums per super-block
// (kernels/cpu/matmul_kquant.cc).
// A bf16/fp16 op computes exactly the
// bits its fp32 instance computes on the widened values (same order), so
// batch invariance holds in every dtype; the one exception is a bf16 Matmul
// on a path with vdpbf16ps (kernels/cpu_isa.h), which rounds x to bf16 and
// has its own fixed order (kernels/cpu/matmul_bf16_dot.h), batch-invariant
// too. Which instructions run is kernels/cpu_isa.h's path. Writing to the cache rounds to
// nearest even. Norm weights and biases are fp32.
// Batch invariance (DESIGN §5): the value computed for one row (token) never
// depends on the other rows in the call, on the row count, or on how the work
// is split across threads. Every reduction has a fixed order per row. Tests
// check this bit for bit.
//
// Threading: ops run on the calling thread plus the process-wide CPU pool
// (common/thread_pool.h); callers must not call ops concurrently from
// several threads (the engine has exactly one step thread).
#ifndef INFERD_KERNELS_OPS_H_
#define INFERD_KERNELS_OPS_H_

#include <cstdint>

#include "kernels/dtype.h"

namespace inferd::kernels {

// dst[i] = src[i] converted: fp32 -> dst_dtype rounds to nearest even;
// src_dtype -> fp32 is exact.   src, dst: [n]
void ConvertFromF32(const float* src, int64_t n, void* dst, DType dst_dtype);
void ConvertToF32(const void* src, DType src_dtype, int64_t n, float* dst);

// out[i, :] = table[ids[i], :]. Every id must be in [0, vocab).
//   table: [vocab, hidden] of table_dtype (a quantized one: hidden whole
//   blocks, rows dequantized)   ids: [n]   out: [n, hidden] fp32
void Embedding(const void* table, int64_t vocab, int64_t hidden, const int32_t* ids, int64_t n,
               float* out, DType table_dtype = DType::kF32);

// out = x · wᵀ (+ bias): a linear layer with PyTorch's weight layout.
//   x: [m, k] fp32   w: [n, k] of w_dtype   bias: [n] fp32 or nullptr   out: [m, n] fp32
// Each out[i, j] is the dot product of x row i and w row j summed in a fixed
// order that depends only on k (not on m, n or threading; for fp32/bf16/fp16
// not on w_dtype either, except bf16 with vdpbf16ps; a quantized w has its
// own arithmetic, see above).
void Matmul(const float* x, const void* w, const float* bias, int64_t m, int64_t n, int64_t k,
            float* out, DType w_dtype = DType::kF32);

// The integer dot product Matmul uses for block-quantized weights on this
// CPU's active path (kernels/cpu_isa.h): "avx512-vnni", "avx-vnni" or "avx2"
// (every form gives the same bits). For start-up summaries and
// benchmarks.
const char* MatmulQuantizedDotIsa();

// Whether Matmul runs m rows of a k-quant w (Q4_K, Q5_K, Q6_K) on vpdpbusd
// zmm strips (AVX512-VNNI and enough rows to pay for unpacking w per call;
// else vpmaddubsw tiles). For benchmarks that rate a kernel against the
// peak of the instruction class it uses.
bool MatmulKQuantUsesVnniStrips(int64_t m);

// The same for Q8_0/Q4_0 w: whether m rows run on vpdpbusd zmm strips
// (AVX512-VNNI and 2 rows or more; else the one-row form or ymm strips).
bool MatmulQuantUsesVnniStrips(int64_t m);

// out[i] = x[i] / sqrt(mean(x[i]^2) + eps) * weight   (Llama RMSNorm)
//   x, out: [n, hidden] (may alias)   weight: [hidden]
void RmsNorm(const float* x, const float* weight, int64_t n, int64_t hidden, float eps, float* out);

// Fused residual add + RMSNorm:
//   residual[i] += x[i];  out[i] = RmsNorm(residual[i])
//   residual, x, out: [n, hidden]   weight: [hidden]
void AddRmsNorm(float* residual, const float* x, const float* weight, int64_t n, int64_t hidden,
                float eps, float* out);

// out = a + b elementwise. a, b, out: [n] (out may alias a or b).
void Add(const float* a, const float* b, int64_t n, float* out);

// RoPE, rotate-half convention (HuggingFace): for each head vector v of size
// head_dim and i < head_dim/2, with angle = pos * inv_freq[i]:
//   v'[i]            = v[i] * cos - v[i + d/2] * sin
//   v'[i + d/2]      = v[i + d/2] * cos + v[i] * sin
// Applied in place to every head of every row.
//   x: [n, num_heads, head_dim]   positions: [n]   inv_freq: [head_dim / 2]
// cos/sin are computed in double from (pos * inv_freq) and rounded to float,
// so results do not depend on a precomputed table's length. The angle itself
// is the float product float(pos) * inv_freq[i] (what HF computes), widened
// to double only for cos/sin.
void Rope(float* x, const int32_t* positions, int64_t n, int64_t num_heads, int64_t head_dim,
          const float* inv_freq);

// out[i, j] = silu(gate_up[i, j]) * gate_up[i, inter + j]   (SwiGLU)
//   gate_up: [n, 2 * inter] (gate first, then up)   out: [n, inter]
void SiluMul(const float* gate_up, int64_t n, int64_t inter, float* out);

// out[i, :] += sigmoid(gate[i]) * y[i, :]   (Qwen2-MoE's gated shared expert)
//   gate: [n]   y, out: [n, hidden]
void SigmoidGatedAdd(const float* gate, const float* y, int64_t n, int64_t hidden, float* out);

// Writes new K/V rows into the paged cache at flat slots
// (slot = block_id * block_size + offset).
//   k, v: [n, num_kv_heads * head_dim] fp32   slot_mapping: [n] (a negative slot skips the row)
//   k_cache, v_cache: [num_blocks, block_size, num_kv_heads * head_dim] of cache_dtype
//   (rounded to nearest even)
void WriteKvCache(const float* k, const float* v, const int32_t* slot_mapping, int64_t n,
                  int64_t kv_dim, void* k_cache, void* v_cache, DType cache_dtype = DType::kF32);

// Varlen paged attention, FlashAttention-style: per (token, query head) one
// pass over the sequence's KV blocks with an online softmax (running max and
// sum, rescaling the accumulator); the score matrix is never materialised.
//
// The batch is `num_seqs` sequences; sequence s owns query rows
// [query_start[s], query_start[s+1]) and has seq_lens[s] tokens of context in
// the cache, already including its new tokens (write them with WriteKvCache
// first). The new tokens are the last q_len = query_start[s+1]-query_start[s]
// positions, so query row r of sequence s sits at position
// seq_lens[s] - q_len + (r - query_start[s]) and, causally, attends to cache
// positions [0, that position]. Position p of sequence s lives at
//   block_tables[s * max_blocks_per_seq + p / block_size], offset p % block_size.
// GQA: query head h reads KV head h / (num_q_heads / num_kv_heads).
// Keys are visited in increasing position order whatever the batch: a
// query's output is bit-identical however its sequence was batched or chunked.
struct PagedAttentionParams {
  const float* q = nullptr;               // [num_tokens, num_q_heads, head_dim]
  const void* k_cache = nullptr;          // [num_blocks, block_size, num_kv_heads, head_dim]
  const void* v_cache = nullptr;          // [num_blocks, block_size, num_kv_heads, head_dim]
  DType kv_dtype = DType::kF32;           // of k_cache and v_cache
  float* out = nullptr;                   // [num_tokens, num_q_heads, head_dim]
  const int32_t* query_start = nullptr;   // [num_seqs + 1], query_start[0] == 0
  const int32_t* seq_lens = nullptr;      // [num_seqs]
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq]
  int32_t num_seqs = 0;
  int32_t max_blocks_per_seq = 0;
  int32_t num_q_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t block_size = 0;
  float scale = 1.0f;  // usually 1/sqrt(head_dim)
  // Speculative tree verification (DESIGN §6); nullptr means causal for all.
  // Otherwise one word per query row. For a sequence with q_len <= 64, bit j
  // of row r's word says that row r attends to the sequence's new token j
  // (cache position base + j, base = seq_len - q_len); every row also sees
  // the older context [0, base). The words must describe a tree in
  // topological order: bit r is set, no bit above r is set, and for each set
  // bit j, row j's word is a subset of row r's. Row r is treated as if its
  // visible new tokens had been appended one by one after the context: its
  // logical position is base + popcount(word) - 1, and keys are visited in
  // logical order (context, then set bits in increasing j). So a node on a
  // tree path computes exactly what plain decoding of that path computes.
  // A causal row's word is (2 << r) - 1. Sequences with q_len > 64 are always
  // causal; their words are not read.
  const uint64_t* tree_mask = nullptr;  // [num_tokens] or nullptr
};
void PagedAttention(const PagedAttentionParams& p);

// Moves cache rows between flat slots, in order: for i = 0..n-1,
//   k_cache[dst[i]] = k_cache[src[i]]; v_cache[dst[i]] = v_cache[src[i]].
// Slots must be non-negative. After tree verification the accepted path's rows move to consecutive
// positions. Sequential semantics: a later move sees earlier ones.
//   src_slots, dst_slots: [n]   k_cache, v_cache: [num_slots, kv_dim] of cache_dtype
void CopyKvSlots(const int32_t* src_slots, const int32_t* dst_slots, int64_t n, int64_t kv_dim,
                 void* k_cache, void* v_cache, DType cache_dtype = DType::kF32);

// MoE routing: softmax over each token's router logits, then the k experts
// with the highest probability (ties: the lower expert id first), in
// descending order of probability. weights = those probabilities, divided by
// their sum when `renormalize` (Mixtral; Qwen when norm_topk_prob).
//   router_logits: [n, num_experts]   topk_ids: [n, k]   topk_weights: [n, k]
// The softmax is max-subtracted with exp and sums in double (experts summed in
// id order, the renormalising sum in slot order), rounded to float once at
// the end. Experts are ranked by logit, which is the exact probability order
// (equal logits are the ties). Requires 1 <= k <= num_experts, no NaN logits.
void MoeRoute(const float* router_logits, int64_t n, int64_t num_experts, int64_t k,
              bool renormalize, int32_t* topk_ids, float* topk_weights);

// Scratch MoeExperts needs, in floats and in int32s.
int64_t MoeScratchFloats(int64_t n, int64_t k, int64_t hidden, int64_t inter);
int64_t MoeScratchInts(int64_t n, int64_t k, int64_t num_experts);

// MoE expert compute (SwiGLU experts): permute token slots by expert
// (counts, offsets, gather), run each expert that received tokens over its
// rows only (experts with no tokens cost nothing), weighted combine back in
// token order:
//   out[t] = sum over j = 0..k-1, in that order, of topk_weights[t, j] * E_{id}(x[t])
//   E_e(v) = down_e · (silu(gate_e · v) * (up_e · v))
// A token's result depends only on its own row, ids and weights.
// Combine order: acc = 0.0f, then acc = fma(topk_weights[t, j], E(x[t])[h],
// acc) for j = 0..k-1. Each E row comes from Matmul/SiluMul, whose per-row
// arithmetic does not depend on the other rows.
struct MoeExpertsParams {
  const float* x = nullptr;             // [n, hidden]
  const int32_t* topk_ids = nullptr;    // [n, k], each in [0, num_experts)
  const float* topk_weights = nullptr;  // [n, k]
  const void* gate_up = nullptr;        // [num_experts, 2 * inter, hidden]: gate rows, then up rows
  const void* down = nullptr;           // [num_experts, hidden, inter]
  DType weight_dtype = DType::kF32;     // of gate_up and down
  float* out = nullptr;                 // [n, hidden]
  float* scratch = nullptr;             // MoeScratchFloats(...) floats
  int32_t* int_scratch = nullptr;       // MoeScratchInts(...) int32s
  int64_t n = 0, k = 0, hidden = 0, inter = 0, num_experts = 0;
};
void MoeExperts(const MoeExpertsParams& p);

// Index of the largest value in x[0, n): the lowest index among equal maxima;
// NaN is never the maximum; 0 when no element is greater than -inf (all -inf
// or NaN). Logits post-processing for greedy sampling.
//   x: [n]
int64_t Argmax(const float* x, int64_t n);

}  // namespace inferd::kernels

#endif  // INFERD_KERNELS_OPS_H_
