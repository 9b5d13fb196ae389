// engine/model/safetensors.h — parsing of .safetensors files and the sharded
// model.safetensors.index.json.
//
// A SafetensorsFile memory-maps the file only while it is open; LoadF32 copies
// a tensor out (converting F16/BF16 to F32), so nothing keeps pointing into the
// mapping after loading (a file replaced or truncated under a running server
// must not fault it). Every header field is checked: JSON syntax, dtype,
// shape, data_offsets inside the data section, offsets consistent with
// shape*dtype size, no overlaps. Errors name the file and the tensor.
#ifndef INFERD_ENGINE_MODEL_SAFETENSORS_H_
#define INFERD_ENGINE_MODEL_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::engine {

enum class DType { kF32, kF16, kBF16 };  // other dtypes are rejected at parse time

struct TensorInfo {
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets inside the data section
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  ~SafetensorsFile();
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
  // Copies tensor `name` out as fp32 into `out` (resized to numel).
  absl::Status LoadF32(const std::string& name, std::vector<float>* out) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;  // start of the mapping
  uint64_t size_ = 0;
  uint64_t data_start_ = 0;  // 8 + header length
  std::map<std::string, TensorInfo> tensors_;
};

// All tensors of a model directory: model.safetensors, or the shards listed in
// model.safetensors.index.json (weight_map), or every *.safetensors file.
class WeightStore {
 public:
  static absl::StatusOr<std::unique_ptr<WeightStore>> Open(const std::string& dir);
  bool Has(const std::string& name) const;
  // Shape of a tensor; error naming the tensor when it is missing.
  absl::StatusOr<std::vector<int64_t>> Shape(const std::string& name) const;
  // Loads `name` as fp32, checking its shape equals `expected_shape`; the
  // error names the file, the tensor, and both shapes.
  absl::StatusOr<std::vector<float>> LoadF32(const std::string& name,
                                             const std::vector<int64_t>& expected_shape) const;
  std::vector<std::string> Names() const;
  // Elements of all tensors held (a double: only compared, never allocated).
  double NumElements() const;
  // The tensors loaded so far by LoadF32 whose sampled values (up to 257,
  // evenly spaced: negligible next to the copy) were all NaN or infinite: a
  // broken checkpoint that would otherwise load without a word.
  const std::vector<std::string>& NonFiniteTensors() const { return non_finite_; }

 private:
  // Adds every tensor of `file`; a name already held by another file is an error.
  absl::Status Add(std::unique_ptr<SafetensorsFile> file);

  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> by_name_;
  mutable std::vector<std::string> non_finite_;  // appended by LoadF32
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_SAFETENSORS_H_
