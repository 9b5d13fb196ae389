// kernels/cuda/split_kv_attention.cu — paged attention for short query
// lengths (decode, speculative verification): split-KV ("FlashDecoding").
//
// Work split (fixed: it depends on the sequence's context length only):
//   * a sequence's positions are cut into splits of kAttentionSplitTokens;
//   * one block of kWarps warps per (split, KV head, group of kRows query
//     rows); a query row is (new token r, query head g of this KV head's
//     group), rows numbered r * group + g, so a block shares each K/V row it
//     loads among up to kRows (token, head) pairs (GQA and q_len > 1);
//   * inside the block, warp w takes chunks of kKeys consecutive keys,
//     chunks w, w + kWarps, ... of the split; a lane holds a slice of the
//     head dimension, so q·k is a lane-local partial dot product plus an xor
//     butterfly (every lane gets the same bits).
// Per row, each warp runs an online softmax in the log2 domain (running max m,
// running sum l, accumulator rescaled by exp2(m_old - m_new)); the block then
// merges its warps in warp order. With one split the block writes the
// normalised output; otherwise it writes (m, l, unnormalised acc) to the
// workspace and SplitKvMergeKernel combines the splits in increasing order.
// Nothing depends on timing or on other sequences: results are
// deterministic. Masked scores are -inf; a max of -inf is replaced by 0 as
// the exp2 reference, so fully masked chunks contribute exactly 0 (no NaN).
#include <cmath>
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"
#include "kernels/cuda/reduce.cuh"

namespace inferd::kernels::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRows = 4;  // query rows per block
constexpr int kMergeThreads = 128;

// This lane's slice of a head vector: with kVec > 1 (and kChunks == 1, head_dim
// == 32 * kVec) the kVec contiguous elements [lane * kVec, +kVec) in one
// vector load; with kVec == 1 the elements lane + 32 * c, zero past head_dim.
template <typename T, int kVec, int kChunks>
__device__ __forceinline__ void LoadSlice(const T* row, int head_dim, int lane,
                                          float (&out)[kVec * kChunks]) {
  if constexpr (kVec > 1) {
    static_assert(kChunks == 1, "vector slices cover the head in one chunk");
    LoadAsFloat<T, kVec>(row + lane * kVec, out);
  } else {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int e = lane + 32 * c;
      out[c] = e < head_dim ? ToFloat(row[e]) : 0.0f;
    }
  }
}

// Head-dimension index of element i of this lane's slice (see LoadSlice).
template <int kVec>
__device__ __forceinline__ int SliceDim(int lane, int i) {
  return kVec > 1 ? lane * kVec + i : lane + 32 * i;
}

template <typename T, int kVec, int kChunks>
__global__ void __launch_bounds__(kThreads)
    SplitKvKernel(const PagedAttentionArgs a, int max_splits, float* __restrict__ ws_acc,
                  float* __restrict__ ws_ml) {
  constexpr int kPer = kVec * kChunks;      // head dims per lane
  constexpr int kKeys = kPer <= 4 ? 8 : 4;  // keys per warp per step
  constexpr int kMaxDim = 32 * kPer;
  __shared__ float sm_acc[kWarps][kRows][kMaxDim];
  __shared__ float sm_m[kWarps][kRows];
  __shared__ float sm_l[kWarps][kRows];
  __shared__ int32_t sm_blocks[kAttentionSplitTokens];  // the split's block table entries

  const int seq = blockIdx.z;
  const int kvh = blockIdx.y;
  const int split = blockIdx.x % max_splits;
  const int row0 = (blockIdx.x / max_splits) * kRows;
  const int q_begin = a.query_start[seq];
  const int q_len = a.query_start[seq + 1] - q_begin;
  const int seq_len = a.seq_lens[seq];
  if (q_len <= 0 || q_len > seq_len) return;
  const int group = a.num_q_heads / a.num_kv_heads;
  const int total_rows = q_len * group;
  if (row0 >= total_rows) return;
  const int num_splits = (seq_len + kAttentionSplitTokens - 1) / kAttentionSplitTokens;
  if (split >= num_splits) return;
  const int rows = min(kRows, total_rows - row0);
  const int base = seq_len - q_len;
  const bool tree = a.tree_mask != nullptr && q_len <= 64;
  const int d = a.head_dim;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;

  const T* q = static_cast<const T*>(a.q);
  const float qscale = a.scale * kLog2e;
  int qpos[kRows];
  uint64_t word[kRows];
  float qf[kRows][kPer];
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int rho = row0 + min(i, rows - 1);
    const int r = rho / group;
    const int head = kvh * group + rho % group;
    const int token = q_begin + r;
    qpos[i] = base + r;
    word[i] = tree ? a.tree_mask[token] : 0ull;
    LoadSlice<T, kVec, kChunks>(q + (static_cast<int64_t>(token) * a.num_q_heads + head) * d, d,
                                lane, qf[i]);
#pragma unroll
    for (int e = 0; e < kPer; ++e) qf[i][e] *= qscale;
  }

  // Keys this block may need: its split, cut at the last row's position.
  const int last_qpos = base + (row0 + rows - 1) / group;
  const int key_begin = split * kAttentionSplitTokens;
  const int key_end = min(min(seq_len, key_begin + kAttentionSplitTokens), last_qpos + 1);

  // The split's block table entries, once per block (-1: none), so a key's
  // slot costs a shared-memory read instead of a dependent global load.
  const int bs = a.block_size;
  const int first_blk = key_begin / bs;
  const int num_blk = key_end > key_begin ? (key_end - 1) / bs - first_blk + 1 : 0;
  for (int i = threadIdx.x; i < num_blk; i += kThreads) {
    const int blk = first_blk + i;
    sm_blocks[i] = blk < a.max_blocks_per_seq
                       ? a.block_tables[static_cast<int64_t>(seq) * a.max_blocks_per_seq + blk]
                       : -1;
  }
  __syncthreads();

  float m[kRows], l[kRows], acc[kRows][kPer];
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
#pragma unroll
    for (int e = 0; e < kPer; ++e) acc[i][e] = 0.0f;
  }

  const T* kc = static_cast<const T*>(a.k_cache);
  const T* vc = static_cast<const T*>(a.v_cache);
  const int64_t slot_stride = static_cast<int64_t>(a.num_kv_heads) * d;
  const int64_t head_off = static_cast<int64_t>(kvh) * d;
  for (int k0 = key_begin + warp * kKeys; k0 < key_end; k0 += kWarps * kKeys) {
    float kf[kKeys][kPer], vf[kKeys][kPer];
    bool valid[kKeys];
#pragma unroll
    for (int j = 0; j < kKeys; ++j) {
      const int key = k0 + j;
      const int32_t block = key < key_end ? sm_blocks[key / bs - first_blk] : -1;
      const int64_t slot = block >= 0 ? static_cast<int64_t>(block) * bs + key % bs : -1;
      valid[j] = slot >= 0;
      if (valid[j]) {
        LoadSlice<T, kVec, kChunks>(kc + slot * slot_stride + head_off, d, lane, kf[j]);
        LoadSlice<T, kVec, kChunks>(vc + slot * slot_stride + head_off, d, lane, vf[j]);
      } else {
#pragma unroll
        for (int e = 0; e < kPer; ++e) kf[j][e] = vf[j][e] = 0.0f;
      }
    }
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      if (i >= rows) break;  // warp-uniform
      float s[kKeys];
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < kKeys; ++j) {
        float part = 0.0f;
#pragma unroll
        for (int e = 0; e < kPer; ++e) part = fmaf(qf[i][e], kf[j][e], part);
        s[j] = WarpSum(part);
        if (!valid[j] || !KeyVisible(k0 + j, qpos[i], base, tree, word[i])) s[j] = -INFINITY;
        mx = fmaxf(mx, s[j]);
      }
      const float m_new = fmaxf(m[i], mx);
      const float m_ref = m_new == -INFINITY ? 0.0f : m_new;
      const float corr = exp2f(m[i] - m_ref);
      float psum = 0.0f;
#pragma unroll
      for (int j = 0; j < kKeys; ++j) {
        s[j] = exp2f(s[j] - m_ref);
        psum += s[j];
      }
      l[i] = l[i] * corr + psum;
#pragma unroll
      for (int e = 0; e < kPer; ++e) {
        float x = acc[i][e] * corr;
#pragma unroll
        for (int j = 0; j < kKeys; ++j) x = fmaf(s[j], vf[j][e], x);
        acc[i][e] = x;
      }
      m[i] = m_new;
    }
  }

  // Merge the warps (in warp order) per row.
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    if (i >= rows) break;
#pragma unroll
    for (int e = 0; e < kPer; ++e) {
      const int dim = SliceDim<kVec>(lane, e);
      if (dim < d) sm_acc[warp][i][dim] = acc[i][e];
    }
    if (lane == 0) {
      sm_m[warp][i] = m[i];
      sm_l[warp][i] = l[i];
    }
  }
  __syncthreads();
  T* out = static_cast<T*>(a.out);
  for (int i = 0; i < rows; ++i) {
    const int rho = row0 + i;
    const int token = q_begin + rho / group;
    const int head = kvh * group + rho % group;
    float big = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) big = fmaxf(big, sm_m[w][i]);
    const float ref = big == -INFINITY ? 0.0f : big;
    float wscale[kWarps];
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      wscale[w] = exp2f(sm_m[w][i] - ref);
      sum = fmaf(sm_l[w][i], wscale[w], sum);
    }
    const int64_t item = static_cast<int64_t>(token) * a.num_q_heads + head;
    for (int e = threadIdx.x; e < d; e += kThreads) {
      float x = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) x = fmaf(sm_acc[w][i][e], wscale[w], x);
      if (num_splits == 1) {
        out[item * d + e] = FromFloat<T>(sum > 0.0f ? x / sum : 0.0f);
      } else {
        ws_acc[(item * max_splits + split) * d + e] = x;
      }
    }
    if (num_splits > 1 && threadIdx.x == 0) {
      ws_ml[(item * max_splits + split) * 2] = big;
      ws_ml[(item * max_splits + split) * 2 + 1] = sum;
    }
  }
}

// One block per (token, query head): combines the token's splits in
// increasing order. Tokens of single-split sequences were written directly.
template <typename T>
__global__ void __launch_bounds__(kMergeThreads)
    SplitKvMergeKernel(const PagedAttentionArgs a, int max_splits, const float* __restrict__ ws_acc,
                       const float* __restrict__ ws_ml) {
  const int64_t item = blockIdx.x;  // token * num_q_heads + head
  const int token = static_cast<int>(item / a.num_q_heads);
  // The sequence holding `token`: the last s with query_start[s] <= token.
  int lo = 0, hi = a.num_seqs;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (a.query_start[mid] <= token) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  const int q_len = a.query_start[lo + 1] - a.query_start[lo];
  const int seq_len = a.seq_lens[lo];
  if (q_len <= 0 || q_len > seq_len) return;
  const int num_splits = (seq_len + kAttentionSplitTokens - 1) / kAttentionSplitTokens;
  if (num_splits <= 1) return;
  const int d = a.head_dim;
  T* out = static_cast<T*>(a.out) + item * d;
  if (num_splits > max_splits) {  // seq_len beyond the plan's max_seq_len: a caller bug
    for (int e = threadIdx.x; e < d; e += blockDim.x) out[e] = FromFloat<T>(NAN);
    return;
  }
  const float* ml = ws_ml + item * max_splits * 2;
  float big = -INFINITY;
  for (int s = 0; s < num_splits; ++s) big = fmaxf(big, ml[2 * s]);
  const float ref = big == -INFINITY ? 0.0f : big;
  float sum = 0.0f;
  for (int s = 0; s < num_splits; ++s) sum = fmaf(ml[2 * s + 1], exp2f(ml[2 * s] - ref), sum);
  const float* acc = ws_acc + item * max_splits * d;
  for (int e = threadIdx.x; e < d; e += blockDim.x) {
    float x = 0.0f;
    for (int s = 0; s < num_splits; ++s) x = fmaf(acc[s * d + e], exp2f(ml[2 * s] - ref), x);
    out[e] = FromFloat<T>(sum > 0.0f ? x / sum : 0.0f);
  }
}

bool Aligned(const void* p, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0;
}

template <typename T, int kVec, int kChunks>
void Launch(const PagedAttentionArgs& a, int max_splits, float* ws_acc, float* ws_ml,
            cudaStream_t stream) {
  const int group = a.num_q_heads / a.num_kv_heads;
  const int64_t row_chunks = (static_cast<int64_t>(a.max_query_len) * group + kRows - 1) / kRows;
  const int64_t gx = row_chunks * max_splits;
  INFERD_CHECK_LE(gx, 0x7fffffffLL) << "split-KV grid";
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(a.num_kv_heads),
                  static_cast<unsigned>(a.num_seqs));
  SplitKvKernel<T, kVec, kChunks><<<grid, kThreads, 0, stream>>>(a, max_splits, ws_acc, ws_ml);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace

int SplitKvMaxSplits(const PagedAttentionArgs& a) {
  return (a.max_seq_len + kAttentionSplitTokens - 1) / kAttentionSplitTokens;
}

int64_t SplitKvWorkspaceBytes(const PagedAttentionArgs& a) {
  const int64_t splits = SplitKvMaxSplits(a);
  if (splits <= 1) return 0;
  return static_cast<int64_t>(sizeof(float)) * a.num_tokens * a.num_q_heads * splits *
         (a.head_dim + 2);
}

void LaunchSplitKv(const PagedAttentionArgs& a, cudaStream_t stream) {
  const int max_splits = SplitKvMaxSplits(a);
  float* ws_acc = nullptr;
  float* ws_ml = nullptr;
  if (max_splits > 1) {
    INFERD_CHECK(a.workspace != nullptr && a.workspace_bytes >= SplitKvWorkspaceBytes(a))
        << "split-KV attention needs " << SplitKvWorkspaceBytes(a) << " workspace bytes, got "
        << a.workspace_bytes;
    ws_acc = static_cast<float*>(a.workspace);
    ws_ml = ws_acc + static_cast<int64_t>(a.num_tokens) * a.num_q_heads * max_splits * a.head_dim;
  }
  const int d = a.head_dim;
  const int64_t esize = DTypeSize(a.dtype);
  DispatchDType(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    // A vector slice when the head is 32 lanes x (2, 4 or 8) elements and
    // every row start is aligned for it.
    const int vec = d % 32 == 0 ? d / 32 : 0;
    const int64_t vec_bytes = vec * esize < 16 ? vec * esize : 16;
    const bool aligned = vec > 1 && Aligned(a.q, vec_bytes) && Aligned(a.k_cache, vec_bytes) &&
                         Aligned(a.v_cache, vec_bytes);
    if (aligned && vec == 2) {
      Launch<T, 2, 1>(a, max_splits, ws_acc, ws_ml, stream);
    } else if (aligned && vec == 4) {
      Launch<T, 4, 1>(a, max_splits, ws_acc, ws_ml, stream);
    } else if (aligned && vec == 8) {
      Launch<T, 8, 1>(a, max_splits, ws_acc, ws_ml, stream);
    } else if (d <= 32) {
      Launch<T, 1, 1>(a, max_splits, ws_acc, ws_ml, stream);
    } else if (d <= 64) {
      Launch<T, 1, 2>(a, max_splits, ws_acc, ws_ml, stream);
    } else if (d <= 128) {
      Launch<T, 1, 4>(a, max_splits, ws_acc, ws_ml, stream);
    } else {
      Launch<T, 1, 8>(a, max_splits, ws_acc, ws_ml, stream);
    }
    if (max_splits > 1) {
      const int64_t items = static_cast<int64_t>(a.num_tokens) * a.num_q_heads;
      INFERD_CHECK_LE(items, 0x7fffffffLL) << "split-KV merge grid";
      SplitKvMergeKernel<T><<<static_cast<unsigned>(items), kMergeThreads, 0, stream>>>(
          a, max_splits, ws_acc, ws_ml);
      CUDA_CHECK(cudaGetLastError());
    }
  });
}

}  // namespace inferd::kernels::cuda
