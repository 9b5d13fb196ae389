// kernels/cpu/cpu_isa.cc — detection and selection of the CPU kernels' path
// (kernels/cpu_isa.h).
#include "kernels/cpu_isa.h"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "common/check.h"

namespace inferd::kernels {
namespace {

// CPUID leaf 7 sub-leaf 1, EAX: bit 4 AVX-VNNI, bit 5 AVX512_BF16 (read
// directly: Clang 14's __builtin_cpu_supports knows neither name).
unsigned Leaf7Sub1Eax() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d) == 0) return 0;
  return a;
}

// The path INFERD_CPU_ISA asks for, or the best one.
CpuIsa InitialIsa() {
  const char* env = std::getenv("INFERD_CPU_ISA");
  if (env == nullptr || env[0] == '\0' || std::strcmp(env, "auto") == 0) return BestCpuIsa();
  const std::optional<CpuIsa> isa = CpuIsaFromName(env);
  INFERD_CHECK(isa.has_value()) << "INFERD_CPU_ISA must be auto, avx2, avx-vnni or avx512, got \""
                                << env << "\"";
  INFERD_CHECK(CpuSupports(*isa)) << "INFERD_CPU_ISA=" << env
                                  << ": this CPU cannot run that path (best: "
                                  << CpuIsaName(BestCpuIsa()) << ")";
  return *isa;
}

std::atomic<int> g_active{-1};

}  // namespace

const CpuFeatures& DetectedCpuFeatures() {
  static const CpuFeatures f = [] {
    __builtin_cpu_init();
    CpuFeatures r;
    const unsigned eax71 = Leaf7Sub1Eax();
    r.avx_vnni = ((eax71 >> 4) & 1u) != 0;
    r.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    r.avx512_bf16 = r.avx512 && ((eax71 >> 5) & 1u) != 0;
    r.avx512_vnni = r.avx512 && __builtin_cpu_supports("avx512vnni");
    return r;
  }();
  return f;
}

std::optional<CpuIsa> CpuIsaFromName(std::string_view name) {
  for (CpuIsa isa : kCpuIsas) {
    if (name == CpuIsaName(isa)) return isa;
  }
  return std::nullopt;
}

const char* CpuIsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kAvxVnni:
      return "avx-vnni";
    case CpuIsa::kAvx512:
      return "avx512";
  }
  return "avx2";
}

bool CpuSupports(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx2:
      return true;
    case CpuIsa::kAvxVnni:
      return DetectedCpuFeatures().avx_vnni;
    case CpuIsa::kAvx512:
      return DetectedCpuFeatures().avx512;
  }
  return false;
}

CpuIsa BestCpuIsa() {
  if (DetectedCpuFeatures().avx512) return CpuIsa::kAvx512;
  if (DetectedCpuFeatures().avx_vnni) return CpuIsa::kAvxVnni;
  return CpuIsa::kAvx2;
}

CpuIsa ActiveCpuIsa() {
  int v = g_active.load(std::memory_order_relaxed);
  if (v < 0) {
    int unset = -1;
    g_active.compare_exchange_strong(unset, static_cast<int>(InitialIsa()));
    v = g_active.load(std::memory_order_relaxed);
  }
  return static_cast<CpuIsa>(v);
}

bool SetCpuIsa(CpuIsa isa) {
  if (!CpuSupports(isa)) return false;
  g_active.store(static_cast<int>(isa), std::memory_order_relaxed);
  return true;
}

bool MatmulBf16UsesDotProduct() {
  return ActiveCpuIsa() == CpuIsa::kAvx512 && DetectedCpuFeatures().avx512_bf16;
}

namespace cpu_internal {

// The int8 dot product form of the active path: 2 = vpdpbusd zmm, 1 =
// vpdpbusd ymm (AVX-VNNI), 0 = vpmaddubsw.
int QuantizedDotForm() {
  switch (ActiveCpuIsa()) {
    case CpuIsa::kAvx512:
      if (DetectedCpuFeatures().avx512_vnni) return 2;
      return DetectedCpuFeatures().avx_vnni ? 1 : 0;
    case CpuIsa::kAvxVnni:
      return 1;
    case CpuIsa::kAvx2:
      return 0;
  }
  return 0;
}

}  // namespace cpu_internal

std::string CpuKernelsSummary() {
  const CpuIsa isa = ActiveCpuIsa();
  std::string s = CpuIsaName(isa);
  s += isa == CpuIsa::kAvx512 ? " (fp32/fp16: zmm fma; bf16: " : " (fp32/fp16: ymm fma; bf16: ";
  s += MatmulBf16UsesDotProduct() ? "vdpbf16ps" : (isa == CpuIsa::kAvx512 ? "zmm fma" : "ymm fma");
  static const char* const kDot[] = {"vpmaddubsw", "vpdpbusd ymm", "vpdpbusd zmm"};
  s += "; int8: ";
  s += kDot[cpu_internal::QuantizedDotForm()];
  s += ")";
  return s;
}

}  // namespace inferd::kernels
