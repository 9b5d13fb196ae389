// kernels/cpu/simd.h — AVX2/FMA building blocks shared by the CPU ops.
//
// Every reduction here has one fixed order, so an element computed through a
// vector path and through an edge path gets the same bits:
//   * a dot product accumulates 8 lanes (lane l takes k = 8*t + l, t in
//     increasing order, one FMA each; the k tail is a masked load, zeros past
//     the end), then sums the lanes as ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)).
//   * Sum8/Reduce4 below both implement exactly that lane tree.
#ifndef INFERD_KERNELS_CPU_SIMD_H_
#define INFERD_KERNELS_CPU_SIMD_H_

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/dtype.h"

namespace inferd::kernels::simd {

// Lane mask with the first `r` lanes (0 <= r <= 8) set, for maskload/maskstore.
inline __m256i TailMask(int64_t r) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), idx);
}

// Loads `r` floats (the rest zero) without touching memory past them.
inline __m256 LoadPartial(const float* p, __m256i mask) { return _mm256_maskload_ps(p, mask); }

// ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)).
inline float Sum8(__m256 v) {
  const __m256 h = _mm256_hadd_ps(v, v);   // [l0+l1, l2+l3, ., . | l4+l5, l6+l7, ., .]
  const __m256 h2 = _mm256_hadd_ps(h, h);  // [(l0+l1)+(l2+l3) ... | (l4+l5)+(l6+l7) ...]
  const __m128 s = _mm_add_ss(_mm256_castps256_ps128(h2), _mm256_extractf128_ps(h2, 1));
  return _mm_cvtss_f32(s);
}

// Lane sums of four accumulators, each with Sum8's tree: [Σa, Σb, Σc, Σd].
inline __m128 Reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 ab = _mm256_hadd_ps(a, b);  // [a01 a23 b01 b23 | a45 a67 b45 b67]
  const __m256 cd = _mm256_hadd_ps(c, d);
  const __m256 abcd = _mm256_hadd_ps(ab, cd);  // [a0123 b0123 c0123 d0123 | a4567 ...]
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// Dot product of two length-k rows in the fixed order described above.
inline float Dot(const float* a, const float* b, int64_t k) {
  __m256 acc = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 8 <= k; t += 8) {
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + t), _mm256_loadu_ps(b + t), acc);
  }
  if (t < k) {
    const __m256i m = TailMask(k - t);
    acc = _mm256_fmadd_ps(LoadPartial(a + t, m), LoadPartial(b + t, m), acc);
  }
  return Sum8(acc);
}

// exp(x) for float lanes (Cephes expf: range reduction by ln2 and a degree-5
// polynomial; about 1 ulp on [-87, 88]). Inputs are clamped to +-88.376, so
// exp(-inf) is ~1e-38, not 0: callers mask lanes that must be exactly zero.
inline __m256 Exp(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f);
  const __m256 lo = _mm256_set1_ps(-88.3762626647949f);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  // n = round(x / ln2); r = x - n * ln2 (ln2 split in two for precision).
  __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
  fx = _mm256_floor_ps(fx);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 x2 = _mm256_mul_ps(x, x);
  y = _mm256_fmadd_ps(y, x2, x);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
  __m256i n = _mm256_cvttps_epi32(fx);
  n = _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}

// Storage types of weights and the KV cache, widened to fp32 in registers.
// Elem<T>::Load reads 8 elements; LoadPartial reads the first r (0 <= r <= 8)
// and zeros the rest without touching memory past them. bf16 widens by a
// 16-bit shift, fp16 by F16C's vcvtph2ps: both exact, so a kernel reading
// bf16/fp16 computes the same bits as its fp32 instance on the widened values.
template <typename T>
struct Elem;

template <>
struct Elem<float> {
  static constexpr DType kDType = DType::kF32;
  static __m256 Load(const float* p) { return _mm256_loadu_ps(p); }
  static __m256 LoadPartial(const float* p, int64_t r) {
    return _mm256_maskload_ps(p, TailMask(r));
  }
  // Stores 8 lanes / the first r lanes.
  static void Store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
  static void StorePartial(float* p, __m256 v, int64_t r) {
    _mm256_maskstore_ps(p, TailMask(r), v);
  }
};

// The 16-bit storage types (bfloat16, IEEE binary16 bits) share their memory
// access; Convert supplies Widen (8 x 16 bits -> 8 floats, exact) and Narrow
// (8 floats -> 8 x 16 bits, round to nearest even).
template <typename T, typename Convert>
struct Elem16 {
  static __m256 Load(const T* p) {
    return Convert::Widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static __m256 LoadPartial(const T* p, int64_t r) {
    alignas(16) uint16_t buf[8] = {};
    std::memcpy(buf, p, static_cast<size_t>(r) * 2);
    return Convert::Widen(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
  }
  static void Store(T* p, __m256 v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), Convert::Narrow(v));
  }
  static void StorePartial(T* p, __m256 v, int64_t r) {
    alignas(16) uint16_t h[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(h), Convert::Narrow(v));
    std::memcpy(p, h, static_cast<size_t>(r) * 2);
  }
};

// bfloat16 bits: widened by a 16-bit shift; narrowed lane by lane with
// kernels/dtype.h's F32ToBF16 (NaN kept).
struct BF16 {
  uint16_t bits;
};
struct BF16Convert {
  static __m256 Widen(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static __m128i Narrow(__m256 v) {
    alignas(32) float f[8];
    _mm256_store_ps(f, v);
    alignas(16) uint16_t h[8];
    for (int i = 0; i < 8; ++i) h[i] = F32ToBF16(f[i]);
    return _mm_load_si128(reinterpret_cast<const __m128i*>(h));
  }
};
template <>
struct Elem<BF16> : Elem16<BF16, BF16Convert> {
  static constexpr DType kDType = DType::kBF16;
};

// IEEE binary16 bits: F16C both ways.
struct F16 {
  uint16_t bits;
};
struct F16Convert {
  static __m256 Widen(__m128i h) { return _mm256_cvtph_ps(h); }
  static __m128i Narrow(__m256 v) { return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT); }
};
template <>
struct Elem<F16> : Elem16<F16, F16Convert> {
  static constexpr DType kDType = DType::kF16;
};

// Calls f(T{}) with T the storage type of `dtype` (float, BF16 or F16).
template <typename F>
inline void DispatchDType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF32:
      f(float{});
      return;
    case DType::kBF16:
      f(BF16{});
      return;
    case DType::kF16:
      f(F16{});
      return;
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ4_1:
      break;  // block-quantized: kernels/cpu/matmul_quant.cc, not an element type
  }
  __builtin_trap();
}

}  // namespace inferd::kernels::simd

#endif  // INFERD_KERNELS_CPU_SIMD_H_
