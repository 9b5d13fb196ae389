// tests/unit/spec_decode/medusa_heads_test.cc — Medusa heads on small random
// weights written to a temporary directory: logits against a double
// precision reference, top-s order (ties: lower id first), batch invariance,
// and every load error.
#include "engine/spec_decode/medusa_heads.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::testing {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kHidden = 8;
constexpr int64_t kVocab = 40;
constexpr int32_t kHeads = 3;

engine::ModelConfig Target(int64_t hidden = kHidden, int64_t vocab = kVocab) {
  engine::ModelConfig c;
  c.hidden_size = hidden;
  c.vocab_size = vocab;
  return c;
}

std::vector<float> Random(size_t n, std::mt19937* rng, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(*rng);
  return v;
}

struct HeadWeights {
  std::vector<float> w1, b1, w2;  // [hidden, hidden], [hidden], [vocab, hidden]
};

// Random heads; in head 1, token 7's and token 3's output rows equal token
// 20's, so their logits tie exactly.
std::vector<HeadWeights> RandomHeads(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<HeadWeights> heads(kHeads);
  for (HeadWeights& h : heads) {
    h.w1 = Random(kHidden * kHidden, &rng, 0.5f);
    h.b1 = Random(kHidden, &rng, 0.1f);
    h.w2 = Random(kVocab * kHidden, &rng);
  }
  for (int64_t tied : {3, 7}) {
    for (int64_t c = 0; c < kHidden; ++c)
      heads[1].w2[tied * kHidden + c] = heads[1].w2[20 * kHidden + c];
  }
  return heads;
}

std::vector<RawTensor> HeadTensors(const std::vector<HeadWeights>& heads) {
  std::vector<RawTensor> t;
  for (size_t k = 0; k < heads.size(); ++k) {
    const std::string p = std::to_string(k) + ".";
    t.push_back({p + "0.linear.weight", "F32", {kHidden, kHidden}, F32Bytes(heads[k].w1)});
    t.push_back({p + "0.linear.bias", "F32", {kHidden}, F32Bytes(heads[k].b1)});
    t.push_back({p + "1.weight", "F32", {kVocab, kHidden}, F32Bytes(heads[k].w2)});
  }
  return t;
}

nlohmann::json Config(int64_t heads = kHeads) {
  return {{"medusa_num_heads", heads},
          {"medusa_num_layers", 1},
          {"hidden_size", kHidden},
          {"vocab_size", kVocab}};
}

void WriteDir(const TempDir& dir, const nlohmann::json& config,
              const std::vector<RawTensor>& tensors) {
  WriteFile(dir.path() / "config.json", config.dump());
  WriteFile(dir.path() / "medusa_lm_head.safetensors", SafetensorsBytes(tensors));
}

// logits_k(h) = W2 (h + SiLU(W1 h + b1)) in double.
std::vector<double> ReferenceLogits(const HeadWeights& w, const float* h) {
  std::vector<double> res(kHidden);
  for (int64_t i = 0; i < kHidden; ++i) {
    double z = w.b1[i];
    for (int64_t c = 0; c < kHidden; ++c) z += double{w.w1[i * kHidden + c]} * h[c];
    res[i] = h[i] + z / (1.0 + std::exp(-z));
  }
  std::vector<double> out(kVocab);
  for (int64_t v = 0; v < kVocab; ++v) {
    for (int64_t c = 0; c < kHidden; ++c) out[v] += double{w.w2[v * kHidden + c]} * res[c];
  }
  return out;
}

std::string LoadError(const TempDir& dir, const engine::ModelConfig& target = Target()) {
  auto m = engine::MedusaHeads::Load(dir.path().string(), target);
  EXPECT_FALSE(m.ok());
  return m.ok() ? "" : std::string(m.status().message());
}

TEST(MedusaHeadsTest, LogitsMatchADoublePrecisionReference) {
  TempDir dir;
  const std::vector<HeadWeights> heads = RandomHeads(1);
  WriteDir(dir, Config(), HeadTensors(heads));
  auto m = engine::MedusaHeads::Load(dir.path().string(), Target());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->num_heads(), kHeads);
  std::mt19937 rng(2);
  const int64_t n = 5;
  const std::vector<float> hidden = Random(n * kHidden, &rng);  // [n, hidden]
  std::vector<float> logits(n * kHeads * kVocab);               // [n, heads, vocab]
  (*m)->Logits(engine::TensorView::HostF32(hidden.data(), {n, kHidden}), logits.data());
  for (int64_t i = 0; i < n; ++i) {
    for (int32_t k = 0; k < kHeads; ++k) {
      const std::vector<double> want = ReferenceLogits(heads[k], hidden.data() + i * kHidden);
      for (int64_t v = 0; v < kVocab; ++v) {
        EXPECT_NEAR(logits[(i * kHeads + k) * kVocab + v], want[v], 1e-4)
            << "row " << i << " head " << k << " token " << v;
      }
    }
  }
}

TEST(MedusaHeadsTest, TopSIsDescendingWithLowerIdsFirstOnTiesAndBatchInvariant) {
  TempDir dir;
  WriteDir(dir, Config(), HeadTensors(RandomHeads(3)));
  auto m = engine::MedusaHeads::Load(dir.path().string(), Target());
  ASSERT_TRUE(m.ok()) << m.status();
  std::mt19937 rng(4);
  const int64_t n = 6;
  const int32_t s = kVocab;  // the whole order
  const std::vector<float> hidden = Random(n * kHidden, &rng);
  std::vector<float> logits(n * kHeads * kVocab);
  (*m)->Logits(engine::TensorView::HostF32(hidden.data(), {n, kHidden}), logits.data());
  std::vector<int32_t> ids(n * kHeads * s);
  std::vector<float> vals(n * kHeads * s);
  (*m)->TopS(engine::TensorView::HostF32(hidden.data(), {n, kHidden}), s, ids.data(), vals.data());
  for (int64_t i = 0; i < n; ++i) {
    for (int32_t k = 0; k < kHeads; ++k) {
      const float* row = logits.data() + (i * kHeads + k) * kVocab;
      const int32_t* top = ids.data() + (i * kHeads + k) * s;
      std::vector<bool> seen(kVocab, false);
      for (int32_t r = 0; r < s; ++r) {
        ASSERT_GE(top[r], 0);
        ASSERT_LT(top[r], kVocab);
        EXPECT_FALSE(seen[top[r]]) << "id " << top[r] << " twice";
        seen[top[r]] = true;
        EXPECT_EQ(vals[(i * kHeads + k) * s + r], row[top[r]]);
        if (r > 0) {
          const float prev = row[top[r - 1]];
          EXPECT_TRUE(prev > row[top[r]] || (prev == row[top[r]] && top[r - 1] < top[r]))
              << "row " << i << " head " << k << " rank " << r;
        }
      }
    }
    // Head 1's tied tokens 3, 7, 20 come out adjacent, in id order.
    const int32_t* top = ids.data() + (i * kHeads + 1) * s;
    const int32_t at = static_cast<int32_t>(std::find(top, top + s, 3) - top);
    ASSERT_LE(at + 2, s - 1);
    EXPECT_EQ(top[at + 1], 7);
    EXPECT_EQ(top[at + 2], 20);
  }
  // A prefix of the order, and each row alone, give the same answer.
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int32_t> one(kHeads * 5);
    std::vector<float> one_vals(kHeads * 5);
    (*m)->TopS(engine::TensorView::HostF32(hidden.data() + i * kHidden, {1, kHidden}), 5,
               one.data(), one_vals.data());
    for (int32_t k = 0; k < kHeads; ++k) {
      for (int32_t r = 0; r < 5; ++r) {
        EXPECT_EQ(one[k * 5 + r], ids[(i * kHeads + k) * s + r]);
        EXPECT_EQ(one_vals[k * 5 + r], vals[(i * kHeads + k) * s + r]);  // bit for bit
      }
    }
  }
}

TEST(MedusaHeadsTest, MissingOrUnsupportedFilesAreNamed) {
  {
    TempDir dir;
    EXPECT_THAT(LoadError(dir), HasSubstr("config.json: file not found"));
  }
  {
    TempDir dir;
    WriteFile(dir.path() / "config.json", Config().dump());
    EXPECT_THAT(LoadError(dir), HasSubstr("medusa_lm_head.safetensors: file not found (Medusa "
                                          "heads must be in safetensors"));
  }
  EXPECT_THAT(engine::MedusaHeads::Load("/nonexistent/medusa", Target()).status().message(),
              HasSubstr("Medusa heads directory /nonexistent/medusa not found"));
}

TEST(MedusaHeadsTest, BadConfigFieldsAreNamed) {
  const std::vector<RawTensor> tensors = HeadTensors(RandomHeads(5));
  struct Case {
    nlohmann::json config;
    const char* error;
  };
  nlohmann::json no_heads = Config();
  no_heads.erase("medusa_num_heads");
  nlohmann::json two_layers = Config();
  two_layers["medusa_num_layers"] = 2;
  nlohmann::json zero_heads = Config();
  zero_heads["medusa_num_heads"] = 0;
  nlohmann::json wide = Config();
  wide["hidden_size"] = 16;
  nlohmann::json vocab = Config();
  vocab["vocab_size"] = 41;
  nlohmann::json text_heads = Config();
  text_heads["medusa_num_heads"] = "3";
  for (const Case& c : std::vector<Case>{
           {no_heads, "field `medusa_num_heads`"},
           {two_layers,
            "field `medusa_num_layers`: only 1 (one ResBlock per head) is supported, "
            "got 2"},
           {zero_heads, "field `medusa_num_heads`: must be between 1 and 64, got 0"},
           {wide, "field `hidden_size`: 16 differs from the target model's hidden_size (8)"},
           {vocab, "field `vocab_size`: 41 differs from the target model's vocab_size (40)"},
           {text_heads, "field `medusa_num_heads`"},
           {nlohmann::json::array(), "expected a JSON object, got an array"}}) {
    TempDir dir;
    WriteDir(dir, c.config, tensors);
    EXPECT_THAT(LoadError(dir), HasSubstr(c.error)) << c.config.dump();
  }
  TempDir dir;
  WriteDir(dir, Config(), tensors);
  WriteFile(dir.path() / "config.json", "{\"medusa_num_heads\": 3,");
  EXPECT_THAT(LoadError(dir), HasSubstr("config.json: invalid JSON"));
}

TEST(MedusaHeadsTest, BadTensorsAreNamed) {
  const std::vector<HeadWeights> heads = RandomHeads(6);
  {  // config says 4 heads, the file has 3
    TempDir dir;
    WriteDir(dir, Config(4), HeadTensors(heads));
    EXPECT_THAT(LoadError(dir), HasSubstr("tensor `3.0.linear.weight` is missing"));
  }
  {  // config says 2 heads, the file has 3
    TempDir dir;
    WriteDir(dir, Config(2), HeadTensors(heads));
    EXPECT_THAT(LoadError(dir), HasSubstr("unexpected tensor `2.0.linear.bias` (config.json says "
                                          "medusa_num_heads = 2"));
  }
  {  // a head for another model's vocabulary
    std::vector<RawTensor> t = HeadTensors(heads);
    t[2].shape = {kVocab + 2, kHidden};
    t[2].bytes.append(2 * kHidden * 4, '\0');
    TempDir dir;
    WriteDir(dir, Config(), t);
    EXPECT_THAT(LoadError(dir),
                HasSubstr("tensor `0.1.weight` has shape [42, 8], expected [40, 8]"));
  }
  {  // target hidden size differs and the config does not say
    nlohmann::json c = Config();
    c.erase("hidden_size");
    TempDir dir;
    WriteDir(dir, c, HeadTensors(heads));
    EXPECT_THAT(LoadError(dir, Target(16, kVocab)),
                HasSubstr("tensor `0.0.linear.weight` has shape [8, 8], expected [16, 16]"));
  }
  {  // garbage instead of safetensors
    TempDir dir;
    WriteFile(dir.path() / "config.json", Config().dump());
    WriteFile(dir.path() / "medusa_lm_head.safetensors", "not a safetensors file");
    EXPECT_THAT(LoadError(dir), HasSubstr("medusa_lm_head.safetensors"));
  }
}

}  // namespace
}  // namespace inferd::testing
