// engine/model/weight_store.cc
#include "engine/model/weight_store.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/check.h"
#include "common/json_fields.h"
#include "kernels/ops.h"
#include "kernels/quant_blocks.h"

namespace inferd::engine {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// weight_map of an index file: tensor name -> shard file name (a plain name
// inside the directory).
absl::StatusOr<std::map<std::string, std::string>> ReadIndex(const std::string& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<Json> j = ParseJson(*text, path);
  if (!j.ok()) return j.status();
  if (!j->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a JSON object, got ", JsonTypeName(*j)));
  }
  auto wm = j->find("weight_map");
  if (wm == j->end() || !wm->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": field `weight_map` is missing or not an object"));
  }
  std::map<std::string, std::string> map;
  for (const auto& [name, shard] : wm->items()) {
    if (!shard.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": field `weight_map.", name,
                                                     "`: expected a file name, got ",
                                                     JsonTypeName(shard)));
    }
    const std::string file = shard.get<std::string>();
    if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
        file.find('\\') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": field `weight_map.", name,
                                                     "`: shard \"", file,
                                                     "\" is not a file name in the directory"));
    }
    map.emplace(name, file);
  }
  return map;
}

// A tensor served from a read-only mapping of its safetensors file
// (LoadFormat::kMmap): holds the mapping, which outlives the store and the
// file's descriptor. The view is writable in type only: PROT_READ pages.
class MappedStorage final : public Storage {
 public:
  explicit MappedStorage(SafetensorsFile::Mapped mapped) : mapped_(std::move(mapped)) {}
  void* data() override { return const_cast<void*>(mapped_.data); }
  Device device() const override { return Device::kCpu; }

 private:
  SafetensorsFile::Mapped mapped_;
};

// The project's DType of a GGUF tensor type.
absl::StatusOr<DType> DTypeOfGguf(const GgufFile& f, const GgufTensorInfo& t) {
  switch (t.type) {
    case GgmlType::kF32:
      return DType::kF32;
    case GgmlType::kF16:
      return DType::kF16;
    case GgmlType::kBF16:
      return DType::kBF16;
    case GgmlType::kQ8_0:
      return DType::kQ8_0;
    case GgmlType::kQ4_0:
      return DType::kQ4_0;
    case GgmlType::kQ4_1:
      return DType::kQ4_1;
    case GgmlType::kQ5_0:
      return DType::kQ5_0;
    case GgmlType::kQ5_1:
      return DType::kQ5_1;
    case GgmlType::kQ4_K:
      return DType::kQ4_K;
    case GgmlType::kQ5_K:
      return DType::kQ5_K;
    case GgmlType::kQ6_K:
      return DType::kQ6_K;
  }
  return absl::UnimplementedError(
      absl::StrCat(f.path(), ": tensor `", t.name, "`: type ", GgmlTypeName(t.type),
                   " is parsed but not loaded (F32, F16, BF16, "
                   "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K are)"));
}

// `n` elements of `from` at `src` as `to` at `dst`; `wide` is scratch.
void ConvertRow(const uint8_t* src, DType from, int64_t n, uint8_t* dst, DType to,
                std::vector<float>* wide) {
  if (from == to) {
    std::memcpy(dst, src, static_cast<size_t>(kernels::DTypeBytes(from, n)));
    return;
  }
  wide->resize(static_cast<size_t>(n));
  float* f = to == DType::kF32 ? reinterpret_cast<float*>(dst) : wide->data();
  if (from == DType::kF32) {
    std::memcpy(f, src, static_cast<size_t>(n) * sizeof(float));
  } else if (kernels::IsQuantized(from)) {
    kernels::DequantizeRow(from, src, n, f);
  } else {
    kernels::ConvertToF32(src, from, n, f);
  }
  if (to == DType::kF32) return;
  if (kernels::IsQuantized(to)) {
    kernels::QuantizeRow(to, f, n, dst);
  } else {
    kernels::ConvertFromF32(f, n, dst, to);
  }
}

}  // namespace

absl::Status WeightStore::Add(std::unique_ptr<SafetensorsFile> file) {
  for (const auto& [name, info] : file->tensors()) {
    auto [it, inserted] = by_name_.emplace(name, file.get());
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("tensor `", name, "` is in both ",
                                                     it->second->path(), " and ", file->path()));
    }
  }
  files_.push_back(std::move(file));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WeightStore>> WeightStore::Open(const std::string& dir,
                                                               LoadFormat format) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("model directory ", dir, " not found"));
  }
  std::unique_ptr<WeightStore> store(new WeightStore());
  store->dir_ = dir;
  store->format_ = format;
  const fs::path root(dir);
  const std::string index_path = (root / "model.safetensors.index.json").string();
  const std::string single_path = (root / "model.safetensors").string();
  // symlink_status: a link that loops or dangles is there, and opening it
  // says what is wrong with it.
  if (fs::exists(fs::symlink_status(index_path, ec))) {
    absl::StatusOr<std::map<std::string, std::string>> index = ReadIndex(index_path);
    if (!index.ok()) return index.status();
    std::set<std::string> shards;
    for (const auto& [name, shard] : *index) shards.insert(shard);
    for (const std::string& shard : shards) {
      const std::string shard_path = (root / shard).string();
      if (!fs::exists(fs::symlink_status(shard_path, ec))) {
        return absl::NotFoundError(
            absl::StrCat(index_path, ": shard ", shard, " is missing (", shard_path, ")"));
      }
      absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(shard_path);
      if (!file.ok()) return file.status();
      if (absl::Status s = store->Add(*std::move(file)); !s.ok()) return s;
    }
    for (const auto& [name, shard] : *index) {
      auto it = store->by_name_.find(name);
      if (it == store->by_name_.end() || fs::path(it->second->path()).filename() != shard) {
        return absl::InvalidArgumentError(absl::StrCat(index_path, ": weight_map puts tensor `",
                                                       name, "` in ", shard, ", which lacks it"));
      }
    }
    return store;
  }
  std::vector<std::string> paths;
  if (fs::exists(fs::symlink_status(single_path, ec))) {
    paths.push_back(single_path);
  } else {
    for (const fs::directory_entry& e : fs::directory_iterator(root, ec)) {
      if (e.path().extension() == ".safetensors") paths.push_back(e.path().string());
    }
    std::sort(paths.begin(), paths.end());
  }
  if (paths.empty()) {
    return absl::NotFoundError(absl::StrCat(
        dir, ": no model.safetensors, model.safetensors.index.json or *.safetensors file"));
  }
  for (const std::string& path : paths) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
    if (!file.ok()) return file.status();
    if (absl::Status s = store->Add(*std::move(file)); !s.ok()) return s;
  }
  return store;
}

absl::StatusOr<std::unique_ptr<WeightStore>> WeightStore::OpenGguf(
    std::shared_ptr<const GgufFile> file, const ModelConfig& config, LoadFormat format) {
  absl::StatusOr<std::map<std::string, GgufTensorRef>> refs = MapGgufTensors(*file, config);
  if (!refs.ok()) return refs.status();
  std::unique_ptr<WeightStore> store(new WeightStore());
  store->dir_ = file->path();
  store->format_ = format;
  store->gguf_ = std::move(file);
  store->gguf_by_name_ = *std::move(refs);
  return store;
}

absl::StatusOr<const GgufTensorRef*> WeightStore::GgufRefOf(
    const std::string& name, const std::vector<int64_t>& expected_shape) const {
  auto it = gguf_by_name_.find(name);
  if (it == gguf_by_name_.end()) {
    return absl::NotFoundError(
        absl::StrCat(dir_, ": tensor `", name, "` (llama.cpp name of its GGUF tensor) not found"));
  }
  if (it->second.shape != expected_shape) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir_, ": tensor `", it->second.info->name, "` (", name, ") has shape ",
                     ShapeString(it->second.shape), " (GGUF dims reversed), expected ",
                     ShapeString(expected_shape)));
  }
  return &it->second;
}

absl::Status WeightStore::ReadGguf(const std::string& name, const GgufTensorRef& ref, DType dtype,
                                   void* dst) const {
  absl::StatusOr<DType> stored = DTypeOfGguf(*gguf_, *ref.info);
  if (!stored.ok()) return stored.status();
  const int64_t rows = ref.shape.size() >= 2 ? ref.numel / ref.shape.back() : 1;
  const int64_t cols = ref.numel / rows;
  if (cols % kernels::QuantBlockElems(dtype) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir_, ": tensor `", ref.info->name, "`: rows of ", cols,
                     " elements cannot be stored as ", kernels::DTypeName(dtype)));
  }
  int64_t head_dim = 0;
  if (ref.rope_heads > 0) {
    head_dim = ref.shape.size() == 2 && rows % ref.rope_heads == 0 ? rows / ref.rope_heads : 0;
    if (head_dim == 0 || head_dim % 2 != 0) {
      return absl::InvalidArgumentError(absl::StrCat(dir_, ": tensor `", ref.info->name,
                                                     "`: ", rows, " rows are not ", ref.rope_heads,
                                                     " heads of an even size"));
    }
  }
  const uint8_t* src = gguf_->TensorData(*ref.info) + ref.byte_offset;
  auto* out = static_cast<uint8_t*>(dst);
  if (cols % kernels::QuantBlockElems(*stored) != 0) {  // the parser checked; kept local
    return absl::InvalidArgumentError(absl::StrCat(dir_, ": tensor `", ref.info->name,
                                                   "`: rows of ", cols, " elements are not whole ",
                                                   GgmlTypeName(ref.info->type), " blocks"));
  }
  const int64_t in_row = kernels::DTypeBytes(*stored, cols);
  const int64_t out_row = kernels::DTypeBytes(dtype, cols);
  std::vector<float> wide;
  for (int64_t g = 0; g < rows; ++g) {
    int64_t r = g;
    if (head_dim > 0) {
      // llama.cpp's row 2j+t of a head is HF row t*head_dim/2 + j.
      const int64_t h = g / head_dim, j = (g % head_dim) / 2, t = g % 2;
      r = h * head_dim + t * (head_dim / 2) + j;
    }
    ConvertRow(src + g * in_row, *stored, cols, out + r * out_row, dtype, &wide);
  }
  bytes_loaded_ += kernels::DTypeBytes(dtype, ref.numel);
  Sample(name, ref.numel, dtype, dst);
  return absl::OkStatus();
}

std::optional<DType> WeightStore::StoredDType(const std::string& name) const {
  if (auto it = gguf_by_name_.find(name); it != gguf_by_name_.end()) {
    absl::StatusOr<DType> t = DTypeOfGguf(*gguf_, *it->second.info);
    return t.ok() ? std::optional<DType>(*t) : std::nullopt;
  }
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    return it->second->tensors().at(name).dtype;
  }
  return std::nullopt;
}

bool WeightStore::Has(const std::string& name) const {
  return by_name_.count(name) != 0 || gguf_by_name_.count(name) != 0;
}

absl::StatusOr<std::vector<int64_t>> WeightStore::Shape(const std::string& name) const {
  if (gguf_ != nullptr) {
    auto it = gguf_by_name_.find(name);
    if (it == gguf_by_name_.end()) {
      return absl::NotFoundError(absl::StrCat(dir_, ": tensor `", name, "` not found"));
    }
    return it->second.shape;
  }
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    return absl::NotFoundError(
        absl::StrCat(dir_, ": tensor `", name, "` not found in the model's safetensors files"));
  }
  return it->second->tensors().at(name).shape;
}

absl::StatusOr<const SafetensorsFile*> WeightStore::FileOf(
    const std::string& name, const std::vector<int64_t>& expected_shape) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    return absl::NotFoundError(
        absl::StrCat(dir_, ": tensor `", name, "` not found in the model's safetensors files"));
  }
  const std::vector<int64_t>& shape = it->second->tensors().at(name).shape;
  if (shape != expected_shape) {
    return absl::InvalidArgumentError(absl::StrCat(it->second->path(), ": tensor `", name,
                                                   "` has shape ", ShapeString(shape),
                                                   ", expected ", ShapeString(expected_shape)));
  }
  return it->second;
}

absl::Status WeightStore::Read(const SafetensorsFile& file, const std::string& name, int64_t numel,
                               DType dtype, void* dst) const {
  if (absl::Status s = file.ReadInto(name, dtype, dst); !s.ok()) return s;
  bytes_loaded_ += numel * kernels::DTypeSize(dtype);
  Sample(name, numel, dtype, dst);
  return absl::OkStatus();
}

void WeightStore::Sample(const std::string& name, int64_t numel, DType dtype,
                         const void* data) const {
  if (numel > 0) {
    constexpr int64_t kSamples = 257;
    const int64_t stride = std::max<int64_t>(1, numel / kSamples);
    const auto* bytes = static_cast<const uint8_t*>(data);
    bool any_finite = false;
    for (int64_t i = 0; i < numel && !any_finite; i += stride) {
      if (kernels::IsQuantized(dtype)) {  // the block holding element i
        const int64_t elems = kernels::QuantBlockElems(dtype);
        float v[kernels::kKQuantBlockElems];
        kernels::DequantizeRow(dtype, bytes + kernels::DTypeBytes(dtype, i / elems * elems), elems,
                               v);
        any_finite = std::isfinite(v[i % elems]);
        continue;
      }
      float v;
      kernels::ConvertToF32(bytes + i * kernels::DTypeSize(dtype), dtype, 1, &v);
      any_finite = std::isfinite(v);
    }
    if (!any_finite) {
      std::lock_guard<std::mutex> lock(non_finite_mutex_);
      non_finite_.push_back(name);
    }
  }
}

absl::StatusOr<Tensor> WeightStore::Load(const std::string& name,
                                         const std::vector<int64_t>& expected_shape,
                                         DType dtype) const {
  if (gguf_ != nullptr) {
    absl::StatusOr<const GgufTensorRef*> ref = GgufRefOf(name, expected_shape);
    if (!ref.ok()) return ref.status();
    absl::StatusOr<DType> stored = DTypeOfGguf(*gguf_, *(*ref)->info);
    if (!stored.ok()) return stored.status();
    if (format_ == LoadFormat::kMmap && *stored == dtype && (*ref)->rope_heads == 0) {
      const void* data = gguf_->TensorData(*(*ref)->info) + (*ref)->byte_offset;
      Tensor w(std::make_unique<MappedStorage>(SafetensorsFile::Mapped{gguf_->mapping(), data}),
               dtype, expected_shape);
      bytes_loaded_ += kernels::DTypeBytes(dtype, (*ref)->numel);
      bytes_mapped_ += kernels::DTypeBytes(dtype, (*ref)->numel);
      Sample(name, (*ref)->numel, dtype, w.data());
      return w;
    }
    absl::StatusOr<Tensor> w = Tensor::AllocateHost(dtype, expected_shape);
    if (!w.ok()) return w.status();
    if (absl::Status s = ReadGguf(name, **ref, dtype, w->data()); !s.ok()) return s;
    return w;
  }
  absl::StatusOr<const SafetensorsFile*> file = FileOf(name, expected_shape);
  if (!file.ok()) return file.status();
  if (format_ == LoadFormat::kMmap && (*file)->tensors().at(name).dtype == dtype) {
    absl::StatusOr<SafetensorsFile::Mapped> mapped = (*file)->Map(name);
    if (!mapped.ok()) return mapped.status();
    // Element-aligned (any safetensors writer's offsets are): the CPU kernels
    // load unaligned vectors (loadu) but read scalars as their type. A file
    // that is not falls back to the copy.
    if (reinterpret_cast<uintptr_t>(mapped->data) % kernels::DTypeSize(dtype) == 0) {
      const int64_t numel = ShapeNumel(expected_shape);
      Tensor w(std::make_unique<MappedStorage>(*std::move(mapped)), dtype, expected_shape);
      bytes_loaded_ += numel * kernels::DTypeSize(dtype);
      bytes_mapped_ += numel * kernels::DTypeSize(dtype);
      Sample(name, numel, dtype, w.data());
      return w;
    }
  }
  absl::StatusOr<Tensor> w = Tensor::AllocateHost(dtype, expected_shape);
  if (!w.ok()) return w.status();
  if (absl::Status s = Read(**file, name, w->numel(), dtype, w->data()); !s.ok()) return s;
  return w;
}

absl::StatusOr<Tensor> WeightStore::LoadStacked(const std::vector<Part>& parts, DType dtype) const {
  INFERD_CHECK(!parts.empty() && !parts[0].shape.empty());
  std::vector<int64_t> shape = parts[0].shape;
  shape[0] = 0;
  if (gguf_ != nullptr) {
    std::vector<const GgufTensorRef*> refs;
    for (const Part& part : parts) {
      absl::StatusOr<const GgufTensorRef*> ref = GgufRefOf(part.name, part.shape);
      if (!ref.ok()) return ref.status();
      refs.push_back(*ref);
      shape[0] += part.shape[0];
    }
    absl::StatusOr<Tensor> w = Tensor::AllocateHost(dtype, shape);
    if (!w.ok()) return w.status();
    int64_t offset = 0;  // elements
    auto* base = static_cast<uint8_t*>(w->data());
    for (size_t i = 0; i < parts.size(); ++i) {
      if (absl::Status s =
              ReadGguf(parts[i].name, *refs[i], dtype, base + kernels::DTypeBytes(dtype, offset));
          !s.ok()) {
        return s;
      }
      offset += refs[i]->numel;
    }
    return w;
  }
  std::vector<const SafetensorsFile*> files;
  for (const Part& part : parts) {
    INFERD_CHECK(part.shape.size() == shape.size() &&
                 std::equal(part.shape.begin() + 1, part.shape.end(), shape.begin() + 1))
        << part.name;
    absl::StatusOr<const SafetensorsFile*> file = FileOf(part.name, part.shape);
    if (!file.ok()) return file.status();
    files.push_back(*file);
    shape[0] += part.shape[0];
  }
  absl::StatusOr<Tensor> w = Tensor::AllocateHost(dtype, shape);
  if (!w.ok()) return w.status();
  int64_t offset = 0;  // elements
  for (size_t i = 0; i < parts.size(); ++i) {
    const int64_t numel = ShapeNumel(parts[i].shape);
    if (absl::Status s = Read(*files[i], parts[i].name, numel, dtype, w->at(offset)); !s.ok()) {
      return s;
    }
    offset += numel;
  }
  return w;
}

absl::StatusOr<std::vector<float>> WeightStore::LoadF32(
    const std::string& name, const std::vector<int64_t>& expected_shape) const {
  if (gguf_ != nullptr) {
    absl::StatusOr<const GgufTensorRef*> ref = GgufRefOf(name, expected_shape);
    if (!ref.ok()) return ref.status();
    std::vector<float> out(static_cast<size_t>((*ref)->numel));
    if (absl::Status s = ReadGguf(name, **ref, DType::kF32, out.data()); !s.ok()) return s;
    return out;
  }
  absl::StatusOr<const SafetensorsFile*> file = FileOf(name, expected_shape);
  if (!file.ok()) return file.status();
  const int64_t numel = ShapeNumel(expected_shape);
  std::vector<float> out(static_cast<size_t>(numel));
  if (absl::Status s = Read(**file, name, numel, DType::kF32, out.data()); !s.ok()) return s;
  return out;
}

DType WeightStore::StorageDType() const {
  if (gguf_ != nullptr) {
    // The embedding's type when it is a float type; quantized files load in
    // fp32 unless asked otherwise.
    auto embed = gguf_by_name_.find("model.embed_tokens.weight");
    if (embed != gguf_by_name_.end()) {
      absl::StatusOr<DType> t = DTypeOfGguf(*gguf_, *embed->second.info);
      if (t.ok() && !kernels::IsQuantized(*t)) return *t;
    }
    return DType::kF32;
  }
  auto embed = by_name_.find("model.embed_tokens.weight");
  if (embed != by_name_.end()) return embed->second->tensors().at(embed->first).dtype;
  double elements[3] = {0, 0, 0};
  for (const auto& file : files_) {
    for (const auto& [name, info] : file->tensors()) {
      double numel = 1;
      for (int64_t d : info.shape) numel *= static_cast<double>(d);
      elements[static_cast<int>(info.dtype)] += numel;
    }
  }
  int best = 0;
  for (int i = 1; i < 3; ++i) {
    if (elements[i] > elements[best]) best = i;
  }
  return static_cast<DType>(best);
}

std::vector<std::string> WeightStore::NonFiniteTensors() const {
  std::lock_guard<std::mutex> lock(non_finite_mutex_);
  std::vector<std::string> names = non_finite_;
  std::sort(names.begin(), names.end());
  return names;
}

double WeightStore::NumElements() const {
  double n = 0;
  for (const auto& [name, ref] : gguf_by_name_) n += static_cast<double>(ref.numel);
  for (const auto& file : files_) {
    for (const auto& [name, info] : file->tensors()) {
      double numel = 1;
      for (int64_t d : info.shape) numel *= static_cast<double>(d);
      n += numel;
    }
  }
  return n;
}

double WeightStore::BytesAs(DType dtype, bool quantized_as_stored) const {
  double bytes = NumElements() * static_cast<double>(kernels::DTypeSize(dtype));
  if (!quantized_as_stored) return bytes;
  for (const auto& [name, ref] : gguf_by_name_) {
    absl::StatusOr<DType> t = DTypeOfGguf(*gguf_, *ref.info);
    if (!t.ok() || !kernels::IsQuantized(*t)) continue;
    // A load-only type is held as q8_0 (engine/model/weight.h).
    const DType held = kernels::IsLoadOnly(*t) ? DType::kQ8_0 : *t;
    bytes -= static_cast<double>(ref.numel) * static_cast<double>(kernels::DTypeSize(dtype)) -
             static_cast<double>(kernels::DTypeBytes(held, ref.numel));
  }
  return bytes;
}

std::vector<std::string> WeightStore::Names() const {
  std::vector<std::string> names;
  names.reserve(by_name_.size() + gguf_by_name_.size());
  for (const auto& [name, file] : by_name_) names.push_back(name);
  for (const auto& [name, ref] : gguf_by_name_) names.push_back(name);
  return names;
}

}  // namespace inferd::engine
