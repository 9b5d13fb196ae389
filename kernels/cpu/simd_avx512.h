// kernels/cpu/simd_avx512.h — zmm helpers shared by the AVX-512 forms of the
// CPU kernels (matmul_avx512.h, attention.cc): the target attribute they are
// compiled with, and loads that put two 8-lane rows side by side in one zmm,
// so a zmm form keeps the ymm form's lanes (and bits) with half the
// instructions. Called only on kernels/cpu_isa.h's avx512 path.
#ifndef INFERD_KERNELS_CPU_SIMD_AVX512_H_
#define INFERD_KERNELS_CPU_SIMD_AVX512_H_

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/simd.h"

#define INFERD_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")))

// GCC 12's 512-bit cast/insert/broadcast intrinsics start from undefined
// vectors (_mm512_undefined_ps), which -Wmaybe-uninitialized reports once
// inlined. Code that uses zmm intrinsics sits between these two.
#if defined(__clang__)
#define INFERD_ZMM_CODE_BEGIN \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#else
#define INFERD_ZMM_CODE_BEGIN                                                                \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#endif
#define INFERD_ZMM_CODE_END _Pragma("GCC diagnostic pop")

INFERD_ZMM_CODE_BEGIN

namespace inferd::kernels::simd {

// Rows w0 and w1 (fp32, bf16 or fp16) at offset t in one zmm: w0's 8
// elements low, w1's high, widened exactly like Elem<W>::Load; r < 8 reads r
// elements, zeros past them (Elem<W>::LoadPartial). Plain loads for whole
// rows: masked ones ran the fp32 Matmul tiles at half speed.
template <typename W>
INFERD_AVX512 inline __m512 LoadPair(const W* w0, const W* w1, int64_t t, int64_t r) {
  if constexpr (std::is_same_v<W, float>) {
    if (r >= 8) {
      return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(w0 + t)),
                                _mm256_loadu_ps(w1 + t), 1);
    }
    const __mmask8 mask = static_cast<__mmask8>((1u << r) - 1);
    const __m256 lo = _mm256_maskz_loadu_ps(mask, w0 + t);
    const __m256 hi = _mm256_maskz_loadu_ps(mask, w1 + t);
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
  } else {
    __m128i lo, hi;
    if (r >= 8) {
      lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w0 + t));
      hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w1 + t));
    } else {
      alignas(16) uint16_t b0[8] = {}, b1[8] = {};
      std::memcpy(b0, w0 + t, static_cast<size_t>(r) * 2);
      std::memcpy(b1, w1 + t, static_cast<size_t>(r) * 2);
      lo = _mm_load_si128(reinterpret_cast<const __m128i*>(b0));
      hi = _mm_load_si128(reinterpret_cast<const __m128i*>(b1));
    }
    const __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    if constexpr (std::is_same_v<W, simd::F16>) {
      return _mm512_cvtph_ps(h);
    } else {
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
}

// 16 consecutive elements of p widened to fp32 (Elem<W>::Load twice).
template <typename W>
INFERD_AVX512 inline __m512 Load16(const W* p) {
  if constexpr (std::is_same_v<W, float>) {
    return _mm512_loadu_ps(p);
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if constexpr (std::is_same_v<W, F16>) {
      return _mm512_cvtph_ps(h);
    } else {
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
}

// The low and high 8 lanes of v.
INFERD_AVX512 inline __m256 Low(__m512 v) { return _mm512_castps512_ps256(v); }
INFERD_AVX512 inline __m256 High(__m512 v) { return _mm512_extractf32x8_ps(v, 1); }

}  // namespace inferd::kernels::simd

INFERD_ZMM_CODE_END

#endif  // INFERD_KERNELS_CPU_SIMD_AVX512_H_
