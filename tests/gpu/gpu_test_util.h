// tests/gpu/gpu_test_util.h — what the CUDA-vs-CPU op tests share: skipping
// without a device, dtype encoding on the host, uploads and downloads,
// poisoned outputs, random inputs and the per-dtype tolerances.
//
// Method (the style of vLLM's kernel tests): inputs are random (never zero)
// and rounded to the dtype under test on the host, so the CPU reference
// (kernels/cpu, fp32) and the CUDA op see the same values; outputs are
// poisoned (all bytes 0xFF: NaN in fp32/fp16/bf16, -1 in int32) before each
// run, so an element the kernel forgot to write fails the comparison.
//
// Tolerances are multiples of the dtype's unit roundoff u (half an ulp,
// relative): fp32 2^-24, fp16 2^-11, bf16 2^-8.
//   * exact ops (copies, gathers, conversions, argmax, routing ids): bit-equal;
//   * elementwise ops computed in fp32 and rounded once:
//       |got - want| <= 2u|want| + 1e-6 (|want| + 1)   (fp32: a few ulps of
//       transcendental / fma differences)
//   * reductions (GEMM): |got - want| <= 2u|want| + 3e-5 * Σ|x||w|
//     (fp32 accumulation in another order, relative to the magnitude summed);
//   * attention / MoE (intermediates rounded to the dtype: P in the tensor-core
//     attention, expert activations in MoE): |got - want| <= c u (|want| + rms)
//     with rms the root mean square of the case's reference output, c = 8
//     (attention) or 16 (MoE); fp32 uses 1e-5 (|want| + rms).
// INFERD_GPU_TEST_SMALL=1 shrinks the sizes (for compute-sanitizer runs).
#ifndef INFERD_TESTS_GPU_GPU_TEST_UTIL_H_
#define INFERD_TESTS_GPU_GPU_TEST_UTIL_H_

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/dtype.h"

namespace inferd::kernels::cuda::testing {

inline const DeviceInfo& Devices() {
  static const DeviceInfo info = QueryDevices();
  return info;
}

// Every test starts with this: CI machines have nvcc but no GPU.
#define INFERD_REQUIRE_GPU()                                            \
  do {                                                                  \
    const auto& devices_ = ::inferd::kernels::cuda::testing::Devices(); \
    if (devices_.count == 0) {                                          \
      GTEST_SKIP() << "no CUDA device (" << devices_.error              \
                   << "): the gpu tests run on a machine with a GPU";   \
    }                                                                   \
  } while (0)

inline bool SmallMode() {
  const char* v = std::getenv("INFERD_GPU_TEST_SMALL");
  return v != nullptr && v[0] != '\0' && std::string(v) != "0";
}

inline const std::vector<DType>& AllDTypes() {
  static const std::vector<DType> all{DType::kF32, DType::kF16, DType::kBF16};
  return all;
}

// For INSTANTIATE_TEST_SUITE_P names.
inline std::string DTypeParamName(const ::testing::TestParamInfo<DType>& info) {
  return DTypeName(info.param);
}

inline double UnitRoundoff(DType t) {
  switch (t) {
    case DType::kF32:
      return std::ldexp(1.0, -24);
    case DType::kF16:
      return std::ldexp(1.0, -11);
    case DType::kBF16:
      return std::ldexp(1.0, -8);
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ4_1:
      break;  // not an element type
  }
  return 0.0;
}

// The value `x` has once stored as `t` (round to nearest even).
inline float RoundTo(DType t, float x) {
  switch (t) {
    case DType::kF32:
      return x;
    case DType::kF16:
      return __half2float(__float2half_rn(x));
    case DType::kBF16:
      return __bfloat162float(__float2bfloat16_rn(x));
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ4_1:
      break;  // not an element type
  }
  return x;
}

inline std::vector<float> RoundTo(DType t, std::vector<float> v) {
  for (float& x : v) x = RoundTo(t, x);
  return v;
}

// Host bytes of `v` stored as `t`.
inline std::vector<uint8_t> Encode(DType t, const std::vector<float>& v) {
  std::vector<uint8_t> bytes(v.size() * static_cast<size_t>(DTypeSize(t)));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::kF32) {
      std::memcpy(bytes.data() + 4 * i, &v[i], 4);
    } else if (t == DType::kF16) {
      const __half h = __float2half_rn(v[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    } else {
      const __nv_bfloat16 h = __float2bfloat16_rn(v[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  }
  return bytes;
}

inline std::vector<float> Decode(DType t, const uint8_t* bytes, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (t == DType::kF32) {
      std::memcpy(&v[i], bytes + 4 * i, 4);
    } else if (t == DType::kF16) {
      __half h;
      std::memcpy(&h, bytes + 2 * i, 2);
      v[i] = __half2float(h);
    } else {
      __nv_bfloat16 h;
      std::memcpy(&h, bytes + 2 * i, 2);
      v[i] = __bfloat162float(h);
    }
  }
  return v;
}

// Copies to a new device buffer and waits for the copy (the tests' streams are
// non-blocking, so nothing orders them after the legacy default stream).
inline DeviceBuffer UploadBytes(const void* data, size_t bytes) {
  DeviceBuffer buf(bytes);
  if (bytes > 0) CUDA_CHECK(cudaMemcpy(buf.data(), data, bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaDeviceSynchronize());
  return buf;
}

// `v` stored as `t` on the device.
inline DeviceBuffer Upload(DType t, const std::vector<float>& v) {
  const std::vector<uint8_t> bytes = Encode(t, v);
  return UploadBytes(bytes.data(), bytes.size());
}

template <typename T>
DeviceBuffer UploadRaw(const std::vector<T>& v) {
  return UploadBytes(v.data(), v.size() * sizeof(T));
}

// Waits for all device work, then copies n elements of `t` back as floats.
inline std::vector<float> Download(DType t, const void* device, int64_t n) {
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<uint8_t> bytes(static_cast<size_t>(n * DTypeSize(t)));
  if (n > 0) CUDA_CHECK(cudaMemcpy(bytes.data(), device, bytes.size(), cudaMemcpyDeviceToHost));
  return Decode(t, bytes.data(), n);
}

template <typename T>
std::vector<T> DownloadRaw(const void* device, int64_t n) {
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<T> v(static_cast<size_t>(n));
  if (n > 0) CUDA_CHECK(cudaMemcpy(v.data(), device, v.size() * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

// All bytes 0xFF: NaN in every float dtype, -1 in int32 (or all bytes
// `byte`, where NaN would be the expected answer). Waits for it.
inline void Poison(const DeviceBuffer& buf, int byte = 0xFF) {
  if (buf.bytes() > 0) CUDA_CHECK(cudaMemset(buf.data(), byte, buf.bytes()));
  CUDA_CHECK(cudaDeviceSynchronize());
}

// Uniform in [lo, hi), never exactly zero (before rounding; rounding to a
// dtype never turns a value of magnitude >= 1e-3 into zero).
inline std::vector<float> RandomVector(int64_t n, uint32_t seed, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) {
    do {
      x = dist(rng);
    } while (std::fabs(x) < 1e-3f);
  }
  return v;
}

inline double Rms(const std::vector<float>& v) {
  double s = 0.0;
  for (float x : v) s += static_cast<double>(x) * x;
  return v.empty() ? 0.0 : std::sqrt(s / static_cast<double>(v.size()));
}

// Elementwise |got - want| <= atol + rtol * |want| + stol * scale[i] (scale
// optional). NaN or inf in `got` where `want` is finite fails. Reports the
// number of failures and the first few.
inline ::testing::AssertionResult AllClose(const std::vector<float>& got,
                                           const std::vector<float>& want, double atol, double rtol,
                                           const std::vector<double>* scale = nullptr,
                                           double stol = 0.0) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  }
  int64_t bad = 0;
  double worst = 0.0;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = want[i];
    const double g = got[i];
    const double tol = atol + rtol * std::fabs(w) + (scale != nullptr ? stol * (*scale)[i] : 0.0);
    const double err = std::fabs(g - w);
    const bool ok = std::isfinite(w) ? (std::isfinite(g) && err <= tol)
                                     : (g == w || (std::isnan(g) && std::isnan(w)));
    if (!ok) {
      if (bad < 5) first << "\n  [" << i << "] got " << g << " want " << w << " tol " << tol;
      ++bad;
    }
    if (std::isfinite(err) && tol > 0) worst = std::max(worst, err / tol);
  }
  if (bad == 0) return ::testing::AssertionSuccess() << "worst err/tol " << worst;
  return ::testing::AssertionFailure()
         << bad << " of " << got.size() << " elements off" << first.str();
}

// Bit-equal floats (NaN patterns compared as bits too).
inline ::testing::AssertionResult BitEqual(const std::vector<float>& got,
                                           const std::vector<float>& want) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << got[i] << " want " << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// A non-blocking stream, created at first use (so a fixture can hold one and
// still skip on a machine without a GPU) and destroyed with the object.
class Stream {
 public:
  Stream() = default;
  ~Stream() {
    if (stream_ != nullptr) CUDA_CHECK(cudaStreamDestroy(stream_));
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() {
    if (stream_ == nullptr) CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    return stream_;
  }

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace inferd::kernels::cuda::testing

#endif  // INFERD_TESTS_GPU_GPU_TEST_UTIL_H_
