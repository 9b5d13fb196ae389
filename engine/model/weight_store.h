// engine/model/weight_store.h — every tensor of a model directory, from
// model.safetensors, the shards of model.safetensors.index.json, or all
// *.safetensors files; loaded tensor by tensor into memory the caller owns,
// or, with LoadFormat::kMmap, served from a read-only mapping of the file
// where the tensor needs neither fusing nor conversion (load_format.h); or
// every tensor of a GGUF file under the HF names (gguf_tensor_map.h), read
// from the file's mapping, converted (and q/k rows put back in HF order)
// where the dtype asked for differs from the stored one.
#ifndef INFERD_ENGINE_MODEL_WEIGHT_STORE_H_
#define INFERD_ENGINE_MODEL_WEIGHT_STORE_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/tensor.h"
#include "engine/model/config.h"
#include "engine/model/gguf_file.h"
#include "engine/model/gguf_tensor_map.h"
#include "engine/model/load_format.h"
#include "engine/model/safetensors.h"

namespace inferd::engine {

class WeightStore {
 public:
  static absl::StatusOr<std::unique_ptr<WeightStore>> Open(const std::string& dir,
                                                           LoadFormat format = LoadFormat::kCopy);
  // The tensors of a GGUF file, named and shaped for `config` (made from the
  // same file: gguf_config.h). Loading converts from the stored type (F32,
  // F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) to the one
  // asked for; a quantized type asked for as stored is used as stored. With kMmap a tensor needing
  // no conversion or row reordering is a view of the file's mapping; otherwise it is copied out of
  // it (the mapping is released with the store).
  static absl::StatusOr<std::unique_ptr<WeightStore>> OpenGguf(
      std::shared_ptr<const GgufFile> file, const ModelConfig& config,
      LoadFormat format = LoadFormat::kCopy);
  LoadFormat format() const { return format_; }
  // The dtype tensor `name` is stored in (a GGUF Q8_0/Q4_0 tensor can be
  // loaded in it as stored: weight.h skips quantizing it); nullopt when the
  // store lacks it or cannot load its type.
  std::optional<DType> StoredDType(const std::string& name) const;
  bool Has(const std::string& name) const;
  // Shape of a tensor; error naming the tensor when it is missing.
  absl::StatusOr<std::vector<int64_t>> Shape(const std::string& name) const;
  // The loaders below check that tensor `name` has `expected_shape` (the
  // error names the file, the tensor and both shapes) before allocating
  // anything, then read it (SafetensorsFile::ReadInto) in `dtype`.
  //
  // A new host Tensor of `dtype`. With kMmap, a tensor stored in `dtype` at
  // an element-aligned offset is instead a read-only view of the file's
  // mapping (its Storage keeps the mapping alive; writing to it faults).
  absl::StatusOr<Tensor> Load(const std::string& name, const std::vector<int64_t>& expected_shape,
                              DType dtype) const;
  // Several tensors stacked along their first dimension into one new Tensor
  // of `dtype` (fused q/k/v, gate/up, all experts of a layer): allocated
  // whole, each part read into place (copied in every LoadFormat). Parts must
  // agree on the other dims.
  struct Part {
    std::string name;
    std::vector<int64_t> shape;
  };
  absl::StatusOr<Tensor> LoadStacked(const std::vector<Part>& parts, DType dtype) const;
  // A vector of fp32 (norms, biases, small heads).
  absl::StatusOr<std::vector<float>> LoadF32(const std::string& name,
                                             const std::vector<int64_t>& expected_shape) const;
  std::vector<std::string> Names() const;
  // Elements of all tensors held (a double: only compared, never allocated).
  double NumElements() const;
  // Bytes of all tensors held as `dtype`, except those stored quantized when
  // quantized_as_stored (--quantization auto), counted as stored: what a
  // load will hold, within the small float tensors' dtype (a double: only
  // compared and reported).
  double BytesAs(DType dtype, bool quantized_as_stored) const;
  // The dtype the checkpoint stores its weights in: that of the embedding
  // when there is one, else the dtype holding the most elements. What
  // --dtype auto serves in.
  DType StorageDType() const;
  // Bytes the loaders have read into memory their callers own, in the
  // loaded dtypes (what a model loaded from this store holds).
  // Mapped tensors count too: BytesLoaded() - BytesMapped() were copied.
  int64_t BytesLoaded() const { return bytes_loaded_.load(); }
  // Of those, bytes served from a mapping of the files (kMmap only).
  int64_t BytesMapped() const { return bytes_mapped_.load(); }
  // A loader that turned `read_bytes` it loaded into `held_bytes` of another
  // form (quantized at load: engine/model/weight.h) says so here, so that
  // BytesLoaded counts what is held.
  void CountHeldBytes(int64_t read_bytes, int64_t held_bytes) const {
    bytes_loaded_ -= read_bytes - held_bytes;
  }
  // Matrices a loader was asked to quantize but kept in fp32 (rows not whole
  // blocks of 32: engine/model/weight.h), noted by it; sorted by name.
  void NoteKeptUnquantized(const std::string& name) const {
    std::lock_guard<std::mutex> lock(non_finite_mutex_);
    kept_unquantized_.push_back(name);
  }
  std::vector<std::string> KeptUnquantized() const {
    std::lock_guard<std::mutex> lock(non_finite_mutex_);
    std::vector<std::string> names = kept_unquantized_;
    std::sort(names.begin(), names.end());
    return names;
  }
  // Matrices asked for as stored (--quantization auto) but held as q8_0
  // (engine/model/weight.h): stacked parts stored in different quantized
  // types, or a load-only type (Q5_0, Q5_1); noted with why; sorted.
  void NoteRequantized(const std::string& what) const {
    std::lock_guard<std::mutex> lock(non_finite_mutex_);
    requantized_.push_back(what);
  }
  std::vector<std::string> Requantized() const {
    std::lock_guard<std::mutex> lock(non_finite_mutex_);
    std::vector<std::string> names = requantized_;
    std::sort(names.begin(), names.end());
    return names;
  }
  // The quantized dtypes of the matrices loaded so far (LoadWeight notes
  // each), in DType order.
  void NoteHeld(DType t) const { held_dtypes_ |= 1u << static_cast<int>(t); }
  std::vector<DType> HeldQuantized() const {
    std::vector<DType> types;
    for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
      if ((held_dtypes_.load() >> static_cast<int>(t)) & 1u) types.push_back(t);
    }
    return types;
  }
  // The tensors loaded so far whose sampled values (up to 257, evenly spaced:
  // negligible next to the read) were all NaN or infinite: a broken
  // checkpoint that would otherwise load without a word. Sorted by name.
  std::vector<std::string> NonFiniteTensors() const;

 private:
  // Adds every tensor of `file`; a name already held by another file is an error.
  absl::Status Add(std::unique_ptr<SafetensorsFile> file);
  // The file holding `name`, once its shape is checked against `expected_shape`.
  absl::StatusOr<const SafetensorsFile*> FileOf(const std::string& name,
                                                const std::vector<int64_t>& expected_shape) const;
  // Reads `name` (checked by FileOf) from `file` into `dst` as `dtype`, samples
  // it for all-NaN, and counts its bytes.
  absl::Status Read(const SafetensorsFile& file, const std::string& name, int64_t numel,
                    DType dtype, void* dst) const;
  // Samples `numel` elements of `dtype` at `data` for all-NaN (NonFiniteTensors).
  void Sample(const std::string& name, int64_t numel, DType dtype, const void* data) const;
  // The GGUF entry of `name` once its shape is checked against `expected_shape`.
  absl::StatusOr<const GgufTensorRef*> GgufRefOf(const std::string& name,
                                                 const std::vector<int64_t>& expected_shape) const;
  // Reads GGUF tensor `name` into `dst` as `dtype` (converted, rows
  // reordered), samples it and counts its bytes.
  absl::Status ReadGguf(const std::string& name, const GgufTensorRef& ref, DType dtype,
                        void* dst) const;

  std::string dir_;
  LoadFormat format_ = LoadFormat::kCopy;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> by_name_;
  std::shared_ptr<const GgufFile> gguf_;  // null for safetensors
  std::map<std::string, GgufTensorRef> gguf_by_name_;
  // The loaders may run on several threads at once (pread is positional).
  mutable std::atomic<int64_t> bytes_loaded_{0};
  mutable std::atomic<int64_t> bytes_mapped_{0};
  mutable std::mutex non_finite_mutex_;
  mutable std::vector<std::string> non_finite_;        // appended by Read
  mutable std::vector<std::string> kept_unquantized_;  // NoteKeptUnquantized (same mutex)
  mutable std::vector<std::string> requantized_;       // NoteRequantized (same mutex)
  mutable std::atomic<uint32_t> held_dtypes_{0};       // bit per DType: NoteHeld
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_WEIGHT_STORE_H_
