// engine/spec_decode/medusa_heads.cc
#include "engine/spec_decode/medusa_heads.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/check.h"
#include "common/json_fields.h"
#include "engine/backend/cpu_backend.h"
#include "engine/model/safetensors.h"

namespace inferd::engine {
namespace {

// More heads than a tree can be deep is a broken config, not a model.
constexpr int64_t kMaxHeads = 64;

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// config.json: medusa_num_heads, medusa_num_layers, and the sizes when given.
absl::StatusOr<int64_t> ReadHeadCount(const std::string& dir, const ModelConfig& target) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<nlohmann::json> j = ParseJson(*text, path);
  if (!j.ok()) return j.status();
  if (!j->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a JSON object, got ", JsonTypeName(*j)));
  }
  JsonFields f(*j, path);
  absl::StatusOr<int64_t> heads = f.Int("medusa_num_heads");
  if (!heads.ok()) return heads.status();
  if (*heads < 1 || *heads > kMaxHeads) {
    return f.Error("medusa_num_heads",
                   absl::StrCat("must be between 1 and ", kMaxHeads, ", got ", *heads));
  }
  absl::StatusOr<std::optional<int64_t>> layers = f.OptionalInt("medusa_num_layers");
  if (!layers.ok()) return layers.status();
  if (layers->value_or(1) != 1) {
    return f.Error("medusa_num_layers",
                   absl::StrCat("only 1 (one ResBlock per head) is supported, got ", **layers));
  }
  for (auto [key, want] : {std::pair<const char*, int64_t>{"hidden_size", target.hidden_size},
                           {"vocab_size", target.vocab_size}}) {
    absl::StatusOr<std::optional<int64_t>> v = f.OptionalInt(key);
    if (!v.ok()) return v.status();
    if (v->has_value() && **v != want) {
      return f.Error(key, absl::StrCat(**v, " differs from the target model's ", key, " (", want,
                                       "): these heads were trained for another model"));
    }
  }
  return *heads;
}

// Appends tensor `name` of `file`, checked against `shape`, to `out`.
absl::Status AppendChecked(const SafetensorsFile& file, const std::string& name,
                           const std::vector<int64_t>& shape, std::vector<float>* out) {
  auto it = file.tensors().find(name);
  if (it == file.tensors().end()) {
    return absl::NotFoundError(absl::StrCat(file.path(), ": tensor `", name, "` is missing"));
  }
  if (it->second.shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        file.path(), ": tensor `", name, "` has shape ", ShapeString(it->second.shape),
        ", expected ", ShapeString(shape), " (the target's hidden_size and vocab_size)"));
  }
  std::vector<float> t;
  if (absl::Status s = file.LoadF32(name, &t); !s.ok()) return s;
  out->insert(out->end(), t.begin(), t.end());
  return absl::OkStatus();
}

// Orders (logit, id) pairs: higher logit first, then lower id; NaN last.
inline bool Before(float a, int32_t a_id, float b, int32_t b_id) {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return a > b || (a == b && a_id < b_id);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MedusaHeads>> MedusaHeads::Load(const std::string& dir,
                                                               const ModelConfig& target,
                                                               std::shared_ptr<Backend> backend) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("Medusa heads directory ", dir, " not found"));
  }
  absl::StatusOr<int64_t> heads = ReadHeadCount(dir, target);
  if (!heads.ok()) return heads.status();
  const std::string path = (std::filesystem::path(dir) / "medusa_lm_head.safetensors").string();
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(
        absl::StrCat(path,
                     ": file not found (Medusa heads must be in safetensors; convert a "
                     "medusa_lm_head.pt with safetensors.torch.save_file)"));
  }
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();

  if (backend == nullptr) backend = CpuBackend::Create();
  std::unique_ptr<MedusaHeads> m(new MedusaHeads(std::move(backend)));
  m->num_heads_ = static_cast<int32_t>(*heads);
  m->hidden_ = target.hidden_size;
  m->vocab_ = target.vocab_size;
  const int64_t h = m->hidden_;
  std::set<std::string> expected;
  std::vector<float> w1, b1, w2;
  for (int64_t k = 0; k < *heads; ++k) {
    const std::string p = absl::StrCat(k, ".");
    for (auto [name, shape, dst] :
         {std::tuple<std::string, std::vector<int64_t>, std::vector<float>*>{
              p + "0.linear.weight", {h, h}, &w1},
          {p + "0.linear.bias", {h}, &b1},
          {p + "1.weight", {m->vocab_, h}, &w2}}) {
      if (absl::Status s = AppendChecked(**file, name, shape, dst); !s.ok()) return s;
      expected.insert(name);
    }
  }
  for (auto [values, shape, dst] :
       {std::tuple<const std::vector<float>*, std::vector<int64_t>, Weight*>{
            &w1, {*heads * h, h}, &m->w1_},
        {&b1, {*heads * h}, &m->b1_},
        {&w2, {*heads * m->vocab_, h}, &m->w2_}}) {
    absl::StatusOr<Tensor> t = m->backend_->FromHost(*values, shape);
    if (!t.ok()) return t.status();
    *dst = *std::move(t);
  }
  for (const auto& [name, info] : (*file)->tensors()) {
    if (expected.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unexpected tensor `", name, "` (config.json says medusa_num_heads = ", *heads,
          " with one ResBlock each: tensors {k}.0.linear.weight, {k}.0.linear.bias, {k}.1.weight "
          "for k < ",
          *heads, ")"));
    }
  }
  return m;
}

void MedusaHeads::EnsureScratch(int64_t n) {
  if (n <= capacity_) return;
  EnsureRows(*backend_, n, num_heads_ * hidden_, &pre_);
  EnsureRows(*backend_, n, hidden_, &z_);
  EnsureRows(*backend_, n, hidden_, &res_);
  EnsureRows(*backend_, n, vocab_, &logits_);
  capacity_ = n;
}

const float* MedusaHeads::HeadLogits(int32_t k, TensorView hidden) {
  Backend& b = *backend_;
  const int64_t n = hidden.rows();
  const TensorView z = z_.view().Rows(0, n);
  const TensorView res = res_.view().Rows(0, n);
  const TensorView logits = logits_.view().Rows(0, n);
  // ResBlock: res = h + SiLU(W1 h + b1), elementwise on [n, hidden].
  b.CopyColumns(pre_.view().Rows(0, n), k * hidden_, z, 0, hidden_);
  b.AddSilu(hidden, z, res);
  // [n, hidden] -> [n, vocab]
  b.Matmul(res, w2_.view().Rows(k * vocab_, vocab_), TensorView(), logits);
  return b.ReadToHost(logits, &host_logits_);
}

void MedusaHeads::Logits(TensorView hidden, float* out) {
  const int64_t n = hidden.rows();
  if (n == 0) return;
  EnsureScratch(n);
  // Every head's first linear at once: [n, hidden] -> [n, num_heads * hidden].
  backend_->Matmul(hidden, w1_.view(), b1_.view(), pre_.view().Rows(0, n));
  for (int32_t k = 0; k < num_heads_; ++k) {
    const float* logits = HeadLogits(k, hidden);
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(out + (i * num_heads_ + k) * vocab_, logits + i * vocab_, vocab_ * sizeof(float));
    }
  }
}

void MedusaHeads::TopS(TensorView hidden, int32_t top_s, int32_t* out_ids, float* out_logits) {
  INFERD_CHECK(top_s >= 1 && top_s <= vocab_) << "top_s " << top_s << " vocab " << vocab_;
  const int64_t n = hidden.rows();
  if (n == 0) return;
  EnsureScratch(n);
  backend_->Matmul(hidden, w1_.view(), b1_.view(), pre_.view().Rows(0, n));
  for (int32_t k = 0; k < num_heads_; ++k) {
    const float* logits = HeadLogits(k, hidden);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = logits + i * vocab_;
      int32_t* ids = out_ids + (i * num_heads_ + k) * top_s;
      // Insertion into a sorted top-s list; ids arrive in increasing order,
      // so an equal logit never displaces an earlier (lower) id.
      int32_t count = 0;
      for (int32_t v = 0; v < static_cast<int32_t>(vocab_); ++v) {
        if (count == top_s && !Before(row[v], v, row[ids[count - 1]], ids[count - 1])) continue;
        int32_t pos = count < top_s ? count++ : top_s - 1;
        while (pos > 0 && Before(row[v], v, row[ids[pos - 1]], ids[pos - 1])) {
          ids[pos] = ids[pos - 1];
          --pos;
        }
        ids[pos] = v;
      }
      if (out_logits != nullptr) {
        float* vals = out_logits + (i * num_heads_ + k) * top_s;
        for (int32_t r = 0; r < top_s; ++r) vals[r] = row[ids[r]];
      }
    }
  }
}

}  // namespace inferd::engine
