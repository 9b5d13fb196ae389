// loadtest/engine_flags.h — the engine flags shared by the in-process
// benchmarks (decode_benchmark, prefill_benchmark): --model, --threads,
// --dtype, --kv-cache-dtype, --quantization, --quantize-lm-head,
// --max-model-len, --kv-cache-memory, --device, --gpu-memory-utilization and
// --cpu-isa, meaning what they mean for `inferd serve`.
#ifndef INFERD_LOADTEST_ENGINE_FLAGS_H_
#define INFERD_LOADTEST_ENGINE_FLAGS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "engine/engine.h"

namespace inferd::loadtest {

struct EngineFlags {
  std::string model = "models/stories260K";
  int threads = 0;
  std::string dtype = "auto";
  std::string kv_cache_dtype = "auto";
  std::string quantization = "auto";
  bool quantize_lm_head = false;
  int64_t max_model_len = 0;
  int64_t kv_cache_mib = 256;
  std::string device = "cpu";
  double gpu_memory_utilization = 0.9;
  std::string cpu_isa = "auto";

  // Consumes argument `a` when it is one of these flags, taking its value
  // from next(); false when `a` is not one of them.
  bool Parse(const std::string& a, const std::function<std::string()>& next);

  // The engine configuration these flags describe; exits with status 2 and a
  // message naming the flag when a value is invalid.
  engine::EngineConfig ToConfig() const;
};

// A flag's value: next() returns the argument after it, or exits with status
// 2 and "<flag> needs a value".
using NextArg = std::function<std::string()>;

// Parses argv[1..]: the engine flags into `engine`, every other argument
// through `own` (which returns false for one it does not know: `usage` is
// then printed to stderr with kEngineFlagsUsage after it, and the process
// exits with status 2).
void ParseArgs(int argc, char** argv, EngineFlags& engine,
               const std::function<bool(const std::string& arg, const NextArg& next)>& own,
               const char* usage);

// The usage text of these flags, for the benchmarks' own usage lines.
inline constexpr const char kEngineFlagsUsage[] =
    "[--model DIR|FILE.gguf] [--threads N] [--dtype auto|fp32|bf16|fp16] "
    "[--kv-cache-dtype auto|fp32|bf16|fp16] [--quantization auto|none|int8|q4] "
    "[--quantize-lm-head] "
    "[--max-model-len N] [--kv-cache-memory MiB] [--device cpu|cuda|auto] "
    "[--gpu-memory-utilization F] [--cpu-isa auto|avx2|avx-vnni|avx512]";

}  // namespace inferd::loadtest

#endif  // INFERD_LOADTEST_ENGINE_FLAGS_H_
