// kernels/cpu/moe_experts.cc — MoeExperts: SwiGLU experts over routed tokens.
//
// Steps (all buffers from the caller's scratch):
//   1. Permutation: count the n*k slots (t, j) per expert, prefix-sum the
//      counts into offsets, and give slot (t, j) the row
//      offsets[e] + (number of earlier slots, in (t, j) order, routed to e).
//      An expert's rows are therefore contiguous and in token order.
//   2. Gather x[t] into row r of `rows` for every slot.
//   3. Per expert with rows (an expert with none is skipped): one Matmul of
//      its rows by gate_up_e into `gu`. Then one SiluMul over all rows into
//      `act`, then per expert one Matmul by down_e into `rows` (the gathered
//      x is dead by then, so the expert outputs reuse its space).
//   4. Combine in token order: out[t] = fma over j = 0..k-1 from 0.0f of
//      topk_weights[t, j] * rows[row(t, j)], vectorised along hidden (the
//      hidden tail through a masked vector: the same per-element arithmetic).
//
// Batch invariance: Matmul and SiluMul compute each output row from that row
// alone, whatever m, the row's position, or the thread split (matmul.cc), so
// the expert output of slot (t, j) depends only on x[t] and the expert's
// weights. The combine order is fixed per token. Hence out[t] is bit-identical
// however the batch is composed, permuted or threaded. Parallelism comes from
// inside Matmul/SiluMul (and ParallelFor over tokens for gather/combine).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "common/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/ops.h"

namespace inferd::kernels {
namespace {

// Int scratch layout: offsets[num_experts + 1], cursor[num_experts],
// slot_row[n * k].
struct IntScratch {
  int32_t* offsets;
  int32_t* cursor;
  int32_t* slot_row;
};

IntScratch SplitInts(int32_t* s, int64_t num_experts) {
  return {s, s + num_experts + 1, s + 2 * num_experts + 1};
}

// Fills offsets and slot_row (step 1).
void Permute(const int32_t* ids, int64_t slots, int64_t num_experts, const IntScratch& s) {
  std::memset(s.cursor, 0, sizeof(int32_t) * static_cast<size_t>(num_experts));
  for (int64_t i = 0; i < slots; ++i) ++s.cursor[ids[i]];
  s.offsets[0] = 0;
  for (int64_t e = 0; e < num_experts; ++e) {
    s.offsets[e + 1] = s.offsets[e] + s.cursor[e];
    s.cursor[e] = s.offsets[e];
  }
  for (int64_t i = 0; i < slots; ++i) s.slot_row[i] = s.cursor[ids[i]]++;
}

// out[0, hidden) = Σ_j w[j] * src_j (fma chain from 0 in j order).
void CombineToken(const float* rows, const int32_t* slot_row, const float* w, int64_t k,
                  int64_t hidden, float* out) {
  int64_t h = 0;
  for (; h + 8 <= hidden; h += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < k; ++j) {
      const float* src = rows + static_cast<int64_t>(slot_row[j]) * hidden;
      acc = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), _mm256_loadu_ps(src + h), acc);
    }
    _mm256_storeu_ps(out + h, acc);
  }
  if (h < hidden) {
    const __m256i m = simd::TailMask(hidden - h);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < k; ++j) {
      const float* src = rows + static_cast<int64_t>(slot_row[j]) * hidden;
      acc = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), simd::LoadPartial(src + h, m), acc);
    }
    _mm256_maskstore_ps(out + h, m, acc);
  }
}

}  // namespace

int64_t MoeScratchFloats(int64_t n, int64_t k, int64_t hidden, int64_t inter) {
  return n * k * (hidden + 3 * inter);  // rows + gu + act
}

int64_t MoeScratchInts(int64_t n, int64_t k, int64_t num_experts) {
  return 2 * num_experts + 1 + n * k;
}

void MoeExperts(const MoeExpertsParams& p) {
  const int64_t n = p.n, k = p.k, hidden = p.hidden, inter = p.inter, ne = p.num_experts;
  if (n <= 0 || hidden <= 0) return;
  if (k <= 0 || inter <= 0 || ne <= 0) {
    std::memset(p.out, 0, sizeof(float) * static_cast<size_t>(n * hidden));
    return;
  }
  const int64_t slots = n * k;
  const IntScratch s = SplitInts(p.int_scratch, ne);
  Permute(p.topk_ids, slots, ne, s);

  float* rows = p.scratch;              // [slots, hidden]: gathered x, then E outputs
  float* gu = rows + slots * hidden;    // [slots, 2 * inter]
  float* act = gu + slots * 2 * inter;  // [slots, inter]

  ParallelFor(n, GrainFor(k * hidden), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      for (int64_t j = 0; j < k; ++j) {
        std::memcpy(rows + static_cast<int64_t>(s.slot_row[t * k + j]) * hidden, p.x + t * hidden,
                    sizeof(float) * static_cast<size_t>(hidden));
      }
    }
  });

  const auto* gate_up = static_cast<const uint8_t*>(p.gate_up);
  const auto* down = static_cast<const uint8_t*>(p.down);
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t off = s.offsets[e], cnt = s.offsets[e + 1] - off;
    if (cnt == 0) continue;
    Matmul(rows + off * hidden, gate_up + DTypeBytes(p.weight_dtype, e * 2 * inter * hidden),
           nullptr, cnt, 2 * inter, hidden, gu + off * 2 * inter, p.weight_dtype);
  }
  SiluMul(gu, slots, inter, act);
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t off = s.offsets[e], cnt = s.offsets[e + 1] - off;
    if (cnt == 0) continue;
    Matmul(act + off * inter, down + DTypeBytes(p.weight_dtype, e * hidden * inter), nullptr, cnt,
           hidden, inter, rows + off * hidden, p.weight_dtype);
  }

  ParallelFor(n, GrainFor(2 * k * hidden), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      CombineToken(rows, s.slot_row + t * k, p.topk_weights + t * k, k, hidden, p.out + t * hidden);
    }
  });
}

}  // namespace inferd::kernels
