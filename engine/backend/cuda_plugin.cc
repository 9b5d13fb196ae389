// engine/backend/cuda_plugin.cc — CudaDeviceCount and CreateCudaBackend:
// the CUDA backend plugin (libinferd_backend_cuda.so) found and dlopen()ed
// on first use; see cuda_backend.h for why it is a plugin.
#include <dlfcn.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/backend/cuda_backend.h"

namespace inferd::engine {

namespace {

constexpr const char* kPluginName = "libinferd_backend_cuda.so";

struct Plugin {
  int (*device_count)(char*, int) = nullptr;
  Backend* (*create)(int, char*, int) = nullptr;
  std::string error;  // why there is none
};

// Where the plugin may be, in order.
std::vector<std::string> Candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("INFERD_CUDA_BACKEND"); env != nullptr && *env != '\0') {
    paths.push_back(env);
  }
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) paths.push_back((exe.parent_path() / kPluginName).string());
#ifdef INFERD_CUDA_PLUGIN_BUILD_PATH
  paths.push_back(INFERD_CUDA_PLUGIN_BUILD_PATH);
#endif
  return paths;
}

const Plugin& LoadPlugin() {
  static const Plugin plugin = [] {
    Plugin p;
    std::vector<std::string> tried;
    for (const std::string& path : Candidates()) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) {
        tried.push_back(absl::StrCat(path, " (absent)"));
        continue;
      }
      // RTLD_LOCAL: the plugin's copies of common code stay its own. Never
      // closed: backends it made live until exit.
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        tried.push_back(absl::StrCat(path, " (", dlerror(), ")"));
        continue;
      }
      p.device_count =
          reinterpret_cast<int (*)(char*, int)>(dlsym(handle, "inferd_cuda_device_count"));
      p.create = reinterpret_cast<Backend* (*)(int, char*, int)>(
          dlsym(handle, "inferd_create_cuda_backend"));
      if (p.device_count != nullptr && p.create != nullptr) return p;
      tried.push_back(absl::StrCat(path, " (not an inferd CUDA backend)"));
      p.device_count = nullptr;
      p.create = nullptr;
    }
    p.error = absl::StrCat("this inferd has no CUDA backend: ", kPluginName,
                           " (built where nvcc is found) was not found: tried ",
                           absl::StrJoin(tried, ", "));
    return p;
  }();
  return plugin;
}

}  // namespace

int CudaDeviceCount() {
  const Plugin& p = LoadPlugin();
  if (p.device_count == nullptr) return 0;
  std::array<char, 256> error{};
  return p.device_count(error.data(), static_cast<int>(error.size()));
}

absl::StatusOr<std::shared_ptr<Backend>> CreateCudaBackend(DType activation_dtype) {
  const Plugin& p = LoadPlugin();
  if (p.create == nullptr)
    return absl::FailedPreconditionError(absl::StrCat("--device cuda: ", p.error));
  std::array<char, 256> error{};
  Backend* backend =
      p.create(static_cast<int>(activation_dtype), error.data(), static_cast<int>(error.size()));
  if (backend == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("--device cuda: no CUDA device can be used (", error.data(), ")"));
  }
  return std::shared_ptr<Backend>(backend);
}

}  // namespace inferd::engine
