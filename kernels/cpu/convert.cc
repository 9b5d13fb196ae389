// kernels/cpu/convert.cc — ConvertFromF32 / ConvertToF32: elementwise dtype
// conversion with simd.h's widen/narrow (bit-identical to kernels/dtype.h's
// scalar conversions). Elementwise, so trivially batch-invariant.
#include <cstdint>
#include <cstring>

#include "kernels/cpu/simd.h"
#include "kernels/ops.h"

namespace inferd::kernels {

void ConvertFromF32(const float* src, int64_t n, void* dst, DType dst_dtype) {
  simd::DispatchDType(dst_dtype, [&](auto tag) {
    using T = decltype(tag);
    using E = simd::Elem<T>;
    T* out = static_cast<T*>(dst);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) E::Store(out + i, _mm256_loadu_ps(src + i));
    if (i < n) E::StorePartial(out + i, simd::LoadPartial(src + i, simd::TailMask(n - i)), n - i);
  });
}

void ConvertToF32(const void* src, DType src_dtype, int64_t n, float* dst) {
  if (src_dtype == DType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  simd::DispatchDType(src_dtype, [&](auto tag) {
    using T = decltype(tag);
    using E = simd::Elem<T>;
    const T* in = static_cast<const T*>(src);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, E::Load(in + i));
    if (i < n) _mm256_maskstore_ps(dst + i, simd::TailMask(n - i), E::LoadPartial(in + i, n - i));
  });
}

}  // namespace inferd::kernels
