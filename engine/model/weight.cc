// engine/model/weight.cc
#include "engine/model/weight.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/quant_blocks.h"

namespace inferd::engine {
namespace {

// The dtype a matrix of `shape` is held in when `dtype` is asked for: a
// quantized dtype needs whole blocks along each row (the input dimension); a
// matrix without them is kept in fp32 (noted in the store, and so in the
// load's warnings), as llama.cpp's quantizer keeps such tensors unquantized.
DType HeldDType(const WeightStore& w, const std::string& name, const std::vector<int64_t>& shape,
                DType dtype) {
  if (!kernels::IsQuantized(dtype)) return dtype;
  const int64_t row = shape.empty() ? 1 : shape.back();
  if (row % kernels::QuantBlockElems(dtype) == 0) return dtype;
  w.NoteKeptUnquantized(absl::StrCat(name, " (rows of ", row, ")"));
  return DType::kF32;
}

// The distinct quantized types the tensors `names` are stored in, in their
// order; empty when one of them is not stored quantized.
std::vector<DType> StoredQuantizedTypes(const WeightStore& w,
                                        const std::vector<const std::string*>& names) {
  std::vector<DType> stored;
  for (const std::string* name : names) {
    const std::optional<DType> t = w.StoredDType(*name);
    if (!t.has_value() || !kernels::IsQuantized(*t)) return {};
    if (std::find(stored.begin(), stored.end(), *t) == stored.end()) stored.push_back(*t);
  }
  return stored;
}

// The names of `parts`, pointing into them.
std::vector<const std::string*> PartNames(const std::vector<WeightStore::Part>& parts) {
  std::vector<const std::string*> names;
  for (const WeightStore::Part& part : parts) names.push_back(&part.name);
  return names;
}

// " +N stacked" for a matrix stacked with N others, "" alone.
std::string StackedMore(size_t parts) {
  return parts > 1 ? absl::StrCat(" +", parts - 1, " stacked") : "";
}

// WeightDType resolved for the parts `names` (one matrix, or stacked ones).
DType AskedDType(const WeightStore& w, const std::vector<const std::string*>& names,
                 WeightDType asked) {
  if (!asked.as_stored || names.empty()) return asked.dtype;
  const std::vector<DType> stored = StoredQuantizedTypes(w, names);
  if (stored.empty()) return asked.dtype;
  // One type a kernel computes on: as stored. Else (two types, or a
  // load-only one) q8_0, noted with the stored types.
  if (stored.size() == 1 && !kernels::IsLoadOnly(stored[0])) return stored[0];
  std::vector<std::string> types;
  for (DType t : stored) types.push_back(kernels::DTypeName(t));
  w.NoteRequantized(
      absl::StrCat(*names[0], StackedMore(names.size()), " (", absl::StrJoin(types, ", "), ")"));
  return DType::kQ8_0;
}

// `f32` [rows, k] quantized row by row into a new host tensor of `dtype`.
// What the store counted as read (fp32) becomes what is held.
absl::StatusOr<Tensor> Quantize(const WeightStore& w, const Tensor& f32, DType dtype) {
  absl::StatusOr<Tensor> q = Tensor::AllocateHost(dtype, f32.shape());
  if (!q.ok()) return q.status();
  const int64_t k = f32.shape().back();
  const int64_t rows = f32.numel() / k;
  const auto* src = static_cast<const float*>(f32.data());
  for (int64_t r = 0; r < rows; ++r) kernels::QuantizeRow(dtype, src + r * k, k, q->at(r * k));
  w.CountHeldBytes(f32.bytes(), q->bytes());
  return q;
}

}  // namespace

absl::StatusOr<Weight> LoadWeight(const WeightStore& w, Backend& backend, const std::string& name,
                                  const std::vector<int64_t>& shape, WeightDType asked) {
  const DType dtype = HeldDType(w, name, shape, AskedDType(w, {&name}, asked));
  // A tensor stored in the quantized dtype asked for (GGUF Q8_0/Q4_0/Q4_K/
  // Q6_K) is used as stored, not dequantized and quantized again.
  const bool quantize = kernels::IsQuantized(dtype) && w.StoredDType(name) != dtype;
  absl::StatusOr<Tensor> host = w.Load(name, shape, quantize ? DType::kF32 : dtype);
  if (quantize && host.ok()) host = Quantize(w, *host, dtype);
  if (!host.ok()) return host.status();
  w.NoteHeld(dtype);
  return backend.Adopt(*std::move(host));
}

bool StoredInMixedTypes(const WeightStore& w, const std::vector<WeightStore::Part>& parts,
                        WeightDType dtype) {
  return dtype.as_stored && StoredQuantizedTypes(w, PartNames(parts)).size() > 1;
}

absl::StatusOr<Weight> LoadStackedWeight(const WeightStore& w, Backend& backend,
                                         const std::vector<WeightStore::Part>& parts,
                                         WeightDType asked) {
  DType dtype = AskedDType(w, PartNames(parts), asked);
  if (!parts.empty()) dtype = HeldDType(w, parts[0].name, parts[0].shape, dtype);
  bool quantize = false;
  for (const WeightStore::Part& part : parts) {
    quantize |= kernels::IsQuantized(dtype) && w.StoredDType(part.name) != dtype;
  }
  absl::StatusOr<Tensor> host = w.LoadStacked(parts, quantize ? DType::kF32 : dtype);
  if (quantize && host.ok()) host = Quantize(w, *host, dtype);
  if (!host.ok()) return host.status();
  w.NoteHeld(dtype);
  return backend.Adopt(*std::move(host));
}

absl::Status MoveInto(absl::StatusOr<Weight> loaded, Weight* out) {
  if (!loaded.ok()) return loaded.status();
  *out = *std::move(loaded);
  return absl::OkStatus();
}

absl::StatusOr<Weight> LoadF32Weight(const WeightStore& w, Backend& backend,
                                     const std::vector<WeightStore::Part>& parts) {
  std::vector<float> values;
  for (const WeightStore::Part& part : parts) {
    absl::StatusOr<std::vector<float>> t = w.LoadF32(part.name, part.shape);
    if (!t.ok()) return t.status();
    values.insert(values.end(), t->begin(), t->end());
  }
  const int64_t n = static_cast<int64_t>(values.size());
  return backend.FromHost(values, {n});
}

}  // namespace inferd::engine
