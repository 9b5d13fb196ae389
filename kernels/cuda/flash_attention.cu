// kernels/cuda/flash_attention.cu — paged attention for prefill chunks:
// FlashAttention-2 on tensor cores (fp16/bf16, head_dim 64 or 128).
//
// One block of 4 warps per (tile of kBlockM = 64 query rows, query head,
// sequence). The block stages its Q tile and then K/V tiles of kBlockN = 64
// keys in shared memory with cp.async (16-byte chunks gathered straight from
// the paged cache through the block table; positions past the chunk's last
// visible key are zero-filled), double-buffered so the next K/V tile loads
// while the current one is computed. Warp w owns query rows [16w, 16w + 16):
//   S = Q Kᵀ        mma.sync m16n8k16 (A = Q fragments held in registers,
//                   B = K via ldmatrix), fp32 accumulators
//   mask            causal (key <= the row's position) and the optional tree
//                   mask, masked scores -inf; scores kept in the log2 domain
//   online softmax  per row: m' = max(m, rowmax S), l = l * 2^(m - m') +
//                   Σ 2^(S - m'), O *= 2^(m - m'); a max of -inf uses 0 as the
//                   reference, so fully masked rows stay exactly 0
//   O += P V        P rounded to fp16/bf16 in registers (the accumulator
//                   layout of S is the A-operand layout of P), V via
//                   ldmatrix.trans
// and finally O / l, rounded to dtype. Scores never leave registers.
//
// Fragment layouts (PTX ISA, mma.m16n8k16, lane = 4 * g + t):
//   A (16x16): a0 = (row g, cols 2t, 2t+1), a1 = (row g+8, cols 2t, 2t+1),
//              a2 = (row g, cols 2t+8, 2t+9), a3 = (row g+8, cols 2t+8, 2t+9)
//   B (16x8):  b0 = (rows 2t, 2t+1; col g), b1 = (rows 2t+8, 2t+9; col g)
//   C (16x8):  c0, c1 = (row g, cols 2t, 2t+1); c2, c3 = (row g+8, same cols)
// ldmatrix.x4: lanes 8i..8i+7 give the row addresses of 8x8 matrix i; lane
// 4g + t receives (row g, cols 2t, 2t+1) of each matrix, or with .trans
// (rows 2t, 2t+1; col g).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

#include "common/check.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"
#include "kernels/cuda/reduce.cuh"

namespace inferd::kernels::cuda {
namespace {

constexpr int kBlockM = 64;  // query rows per block (4 warps x 16)
constexpr int kBlockN = 64;  // keys per K/V tile
constexpr int kThreads = 128;
constexpr int kPad = 8;  // elements per shared row: 16-byte aligned rows, no bank conflicts

template <int kHeadDim>
constexpr int SmemBytes() {
  return (kBlockM + 4 * kBlockN) * (kHeadDim + kPad) * 2;  // Q + 2 stages of K and V
}

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, asynchronously; zero-filled when !valid (src
// is then not read).
__device__ __forceinline__ void CpAsync16(uint32_t dst, const void* src, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void CpAsyncCommit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
__device__ __forceinline__ void CpAsyncWaitAll() {
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
}

__device__ __forceinline__ void LdMatrixX4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}
__device__ __forceinline__ void LdMatrixX4Trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

// c += a · b on tensor cores, fp32 accumulators.
__device__ __forceinline__ void Mma(__half, float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                    uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void Mma(__nv_bfloat16, float (&c)[4], const uint32_t (&a)[4],
                                    uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as one register of two 16-bit values (lo in the low half: the
// lower column index, as in memory).
__device__ __forceinline__ uint32_t Pack(__half, float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  uint32_t u;
  memcpy(&u, &h, sizeof(u));
  return u;
}
__device__ __forceinline__ uint32_t Pack(__nv_bfloat16, float lo, float hi) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  uint32_t u;
  memcpy(&u, &h, sizeof(u));
  return u;
}

template <typename T, int kHeadDim>
__device__ __forceinline__ void LoadKvTile(const PagedAttentionArgs& a, int seq, int kvh, int tile,
                                           int kv_end, T* k_s, T* v_s) {
  constexpr int kStride = kHeadDim + kPad;
  constexpr int kChunks = kHeadDim / 8;  // 16-byte chunks per row
  const T* kc = static_cast<const T*>(a.k_cache);
  const T* vc = static_cast<const T*>(a.v_cache);
  const int64_t slot_stride = static_cast<int64_t>(a.num_kv_heads) * kHeadDim;
  for (int c = threadIdx.x; c < kBlockN * kChunks; c += kThreads) {
    const int row = c / kChunks;
    const int ch = c % kChunks;
    const int key = tile * kBlockN + row;
    const int64_t slot = key < kv_end ? SlotOf(a, seq, key) : -1;
    const bool valid = slot >= 0;
    const int64_t off =
        valid ? slot * slot_stride + static_cast<int64_t>(kvh) * kHeadDim + ch * 8 : 0;
    CpAsync16(SmemAddr(k_s + row * kStride + ch * 8), kc + off, valid);
    CpAsync16(SmemAddr(v_s + row * kStride + ch * 8), vc + off, valid);
  }
}

template <typename T, int kHeadDim>
__global__ void __launch_bounds__(kThreads) FlashPrefillKernel(const PagedAttentionArgs a) {
  constexpr int kStride = kHeadDim + kPad;  // shared row stride (elements)
  constexpr int kTileElems = kBlockN * kStride;
  constexpr int kChunks = kHeadDim / 8;
  constexpr int kNTiles = kBlockN / 8;    // S: 8-key column tiles per warp
  constexpr int kDTiles = kHeadDim / 8;   // O: 8-dim column tiles per warp
  constexpr int kKSteps = kHeadDim / 16;  // k-steps of Q Kᵀ
  constexpr int kPSteps = kBlockN / 16;   // k-steps of P V
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* q_s = reinterpret_cast<T*>(smem_raw);  // [kBlockM][kStride]
  T* k_s = q_s + kBlockM * kStride;         // [2][kBlockN][kStride]
  T* v_s = k_s + 2 * kTileElems;            // [2][kBlockN][kStride]

  const int seq = blockIdx.z;
  const int head = blockIdx.y;
  const int m0 = (gridDim.x - 1 - blockIdx.x) * kBlockM;  // the longest tiles start first
  const int q_begin = a.query_start[seq];
  const int q_len = a.query_start[seq + 1] - q_begin;
  const int seq_len = a.seq_lens[seq];
  if (m0 >= q_len || q_len > seq_len) return;
  const int base = seq_len - q_len;
  const int kvh = head / (a.num_q_heads / a.num_kv_heads);
  const int rows_in_tile = min(kBlockM, q_len - m0);
  const int kv_end = base + m0 + rows_in_tile;  // keys [0, kv_end) can be visible
  const int n_tiles = (kv_end + kBlockN - 1) / kBlockN;
  const bool tree = a.tree_mask != nullptr && q_len <= 64;
  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int g = lane / 4;
  const int t = lane % 4;

  // Q tile, zero-filled past the chunk; then K/V tile 0.
  const T* q = static_cast<const T*>(a.q);
  for (int c = tid; c < kBlockM * kChunks; c += kThreads) {
    const int row = c / kChunks;
    const int ch = c % kChunks;
    const bool valid = row < rows_in_tile;
    const int64_t off =
        valid
            ? (static_cast<int64_t>(q_begin + m0 + row) * a.num_q_heads + head) * kHeadDim + ch * 8
            : 0;
    CpAsync16(SmemAddr(q_s + row * kStride + ch * 8), q + off, valid);
  }
  LoadKvTile<T, kHeadDim>(a, seq, kvh, 0, kv_end, k_s, v_s);
  CpAsyncCommit();

  // This thread's two rows: h = 0 -> row 16 * warp + g, h = 1 -> 8 rows below.
  int qpos[2];
  uint64_t word[2];
  bool row_ok[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int r = m0 + 16 * warp + g + 8 * h;  // query row within the sequence's chunk
    row_ok[h] = r < q_len;
    qpos[h] = base + r;
    word[h] = tree && row_ok[h] ? a.tree_mask[q_begin + r] : 0ull;
  }
  float row_max[2] = {-INFINITY, -INFINITY};
  float row_sum[2] = {0.0f, 0.0f};
  float o[kDTiles][4];
#pragma unroll
  for (int nd = 0; nd < kDTiles; ++nd) o[nd][0] = o[nd][1] = o[nd][2] = o[nd][3] = 0.0f;
  uint32_t qa[kKSteps][4];
  const float scale_log2 = a.scale * kLog2e;

  for (int tile = 0; tile < n_tiles; ++tile) {
    CpAsyncWaitAll();
    __syncthreads();
    if (tile == 0) {
#pragma unroll
      for (int kk = 0; kk < kKSteps; ++kk) {
        const int row = 16 * warp + (lane & 7) + 8 * ((lane >> 3) & 1);
        const int col = 16 * kk + 8 * (lane >> 4);
        LdMatrixX4(qa[kk], SmemAddr(q_s + row * kStride + col));
      }
    }
    if (tile + 1 < n_tiles) {
      const int stage = (tile + 1) & 1;
      LoadKvTile<T, kHeadDim>(a, seq, kvh, tile + 1, kv_end, k_s + stage * kTileElems,
                              v_s + stage * kTileElems);
    }
    CpAsyncCommit();
    const T* ks = k_s + (tile & 1) * kTileElems;
    const T* vs = v_s + (tile & 1) * kTileElems;

    // S = Q Kᵀ: 16 rows x 64 keys per warp.
    float s[kNTiles][4];
#pragma unroll
    for (int n = 0; n < kNTiles; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk) {
#pragma unroll
      for (int n = 0; n < kNTiles; n += 2) {
        // Matrices: keys 8n.. (dims 16kk, 16kk+8), keys 8(n+1).. (same dims).
        uint32_t b[4];
        const int key = 8 * n + (lane & 7) + 8 * (lane >> 4);
        const int col = 16 * kk + 8 * ((lane >> 3) & 1);
        LdMatrixX4(b, SmemAddr(ks + key * kStride + col));
        Mma(T{}, s[n], qa[kk], b[0], b[1]);
        Mma(T{}, s[n + 1], qa[kk], b[2], b[3]);
      }
    }

    // Mask, scale to the log2 domain, online softmax.
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kNTiles; ++n) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int h = c >> 1;
        const int key = tile * kBlockN + 8 * n + 2 * t + (c & 1);
        const bool vis = row_ok[h] && KeyVisible(key, qpos[h], base, tree, word[h]);
        s[n][c] = vis ? s[n][c] * scale_log2 : -INFINITY;
        mx[h] = fmaxf(mx[h], s[n][c]);
      }
    }
    float ref[2], corr[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      // The 4 lanes of a quad hold the same two rows.
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(kFullWarpMask, mx[h], 1));
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(kFullWarpMask, mx[h], 2));
      const float m_new = fmaxf(row_max[h], mx[h]);
      ref[h] = m_new == -INFINITY ? 0.0f : m_new;
      corr[h] = exp2f(row_max[h] - ref[h]);
      row_max[h] = m_new;
    }
    float psum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int n = 0; n < kNTiles; ++n) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        s[n][c] = exp2f(s[n][c] - ref[c >> 1]);
        psum[c >> 1] += s[n][c];
      }
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) row_sum[h] = row_sum[h] * corr[h] + psum[h];
#pragma unroll
    for (int nd = 0; nd < kDTiles; ++nd) {
      o[nd][0] *= corr[0];
      o[nd][1] *= corr[0];
      o[nd][2] *= corr[1];
      o[nd][3] *= corr[1];
    }

    // O += P V: the S accumulators of key tiles 2kk and 2kk+1 are the A
    // fragment of P for keys [16kk, 16kk + 16).
#pragma unroll
    for (int kk = 0; kk < kPSteps; ++kk) {
      uint32_t pa[4];
      pa[0] = Pack(T{}, s[2 * kk][0], s[2 * kk][1]);
      pa[1] = Pack(T{}, s[2 * kk][2], s[2 * kk][3]);
      pa[2] = Pack(T{}, s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pa[3] = Pack(T{}, s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int nd = 0; nd < kDTiles; nd += 2) {
        // Matrices (transposed): keys 16kk.. and 16kk+8.. of dims 8nd, then of dims 8(nd+1).
        uint32_t b[4];
        const int key = 16 * kk + (lane & 7) + 8 * ((lane >> 3) & 1);
        const int col = 8 * nd + 8 * (lane >> 4);
        LdMatrixX4Trans(b, SmemAddr(vs + key * kStride + col));
        Mma(T{}, o[nd], pa, b[0], b[1]);
        Mma(T{}, o[nd + 1], pa, b[2], b[3]);
      }
    }
    __syncthreads();  // the next iteration refills the other stage; this one two tiles later
  }

  // O / l, rounded to dtype; two adjacent columns per store.
  T* out = static_cast<T*>(a.out);
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float sum = row_sum[h];
    sum += __shfl_xor_sync(kFullWarpMask, sum, 1);
    sum += __shfl_xor_sync(kFullWarpMask, sum, 2);
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    if (!row_ok[h]) continue;
    const int r = m0 + 16 * warp + g + 8 * h;
    T* dst = out + (static_cast<int64_t>(q_begin + r) * a.num_q_heads + head) * kHeadDim;
#pragma unroll
    for (int nd = 0; nd < kDTiles; ++nd) {
      const uint32_t packed = Pack(T{}, o[nd][2 * h] * inv, o[nd][2 * h + 1] * inv);
      memcpy(dst + 8 * nd + 2 * t, &packed, sizeof(packed));
    }
  }
}

template <typename T, int kHeadDim>
void Launch(const PagedAttentionArgs& a, cudaStream_t stream) {
  constexpr int kSmem = SmemBytes<kHeadDim>();
  static const bool configured = [] {
    CUDA_CHECK(cudaFuncSetAttribute(FlashPrefillKernel<T, kHeadDim>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
    return true;
  }();
  (void)configured;
  const dim3 grid(static_cast<unsigned>((a.max_query_len + kBlockM - 1) / kBlockM),
                  static_cast<unsigned>(a.num_q_heads), static_cast<unsigned>(a.num_seqs));
  FlashPrefillKernel<T, kHeadDim><<<grid, kThreads, kSmem, stream>>>(a);
  CUDA_CHECK(cudaGetLastError());
}

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool FlashPrefillSupports(const PagedAttentionArgs& a) {
  return a.dtype != DType::kF32 && (a.head_dim == 64 || a.head_dim == 128) && Aligned16(a.q) &&
         Aligned16(a.k_cache) && Aligned16(a.v_cache) &&
         reinterpret_cast<uintptr_t>(a.out) % 4 == 0;
}

void LaunchFlashPrefill(const PagedAttentionArgs& a, cudaStream_t stream) {
  INFERD_CHECK(FlashPrefillSupports(a)) << "flash prefill: fp16/bf16, head_dim 64 or 128";
  if (a.dtype == DType::kF16) {
    if (a.head_dim == 64) {
      Launch<__half, 64>(a, stream);
    } else {
      Launch<__half, 128>(a, stream);
    }
  } else {
    if (a.head_dim == 64) {
      Launch<__nv_bfloat16, 64>(a, stream);
    } else {
      Launch<__nv_bfloat16, 128>(a, stream);
    }
  }
}

}  // namespace inferd::kernels::cuda
