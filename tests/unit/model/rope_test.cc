// tests/unit/model/rope_test.cc — ModelConfig::RopeInvFreq: plain RoPE and
// llama3 rope_scaling against HF's formula evaluated in double.
#include <cmath>
#include <numbers>
#include <vector>

#include "engine/model/config.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace inferd::engine {
namespace {

using Json = nlohmann::json;

Json Minimal() {
  return Json{{"architectures", {"LlamaForCausalLM"}},
              {"vocab_size", 1000},
              {"hidden_size", 64},
              {"intermediate_size", 128},
              {"num_hidden_layers", 2},
              {"num_attention_heads", 4}};
}

ModelConfig ParseOrDie(const Json& j) {
  absl::StatusOr<ModelConfig> c = ModelConfig::Parse(j.dump(), "test/config.json");
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : ModelConfig();
}

TEST(ModelConfigTest, DefaultRopeInvFreq) {
  Json j = Minimal();
  j["rope_theta"] = 1e6;
  const ModelConfig c = ParseOrDie(j);
  const std::vector<float> inv = c.RopeInvFreq();
  ASSERT_EQ(inv.size(), 8u);
  for (size_t i = 0; i < inv.size(); ++i) {
    const double expected = 1.0 / std::pow(1e6, 2.0 * static_cast<double>(i) / 16.0);
    EXPECT_NEAR(inv[i], expected, 1e-6 * expected) << i;
  }
  EXPECT_EQ(inv[0], 1.0f);
}

// HF _compute_llama3_parameters in double.
std::vector<double> Llama3Reference(int64_t head_dim, double theta, double factor, double low,
                                    double high, double old_len) {
  std::vector<double> out;
  for (int64_t i = 0; i < head_dim; i += 2) {
    const double f = 1.0 / std::pow(theta, static_cast<double>(i) / static_cast<double>(head_dim));
    const double wavelen = 2 * std::numbers::pi / f;
    double r = wavelen > old_len / low ? f / factor : f;
    if (!(wavelen < old_len / high) && !(wavelen > old_len / low)) {
      const double s = (old_len / wavelen - low) / (high - low);
      r = (1 - s) * r / factor + s * r;
    }
    out.push_back(r);
  }
  return out;
}

TEST(ModelConfigTest, Llama3RopeScalingMatchesHf) {
  // Llama 3.1 8B's rope settings.
  Json j = Minimal();
  j["hidden_size"] = 4096;
  j["num_attention_heads"] = 32;
  j["rope_theta"] = 500000.0;
  j["rope_scaling"] = {{"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192},
                       {"rope_type", "llama3"}};
  const ModelConfig c = ParseOrDie(j);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  const std::vector<float> inv = c.RopeInvFreq();
  const std::vector<double> ref = Llama3Reference(128, 500000.0, 8.0, 1.0, 4.0, 8192.0);
  ASSERT_EQ(inv.size(), ref.size());
  int scaled = 0, smoothed = 0;
  for (size_t i = 0; i < inv.size(); ++i) {
    EXPECT_NEAR(inv[i], ref[i], 2e-6 * ref[i]) << i;
    const double plain = 1.0 / std::pow(500000.0, 2.0 * static_cast<double>(i) / 128.0);
    if (std::abs(ref[i] - plain / 8) < 1e-9 * plain) ++scaled;
    if (ref[i] < plain * 0.999 && ref[i] > plain / 8 * 1.001) ++smoothed;
  }
  EXPECT_EQ(inv[0], 1.0f);  // high frequencies untouched
  EXPECT_GT(scaled, 10);    // low frequencies divided by the factor
  EXPECT_GT(smoothed, 2);   // and a smooth band in between
}

TEST(ModelConfigTest, RopeScalingTypeAliasAndDefault) {
  Json j = Minimal();
  j["rope_scaling"] = {{"type", "llama3"},
                       {"factor", 32.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  EXPECT_EQ(ParseOrDie(j).rope_scaling.type, "llama3");
  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_EQ(ParseOrDie(j).rope_scaling.type, "");
}

}  // namespace
}  // namespace inferd::engine
