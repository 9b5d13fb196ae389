// kernels/cpu/attention.cc — PagedAttention: varlen, paged KV, causal or tree
// mask, GQA, FlashAttention-style online softmax; scores are never
// materialised beyond one tile of kTile keys.
//
// Work item = (query token, KV head, slice of that KV head's query heads): an
// item runs its heads together, so each K/V row is loaded once per slice.
// Items are split across threads; each head's arithmetic is fixed by (query
// position, head), so neither the slicing nor the split changes a bit.
//
// Keys are indexed LOGICALLY. A causal row at position pos sees logical keys
// [0, pos], key L at cache position L. A tree row (tree_mask word w, sequence
// with q_len <= 64 new tokens after base = seq_len - q_len older ones) has
// logical position pos = base + popcount(w) - 1: key L < base is cache
// position L, key base + i is cache position base + (the i-th set bit of w).
// Everything below runs on logical indices only, so a tree row computes the
// same bits as a causal row whose cache holds its keys contiguously (plain
// decoding of its path). Causal rows (no mask, a q_len > 64 sequence, or
// w == (2 << r) - 1) take the contiguous instance, which never looks at w.
// A tree row's w must have bit r set and none above (INFERD_CHECK: anything
// else would read past the sequence); the tree's subset property is the
// caller's promise and not needed here (each row only reads its own word).
//
// Per query head, keys are visited in tiles of kTile logical positions
// aligned to absolute multiples of kTile ([0, 16), [16, 32), ... cut at the
// query's own logical position), in increasing order:
//   s_j   = simd-dot(q, k_j) * scale        (simd.h lane order; 8 keys at once)
//   m'    = max(m, max_j s_j)
//   p_j   = exp(s_j - m')                   (simd::Exp; lanes past the tile end = 0)
//   l     = l * exp(m - m') + (Sum8(p[0:8]) + Sum8(p[8:16]))
//   acc   = acc * exp(m - m'); then acc = fma(p_j, v_j, acc) for j in order
//   out   = acc / l
// Tiles depend only on the query's logical position, never on the batch, q_len,
// how a prefill was chunked or where a tree put the keys: a query's output is
// bit-identical in every batching.
// The accumulator lives in the output row itself (no scratch allocation).
//
// On kernels/cpu_isa.h's avx512 path the q.k dot products (Dot8ZmmHeads) and
// the V accumulation (AccumulateBlockZmmHeads) run on zmm registers, up to 4
// heads per pass over a tile's keys and values, lane for lane the ymm
// arithmetic: the same bits on every path (tests compare them).
//
// The cache's element type T (fp32, bf16, fp16) is a template parameter of
// every level: K and V are widened to fp32 in registers (exact), so a bf16 or
// fp16 cache gives the bits the fp32 instance gives on the widened values.
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <numeric>

#include "common/check.h"
#include "common/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/cpu_isa.h"
#include "kernels/ops.h"

INFERD_ZMM_CODE_BEGIN

namespace inferd::kernels {
namespace {

constexpr int kTile = 16;
constexpr int64_t kMaxTreeRows = 64;  // q_len above this: causal, tree_mask not read

// Eight dot products q·k[0..7], each with simd::Dot's order (bit-identical
// to it); eight independent FMA chains keep both FMA ports busy.
template <typename T>
inline void Dot8(const float* q, const T* const* k, int64_t d, float scale, float* out) {
  using E = simd::Elem<T>;
  __m256 a[8];
  for (int j = 0; j < 8; ++j) a[j] = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 8 <= d; t += 8) {
    const __m256 qv = _mm256_loadu_ps(q + t);
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) a[j] = _mm256_fmadd_ps(qv, E::Load(k[j] + t), a[j]);
  }
  if (t < d) {
    const __m256i m = simd::TailMask(d - t);
    const __m256 qv = simd::LoadPartial(q + t, m);
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      a[j] = _mm256_fmadd_ps(qv, E::LoadPartial(k[j] + t, d - t), a[j]);
    }
  }
  const __m128 vs = _mm_set1_ps(scale);
  _mm_storeu_ps(out, _mm_mul_ps(simd::Reduce4(a[0], a[1], a[2], a[3]), vs));
  _mm_storeu_ps(out + 4, _mm_mul_ps(simd::Reduce4(a[4], a[5], a[6], a[7]), vs));
}

// Dot8's zmm form (avx512 path) for H heads at once (q rows d apart, scores
// kTile apart in out): keys 2p and 2p + 1 side by side in one register, each
// 8-dim step loading and widening the 4 key pairs once for all H heads, q
// broadcast to both halves. Each half is one of Dot8's accumulators lane for
// lane (same FMAs in the same order, the same zero-filled tail) and goes
// through the same Reduce4 tree: the same bits, with half the FMAs and a
// quarter of the key loads.
template <int H, typename T>
INFERD_AVX512 inline void Dot8ZmmHeads(const float* q, const T* const* k, int64_t d, float scale,
                                       float* out) {
  __m512 a[H][4];
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) a[h][p] = _mm512_setzero_ps();
  }
  int64_t t = 0;
  for (; t + 8 <= d; t += 8) {
    __m512 kv[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) kv[p] = simd::LoadPair(k[2 * p], k[2 * p + 1], t, 8);
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m512 qv = _mm512_broadcast_f32x8(_mm256_loadu_ps(q + h * d + t));
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) a[h][p] = _mm512_fmadd_ps(qv, kv[p], a[h][p]);
    }
  }
  if (t < d) {
    __m512 kv[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) kv[p] = simd::LoadPair(k[2 * p], k[2 * p + 1], t, d - t);
    const __m256i mask = simd::TailMask(d - t);
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m512 qv = _mm512_broadcast_f32x8(simd::LoadPartial(q + h * d + t, mask));
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) a[h][p] = _mm512_fmadd_ps(qv, kv[p], a[h][p]);
    }
  }
  using simd::High, simd::Low;
  const __m128 vs = _mm_set1_ps(scale);
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
    float* o = out + h * kTile;
    _mm_storeu_ps(
        o, _mm_mul_ps(simd::Reduce4(Low(a[h][0]), High(a[h][0]), Low(a[h][1]), High(a[h][1])), vs));
    _mm_storeu_ps(
        o + 4,
        _mm_mul_ps(simd::Reduce4(Low(a[h][2]), High(a[h][2]), Low(a[h][3]), High(a[h][3])), vs));
  }
}

inline float ExpScalar(float x) { return _mm256_cvtss_f32(simd::Exp(_mm256_set1_ps(x))); }

// NV vectors of the accumulator starting at acc: a = acc * c (or 0 on the
// first tile), then a = fma(p_j, v_j, a) for j in order. Every element gets
// that same sequence whichever NV covers it.
template <int NV, typename T>
inline void AccumulateBlock(float* acc, int64_t off, bool scale_acc, __m256 c, const float* p,
                            const T* const* v, int cnt) {
  using E = simd::Elem<T>;
  __m256 a[NV];
#pragma GCC unroll 8
  for (int u = 0; u < NV; ++u) {
    a[u] = scale_acc ? _mm256_mul_ps(_mm256_loadu_ps(acc + off + 8 * u), c) : _mm256_setzero_ps();
  }
  for (int j = 0; j < cnt; ++j) {
    const __m256 pj = _mm256_set1_ps(p[j]);
    const T* vj = v[j] + off;
#pragma GCC unroll 8
    for (int u = 0; u < NV; ++u) a[u] = _mm256_fmadd_ps(pj, E::Load(vj + 8 * u), a[u]);
  }
#pragma GCC unroll 8
  for (int u = 0; u < NV; ++u) _mm256_storeu_ps(acc + off + 8 * u, a[u]);
}

// acc[t:d] = acc * c (skipped on the first tile), then += p_j * v_j in order
// (t: where a caller that did the first elements itself left off).
template <typename T>
inline void AccumulateV(float* acc, int64_t d, bool scale_acc, float c, const float* p,
                        const T* const* v, int cnt, int64_t t = 0) {
  const __m256 vc = _mm256_set1_ps(c);
  for (; t + 64 <= d; t += 64) AccumulateBlock<8>(acc, t, scale_acc, vc, p, v, cnt);
  for (; t + 8 <= d; t += 8) AccumulateBlock<1>(acc, t, scale_acc, vc, p, v, cnt);
  if (t < d) {
    const __m256i m = simd::TailMask(d - t);
    __m256 a = scale_acc ? _mm256_mul_ps(simd::LoadPartial(acc + t, m), vc) : _mm256_setzero_ps();
    for (int j = 0; j < cnt; ++j) {
      a = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), simd::Elem<T>::LoadPartial(v[j] + t, d - t), a);
    }
    _mm256_maskstore_ps(acc + t, m, a);
  }
}

// AccumulateBlock on 16-lane vectors for H heads at once (accumulators d
// apart, c[h] and p[h] per head): each value vector is loaded and widened
// once for all H. Each element gets AccumulateBlock's multiply and FMAs in
// its order: the same bits.
template <int NZ, int H, typename T>
INFERD_AVX512 inline void AccumulateBlockZmmHeads(float* acc, int64_t d, int64_t off,
                                                  bool scale_acc, const float* c,
                                                  const float (*p)[kTile], const T* const* v,
                                                  int cnt) {
  __m512 a[H][NZ];
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
    const __m512 vc = _mm512_set1_ps(c[h]);
#pragma GCC unroll 4
    for (int u = 0; u < NZ; ++u) {
      a[h][u] = scale_acc ? _mm512_mul_ps(_mm512_loadu_ps(acc + h * d + off + 16 * u), vc)
                          : _mm512_setzero_ps();
    }
  }
  for (int j = 0; j < cnt; ++j) {
    __m512 vv[NZ];
#pragma GCC unroll 4
    for (int u = 0; u < NZ; ++u) vv[u] = simd::Load16(v[j] + off + 16 * u);
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m512 pj = _mm512_set1_ps(p[h][j]);
#pragma GCC unroll 4
      for (int u = 0; u < NZ; ++u) a[h][u] = _mm512_fmadd_ps(pj, vv[u], a[h][u]);
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 4
    for (int u = 0; u < NZ; ++u) _mm512_storeu_ps(acc + h * d + off + 16 * u, a[h][u]);
  }
}

// AccumulateV for H heads: the whole 16-element blocks of all H at once on
// zmm, the rest of each head as AccumulateV does it.
template <int H, typename T>
INFERD_AVX512 inline void AccumulateVHeadsZmm(float* acc, int64_t d, bool scale_acc, const float* c,
                                              const float (*p)[kTile], const T* const* v, int cnt) {
  int64_t t = 0;
  for (; t + 64 <= d; t += 64) AccumulateBlockZmmHeads<4, H>(acc, d, t, scale_acc, c, p, v, cnt);
  for (; t + 16 <= d; t += 16) AccumulateBlockZmmHeads<1, H>(acc, d, t, scale_acc, c, p, v, cnt);
  if (t < d) {
    for (int h = 0; h < H; ++h) AccumulateV(acc + h * d, d, scale_acc, c[h], p[h], v, cnt, t);
  }
}

struct HeadState {
  float max = -std::numeric_limits<float>::infinity();
  float sum = 0.0f;
};

// Where a row's logical key index lives in the sequence's cache. A causal
// row's keys are contiguous (logical index = cache position). A tree row sees
// the context [0, base) in place, then its visible new tokens: logical index
// base + i is cache position base + new_pos[i] (the i-th set bit of its word).
struct TreeKeys {
  int64_t base = 0;
  const uint8_t* new_pos = nullptr;  // [popcount(word)], increasing
};

// The online-softmax step of one head for one tile's scores sc[0, cnt):
// updates st, writes the weights p[0, kTile) (zero past cnt) and returns the
// factor the head's accumulator is rescaled by (0 on the first tile).
inline float SoftmaxStep(const float* sc, int cnt, bool first, HeadState& st, float* p) {
  float tile_max = sc[0];
  for (int j = 1; j < cnt; ++j) tile_max = std::max(tile_max, sc[j]);
  const float new_max = first ? tile_max : std::max(st.max, tile_max);
  const float corr = first ? 0.0f : ExpScalar(st.max - new_max);
  const __m256 vmax = _mm256_set1_ps(new_max);
  const __m256 p_lo = _mm256_and_ps(simd::Exp(_mm256_sub_ps(_mm256_load_ps(sc), vmax)),
                                    _mm256_castsi256_ps(simd::TailMask(std::min(cnt, 8))));
  const __m256 p_hi = _mm256_and_ps(simd::Exp(_mm256_sub_ps(_mm256_load_ps(sc + 8), vmax)),
                                    _mm256_castsi256_ps(simd::TailMask(std::max(cnt - 8, 0))));
  _mm256_store_ps(p, p_lo);
  _mm256_store_ps(p + 8, p_hi);
  const float tile_sum = simd::Sum8(p_lo) + simd::Sum8(p_hi);
  st.sum = first ? tile_sum : st.sum * corr + tile_sum;
  st.max = new_max;
  return corr;
}

// H (<= 4) heads of one tile on the zmm path: their scores in one pass over
// the keys, each head's softmax step, then their V accumulation in one pass
// over the values. Per head, the ymm path's arithmetic.
template <int H, typename K>
INFERD_AVX512 inline void HeadsTileZmm(const float* q, float* out, HeadState* state, int64_t d,
                                       float scale, bool first, const K* const* k_ptr,
                                       const K* const* v_ptr, int cnt) {
  alignas(32) float sc[H][kTile] = {};
  for (int j = 0; j < cnt; j += 8) Dot8ZmmHeads<H>(q, k_ptr + j, d, scale, &sc[0][j]);
  alignas(32) float pr[H][kTile];
  float corr[H];
  for (int h = 0; h < H; ++h) corr[h] = SoftmaxStep(sc[h], cnt, first, state[h], pr[h]);
  AccumulateVHeadsZmm<H>(out, d, !first, corr, pr, v_ptr, cnt);
}

// One key tile for g_cnt query heads (q rows and accumulators d apart,
// their running states in state): scores, online softmax, V accumulation.
// K is the cache's element type. The zmm path takes the heads 4 at a time
// (one pass over the keys and one over the values for all 4). (Widening a
// 16-bit tile into fp32 once for all the group's heads was measured slower:
// 1B prefill 2048, 48.6 vs 58.1 GFLOP/s.)
template <bool kZmm, typename K>
__attribute__((always_inline)) inline void HeadsTile(const float* q_base, float* out_base,
                                                     HeadState* state, int32_t g_cnt, int64_t d,
                                                     float scale, bool first, const K* const* k_ptr,
                                                     const K* const* v_ptr, int cnt) {
  if constexpr (kZmm) {
    for (int32_t g = 0; g < g_cnt; g += 4) {
      const float* q = q_base + static_cast<int64_t>(g) * d;
      float* out = out_base + static_cast<int64_t>(g) * d;
      switch (std::min<int32_t>(4, g_cnt - g)) {
        case 4:
          HeadsTileZmm<4>(q, out, state + g, d, scale, first, k_ptr, v_ptr, cnt);
          break;
        case 3:
          HeadsTileZmm<3>(q, out, state + g, d, scale, first, k_ptr, v_ptr, cnt);
          break;
        case 2:
          HeadsTileZmm<2>(q, out, state + g, d, scale, first, k_ptr, v_ptr, cnt);
          break;
        default:
          HeadsTileZmm<1>(q, out, state + g, d, scale, first, k_ptr, v_ptr, cnt);
      }
    }
  } else {
    for (int32_t g = 0; g < g_cnt; ++g) {
      const float* q = q_base + static_cast<int64_t>(g) * d;
      float* acc = out_base + static_cast<int64_t>(g) * d;
      alignas(32) float sc[kTile] = {};
      for (int j = 0; j < cnt; j += 8) Dot8(q, k_ptr + j, d, scale, sc + j);
      alignas(32) float pr[kTile];
      const float corr = SoftmaxStep(sc, cnt, first, state[g], pr);
      AccumulateV(acc, d, !first, corr, pr, v_ptr, cnt);
    }
  }
}

// One query token of sequence `s` at logical position `pos` (keys [0, pos] in
// logical order): query heads [g_begin, g_end) of KV head `kvh`'s group
// (indices within the group). kTree maps logical indices through `tree`; the
// causal instance never reads it and keeps the contiguous address arithmetic.
template <bool kTree, typename T, bool kZmm>
__attribute__((always_inline)) inline void AttendItem(const PagedAttentionParams& p, int64_t token,
                                                      int32_t s, int64_t pos, int32_t kvh,
                                                      int32_t g_begin, int32_t g_end,
                                                      TreeKeys tree) {
  const int64_t d = p.head_dim;
  const int32_t group = p.num_q_heads / p.num_kv_heads;
  const int64_t kv_stride = static_cast<int64_t>(p.num_kv_heads) * d;  // one cache slot
  const int32_t* table = p.block_tables + static_cast<int64_t>(s) * p.max_blocks_per_seq;
  const float* q_base = p.q + (token * p.num_q_heads + static_cast<int64_t>(kvh) * group) * d;
  float* out_base = p.out + (token * p.num_q_heads + static_cast<int64_t>(kvh) * group) * d;

  constexpr int kMaxGroup = 64;
  HeadState state_buf[kMaxGroup];
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  const T* k_ptr[kTile];
  const T* v_ptr[kTile];
  for (int32_t g0 = g_begin; g0 < g_end; g0 += kMaxGroup) {  // > 64 heads: in slices
    const int32_t g_cnt = std::min(kMaxGroup, g_end - g0);
    for (int32_t g = 0; g < g_cnt; ++g) state_buf[g] = HeadState{};
    for (int64_t t0 = 0; t0 <= pos; t0 += kTile) {
      const int cnt = static_cast<int>(std::min<int64_t>(kTile, pos + 1 - t0));
      if constexpr (kTree) {
        for (int j = 0; j < kTile; ++j) {
          int64_t pp = t0 + std::min(j, cnt - 1);  // pad with the last key
          if (pp >= tree.base) pp = tree.base + tree.new_pos[pp - tree.base];
          const int64_t slot =
              static_cast<int64_t>(table[pp / p.block_size]) * p.block_size + pp % p.block_size;
          k_ptr[j] = k_cache + slot * kv_stride + static_cast<int64_t>(kvh) * d;
          v_ptr[j] = v_cache + slot * kv_stride + static_cast<int64_t>(kvh) * d;
        }
      } else {
        // Contiguous keys: one division per tile, then step through the
        // blocks (two divisions per key cost more than the tile's FMAs).
        int64_t blk = t0 / p.block_size, off = t0 % p.block_size;
        for (int j = 0; j < cnt; ++j) {
          const int64_t slot = static_cast<int64_t>(table[blk]) * p.block_size + off;
          k_ptr[j] = k_cache + slot * kv_stride + static_cast<int64_t>(kvh) * d;
          v_ptr[j] = v_cache + slot * kv_stride + static_cast<int64_t>(kvh) * d;
          if (++off == p.block_size) {
            off = 0;
            ++blk;
          }
        }
        for (int j = cnt; j < kTile; ++j) {  // pad with the last key
          k_ptr[j] = k_ptr[cnt - 1];
          v_ptr[j] = v_ptr[cnt - 1];
        }
      }
      const bool first = t0 == 0;
      const float* q_g = q_base + static_cast<int64_t>(g0) * d;
      float* out_g = out_base + static_cast<int64_t>(g0) * d;
      HeadsTile<kZmm>(q_g, out_g, state_buf, g_cnt, d, p.scale, first, k_ptr, v_ptr, cnt);
    }
    for (int32_t g = 0; g < g_cnt; ++g) {
      float* acc = out_base + static_cast<int64_t>(g0 + g) * d;
      const float l = state_buf[g].sum;
      for (int64_t t = 0; t < d; ++t) acc[t] = acc[t] / l;
    }
  }
}

// AttendItem compiled with the avx512 target, so the zmm forms inline.
template <bool kTree, typename T>
INFERD_AVX512 void AttendItemZmm(const PagedAttentionParams& p, int64_t token, int32_t s,
                                 int64_t pos, int32_t kvh, int32_t g_begin, int32_t g_end,
                                 TreeKeys tree) {
  AttendItem<kTree, T, true>(p, token, s, pos, kvh, g_begin, g_end, tree);
}

template <bool kTree, typename T>
void Attend(bool zmm, const PagedAttentionParams& p, int64_t token, int32_t s, int64_t pos,
            int32_t kvh, int32_t g_begin, int32_t g_end, TreeKeys tree) {
  if (zmm) {
    AttendItemZmm<kTree, T>(p, token, s, pos, kvh, g_begin, g_end, tree);
  } else {
    AttendItem<kTree, T, false>(p, token, s, pos, kvh, g_begin, g_end, tree);
  }
}

}  // namespace

void PagedAttention(const PagedAttentionParams& p) {
  if (p.num_seqs <= 0) return;
  const int64_t num_tokens = p.query_start[p.num_seqs];
  if (num_tokens <= 0 || p.num_kv_heads <= 0) return;
  // Average work per item, for the grain: ~4 flops per (key, head, dim).
  int64_t total_keys = 0;
  for (int32_t s = 0; s < p.num_seqs; ++s) {
    const int64_t q_len = p.query_start[s + 1] - p.query_start[s];
    total_keys += q_len * (2 * static_cast<int64_t>(p.seq_lens[s]) - q_len + 1) / 2;
  }
  const int32_t group = p.num_q_heads / p.num_kv_heads;
  // Items are (token, KV head, slice of the group's query heads). One slice
  // per group shares K/V loads across its heads; when that leaves too few
  // items to occupy the threads (a lone decode), slices shrink down to single
  // heads. Each head's arithmetic is the same either way.
  const int64_t want_items = 4 * static_cast<int64_t>(NumThreads());
  const int64_t base_items = num_tokens * p.num_kv_heads;
  const int32_t slices = static_cast<int32_t>(
      std::clamp<int64_t>((want_items + base_items - 1) / base_items, 1, group));
  const int32_t slice = (group + slices - 1) / slices;
  const int64_t items = base_items * slices;
  const int64_t cost = std::max<int64_t>(1, total_keys / num_tokens) * slice * p.head_dim * 4;
  // The pool hands out contiguous index ranges, but item cost grows with the
  // query position; visiting items in a golden-ratio stride order gives every
  // range a spread of positions.
  int64_t stride = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(items) * 0.618));
  while (std::gcd(stride, items) != 1) --stride;
  const bool zmm = ActiveCpuIsa() == CpuIsa::kAvx512;
  simd::DispatchDType(p.kv_dtype, [&](auto tag) {
    using T = decltype(tag);
    ParallelFor(items, GrainFor(cost), [&](int64_t b, int64_t e) {
      for (int64_t idx = b; idx < e; ++idx) {
        const int64_t it = idx * stride % items;
        const int32_t sl = static_cast<int32_t>(it % slices);
        const int64_t token = it / slices / p.num_kv_heads;
        const int32_t kvh = static_cast<int32_t>((it / slices) % p.num_kv_heads);
        // The sequence holding `token`: last s with query_start[s] <= token.
        const int32_t* qs = p.query_start;
        const int32_t s = static_cast<int32_t>(
            std::upper_bound(qs, qs + p.num_seqs + 1, static_cast<int32_t>(token)) - qs - 1);
        const int64_t q_len = qs[s + 1] - qs[s];
        const int64_t pos = p.seq_lens[s] - q_len + (token - qs[s]);
        const int32_t g_begin = sl * slice;
        const int32_t g_end = std::min(group, g_begin + slice);
        if (g_begin >= g_end) continue;
        if (p.tree_mask != nullptr && q_len <= kMaxTreeRows) {
          const int64_t r = token - qs[s];  // row within the sequence, < 64
          const uint64_t word = p.tree_mask[token];
          if (word != (uint64_t{2} << r) - 1) {  // not causal: a tree row
            INFERD_CHECK((word >> r) == 1)
                << "tree_mask row " << r << " of sequence " << s << " is " << word
                << ": bit r must be set and no bit above it";
            uint8_t new_pos[kMaxTreeRows];
            int n = 0;
            for (uint64_t w = word; w != 0; w &= w - 1) {
              new_pos[n++] = static_cast<uint8_t>(std::countr_zero(w));
            }
            const int64_t base = p.seq_lens[s] - q_len;
            Attend<true, T>(zmm, p, token, s, base + n - 1, kvh, g_begin, g_end,
                            TreeKeys{base, new_pos});
            continue;
          }
        }
        Attend<false, T>(zmm, p, token, s, pos, kvh, g_begin, g_end, TreeKeys{});
      }
    });
  });
}

}  // namespace inferd::kernels

INFERD_ZMM_CODE_END
