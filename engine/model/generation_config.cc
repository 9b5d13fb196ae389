// engine/model/generation_config.cc — GenerationConfig: the optional
// generation_config.json (stop tokens, BOS, sampling defaults).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/json_fields.h"
#include "engine/model/config.h"

namespace inferd::engine {

namespace {

// A number field as a float: finite as a float (1e39 is finite as a double
// but not as a float) and inside the range `ok` accepts (`range` says it).
absl::Status ReadFloat(const JsonFields& f, const char* key, bool (*ok)(float), const char* range,
                       std::optional<float>* out) {
  absl::StatusOr<std::optional<double>> v = f.OptionalDouble(key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return absl::OkStatus();
  const float x = static_cast<float>(**v);
  if (!std::isfinite(x) || !ok(x)) {
    return f.Error(key, absl::StrCat("expected a number ", range, ", got ", **v));
  }
  *out = x;
  return absl::OkStatus();
}

absl::Status ReadSampling(const JsonFields& f, GenerationConfig* config) {
  absl::StatusOr<std::optional<bool>> do_sample = f.OptionalBool("do_sample");
  if (!do_sample.ok()) return do_sample.status();
  config->do_sample = *do_sample;
  absl::StatusOr<std::optional<int64_t>> top_k = f.OptionalInt("top_k");
  if (!top_k.ok()) return top_k.status();
  if (top_k->has_value()) {
    if (**top_k < -1 || **top_k > std::numeric_limits<int32_t>::max()) {
      return f.Error("top_k",
                     absl::StrCat("expected an integer >= 0 (0 or -1: disabled), got ", **top_k));
    }
    config->top_k = static_cast<int32_t>(std::max<int64_t>(**top_k, 0));
  }
  const struct {
    const char* key;
    bool (*ok)(float);
    const char* range;
    std::optional<float>* out;
  } floats[] = {
      {"temperature", [](float x) { return x >= 0.0f; }, ">= 0 (0: greedy)", &config->temperature},
      {"top_p", [](float x) { return x > 0.0f && x <= 1.0f; }, "in (0, 1]", &config->top_p},
      {"min_p", [](float x) { return x >= 0.0f && x <= 1.0f; }, "in [0, 1]", &config->min_p},
      {"repetition_penalty", [](float x) { return x > 0.0f; }, "> 0 (1: off)",
       &config->repetition_penalty},
  };
  for (const auto& field : floats) {
    if (absl::Status s = ReadFloat(f, field.key, field.ok, field.range, field.out); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GenerationConfig> GenerationConfig::FromDirectory(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "generation_config.json").string();
  GenerationConfig config;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return config;
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<nlohmann::json> j = ParseJson(*text, path);
  if (!j.ok()) return j.status();
  if (!j->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a JSON object, got ", JsonTypeName(*j)));
  }
  JsonFields f(*j, path);
  absl::StatusOr<std::vector<int32_t>> eos = f.TokenIds("eos_token_id");
  if (!eos.ok()) return eos.status();
  config.eos_token_ids = *std::move(eos);
  absl::StatusOr<std::optional<int64_t>> bos = f.OptionalInt("bos_token_id");
  if (!bos.ok()) return bos.status();
  if (bos->has_value()) {
    if (**bos < 0 || **bos > std::numeric_limits<int32_t>::max()) {
      return f.Error("bos_token_id", absl::StrCat("expected a token id, got ", **bos));
    }
    config.bos_token_id = static_cast<int32_t>(**bos);
  }
  if (absl::Status s = ReadSampling(f, &config); !s.ok()) return s;
  return config;
}

}  // namespace inferd::engine
