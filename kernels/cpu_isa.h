// kernels/cpu_isa.h — which instruction-set path the CPU kernels run
// (runtime dispatch: one binary, the kernels chosen by cpuid at start).
//
// Paths, each a superset of the one before on the CPUs that have it:
//   avx2      AVX2 + FMA + F16C, the floor every kernel may assume. 256-bit
//             fp32 FMA tiles; bf16/fp16 weights widened to fp32 in
//             registers; int8 dot products with vpmaddubsw.
//   avx-vnni  avx2, plus AVX-VNNI's vpdpbusd (ymm) for the int8 dot products
//             of quantized weights (Intel client CPUs without AVX-512).
//   avx512    AVX-512 F/BW/DQ/VL: fp32 and fp16 weights in zmm tiles (two
//             columns per register); bf16 weights with vdpbf16ps where the
//             CPU has AVX512_BF16 (x rounded to bf16 per row); int8 dot
//             products with vpdpbusd on zmm where it has AVX512_VNNI (else
//             AVX-VNNI's ymm form, else vpmaddubsw).
//
// Outputs: on one path every kernel keeps a fixed reduction order per row,
// so results are bit-identical whatever the batch, chunking or thread count
// (DESIGN §5). Between paths they are identical for fp32, fp16 and quantized
// weights (the wider forms keep the narrower ones' lanes); bf16 weights
// differ between a path with vdpbf16ps and one without (activations rounded
// to bf16 and products summed in pairs: docs/cpu-isa.md).
//
// The path in use is the best the CPU has, unless the environment variable
// INFERD_CPU_ISA (auto|avx2|avx-vnni|avx512; read once, at the first kernel
// call) or SetCpuIsa (`--cpu-isa`) chose another.
#ifndef INFERD_KERNELS_CPU_ISA_H_
#define INFERD_KERNELS_CPU_ISA_H_

#include <optional>
#include <string>
#include <string_view>

namespace inferd::kernels {

enum class CpuIsa { kAvx2, kAvxVnni, kAvx512 };

// Every path, narrowest first.
inline constexpr CpuIsa kCpuIsas[] = {CpuIsa::kAvx2, CpuIsa::kAvxVnni, CpuIsa::kAvx512};

// "avx2", "avx-vnni", "avx512".
const char* CpuIsaName(CpuIsa isa);

// The path spelled `name` (CpuIsaName's spellings), or nullopt.
std::optional<CpuIsa> CpuIsaFromName(std::string_view name);

// The instruction-set extensions beyond the AVX2 floor this CPU has (cpuid,
// read once): what the paths and their per-dtype kernels are chosen by.
struct CpuFeatures {
  bool avx_vnni = false;
  bool avx512 = false;  // F, BW, DQ, VL (and the OS saves zmm state)
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
};
const CpuFeatures& DetectedCpuFeatures();

// Whether this CPU can run `isa`'s kernels.
bool CpuSupports(CpuIsa isa);

// The best path this CPU runs (ignores INFERD_CPU_ISA).
CpuIsa BestCpuIsa();

// The path the kernels use now.
CpuIsa ActiveCpuIsa();

// Selects the path for the whole process. Returns false, and changes
// nothing, when the CPU cannot run it. Not while an op runs (the engine
// calls it once, at start; tests between ops).
bool SetCpuIsa(CpuIsa isa);

// The active path and the instruction each weight type's Matmul uses on it,
// for start-up summaries and benchmarks, e.g.
// "avx512 (fp32/fp16: zmm fma; bf16: vdpbf16ps; int8: vpdpbusd zmm)".
std::string CpuKernelsSummary();

// Whether bf16-weight Matmul uses vdpbf16ps on the active path (activations
// rounded to bf16; its own bits, not the fp32 instance's).
bool MatmulBf16UsesDotProduct();

}  // namespace inferd::kernels

#endif  // INFERD_KERNELS_CPU_ISA_H_
