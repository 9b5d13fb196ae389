// loadtest/instruction_peaks.h — this machine's measured peak rate per
// instruction class, for kernels_benchmark's %peak: each kernel is reported
// against the class of instruction it runs on the active CPU path
// (kernels/cpu_isa.h), not against one fp32 figure.
//
// A peak is independent chains of one instruction on every core (12 chains
// per thread, enough to hide its latency), counted as ops: a fp32 FMA lane
// is 2 flops; vdpbf16ps does 2 multiply-adds per fp32 lane (4 flops); an
// int8 dot product lane 4 multiply-adds (8 ops).
#ifndef INFERD_LOADTEST_INSTRUCTION_PEAKS_H_
#define INFERD_LOADTEST_INSTRUCTION_PEAKS_H_

#include <cstdint>
#include <vector>

#include "kernels/dtype.h"

namespace inferd::kernels {

enum class PeakClass {
  kFma256,          // vfmadd231ps ymm: 16 flops
  kFma512,          // vfmadd231ps zmm: 32 flops
  kBf16Dot512,      // vdpbf16ps zmm: 64 flops
  kInt8Maddubs256,  // vpmaddubsw + vpmaddwd ymm: 64 ops
  kInt8Maddubs512,  // vpmaddubsw + vpmaddwd zmm: 128 ops (the k-quants' zmm form)
  kInt8Vnni256,     // vpdpbusd ymm (AVX-VNNI): 64 ops
  kInt8Vnni512,     // vpdpbusd zmm (AVX512-VNNI): 128 ops
};
// How many classes (arrays indexed by PeakClass).
inline constexpr int kNumPeakClasses = static_cast<int>(PeakClass::kInt8Vnni512) + 1;

// "fma256", "fma512", "bf16dot512", "int8maddubs256", "int8vnni256",
// "int8vnni512".
const char* PeakClassName(PeakClass c);

struct InstructionPeak {
  PeakClass cls = PeakClass::kFma256;
  const char* instruction = "";
  bool available = false;  // this CPU has the instruction
  double one_thread = 0;   // ops/s, one thread alone
  double all_threads = 0;  // ops/s, `cores` threads at once
  double peak = 0;         // max(all_threads, cores x one_thread): what %peak divides by
};

// Every class, measured where the CPU has it (a few seconds).
std::vector<InstructionPeak> MeasureInstructionPeaks(int cores);

// The block formats' instruction mixes, as the AVX512-VNNI packed-strip
// Matmuls run them (a block's or sub-block's vpdpbusd with its per-block
// integer or fp32 steps) with every operand in L1: the most those kernels
// could reach if memory cost nothing, counted like the int8 classes (only
// the vpdpbusd lanes' work). Empty without AVX512-VNNI.
enum class MixFormat {
  kQ8Block,         // Q8_0, Q4_0: a block of 32
  kKQuantSubBlock,  // Q4_K, Q5_K: a sub-block of 32
  kQ6KGroup,        // Q6_K: a group of 16
};
// How many formats (arrays indexed by MixFormat).
inline constexpr int kNumMixFormats = static_cast<int>(MixFormat::kQ6KGroup) + 1;

struct MixCeiling {
  MixFormat format = MixFormat::kQ8Block;
  const char* name = "";
  const char* mix = "";
  double one_thread = 0;   // ops/s
  double all_threads = 0;  // ops/s
  double ceiling = 0;      // max(all_threads, cores x one_thread)
};
std::vector<MixCeiling> MeasureMixCeilings(int cores);

// The class a Matmul with w_dtype and m rows runs on the active path.
PeakClass MatmulPeakClass(DType w_dtype, int64_t m);

// The measured mix a Matmul with w_dtype and m rows runs (packed strips on
// AVX512-VNNI), or -1 where none is measured: an index into MixFormat.
int MatmulMixFormat(DType w_dtype, int64_t m);

}  // namespace inferd::kernels

#endif  // INFERD_LOADTEST_INSTRUCTION_PEAKS_H_
