// loadtest/engine_flags.cc — see engine_flags.h.
#include "loadtest/engine_flags.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace inferd::loadtest {
namespace {

// The parsed value, or exit(2) with "--flag <message>".
template <typename T>
T OrExit(const char* flag, absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "%s %s\n", flag, std::string(v.status().message()).c_str());
    std::exit(2);
  }
  return *std::move(v);
}

}  // namespace

bool EngineFlags::Parse(const std::string& a, const std::function<std::string()>& next) {
  if (a == "--model") {
    model = next();
  } else if (a == "--threads") {
    threads = std::stoi(next());
  } else if (a == "--dtype") {
    dtype = next();
  } else if (a == "--kv-cache-dtype") {
    kv_cache_dtype = next();
  } else if (a == "--quantization") {
    quantization = next();
  } else if (a == "--quantize-lm-head") {
    quantize_lm_head = true;
  } else if (a == "--max-model-len") {
    max_model_len = std::stoll(next());
  } else if (a == "--kv-cache-memory") {
    kv_cache_mib = std::stoll(next());
  } else if (a == "--device") {
    device = next();
  } else if (a == "--gpu-memory-utilization") {
    gpu_memory_utilization = std::stod(next());
  } else if (a == "--cpu-isa") {
    cpu_isa = next();
  } else {
    return false;
  }
  return true;
}

void ParseArgs(int argc, char** argv, EngineFlags& engine,
               const std::function<bool(const std::string& arg, const NextArg& next)>& own,
               const char* usage) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const NextArg next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (engine.Parse(a, next) || own(a, next)) continue;
    std::fprintf(stderr, "usage: %s %s\n", usage, kEngineFlagsUsage);
    std::exit(2);
  }
}

engine::EngineConfig EngineFlags::ToConfig() const {
  engine::EngineConfig cfg;
  cfg.model_dir = model;
  cfg.num_threads = threads;
  cfg.kv_cache_memory_bytes = kv_cache_mib << 20;
  cfg.dtype = OrExit("--dtype", engine::ParseDTypeSetting(dtype));
  cfg.kv_cache_dtype = OrExit("--kv-cache-dtype", engine::ParseDTypeSetting(kv_cache_dtype));
  cfg.max_model_len = max_model_len;
  cfg.quantization = OrExit("--quantization", engine::ParseQuantization(quantization));
  cfg.quantize_lm_head = quantize_lm_head;
  cfg.device = OrExit("--device", engine::ParseDeviceSetting(device));
  cfg.gpu_memory_utilization = gpu_memory_utilization;
  cfg.cpu_isa = OrExit("--cpu-isa", engine::ParseCpuIsaSetting(cpu_isa));
  return cfg;
}

}  // namespace inferd::loadtest
