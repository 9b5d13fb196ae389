// engine/model/safetensors.h — parsing of .safetensors files.
//
// A SafetensorsFile keeps the file's descriptor and reads tensors with pread
// straight into memory the caller owns (ReadInto), converting dtype on the
// way when asked; by default nothing maps or points into the file after
// loading (a file replaced or truncated under a running server must not fault
// it), and the page cache is the only other copy (not counted in the
// process's resident memory). Only --load-format mmap (load_format.h) asks
// for Map: a tensor's bytes inside a read-only mapping of the file, which
// then faults (SIGBUS) if the file is truncated under it. Every header field is checked: JSON
// syntax, dtype, shape, data_offsets inside the data section, offsets consistent with shape*dtype
// size, no overlaps. Errors name the file and the tensor.
#ifndef INFERD_ENGINE_MODEL_SAFETENSORS_H_
#define INFERD_ENGINE_MODEL_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/regular_file.h"
#include "engine/model/dtype.h"

namespace inferd::engine {

struct TensorInfo {
  DType dtype;  // F32, F16 or BF16; other dtypes are rejected at parse time
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets inside the data section
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Parses a header from bytes (for tests and fuzzing): `bytes` is the whole
  // file content.
  static absl::StatusOr<std::map<std::string, TensorInfo>> ParseHeader(const uint8_t* bytes,
                                                                       uint64_t size,
                                                                       const std::string& origin);

  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::string& path() const { return path_; }
  // Reads tensor `name` into `dst` (numel elements of `dtype`), converting
  // from the stored dtype (to fp32 exactly; from fp32 rounding to nearest
  // even). DATA_LOSS when the file turns out shorter than its header says.
  absl::Status ReadInto(const std::string& name, DType dtype, void* dst) const;
  // Tensor `name`'s stored bytes inside a read-only MAP_SHARED mapping of the
  // whole file (made on the first call, shared by all; madvise WILLNEED on
  // the tensor's pages). `mapping` keeps the mapping alive: it is unmapped
  // when the last holder lets go (after this object is gone too, if need
  // be). DATA_LOSS when the file is now shorter than the header says;
  // INTERNAL when mmap fails. Thread-safe.
  struct Mapped {
    std::shared_ptr<const void> mapping;
    const void* data = nullptr;
  };
  absl::StatusOr<Mapped> Map(const std::string& name) const;
  // Copies tensor `name` out as fp32 into `out` (resized to numel).
  absl::Status LoadF32(const std::string& name, std::vector<float>* out) const;

 private:
  SafetensorsFile(std::string path, RegularFile file);
  std::string path_;
  RegularFile file_;
  uint64_t data_start_ = 0;  // 8 + header length
  std::map<std::string, TensorInfo> tensors_;
  mutable std::mutex map_mutex_;
  mutable std::shared_ptr<const void> mapping_;  // the whole file; null until Map
  mutable uint64_t mapped_size_ = 0;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_SAFETENSORS_H_
