// Whole-model parity on the random-weight tiny checkpoints (GQA 8 q / 2 kv
// heads of 16, untied LM head, 32000-token vocabulary): dense Llama, Mixtral
// (top-2 of 8, renormalised), Qwen2-MoE (q/k/v bias, top-4 of 8 not
// renormalised, sigmoid-gated shared expert) and Qwen3-MoE (per-head q/k
// RMSNorm, top-2 of 8 renormalised, one dense layer via mlp_only_layers).
// References: ../shared/golden/tiny-*.json and .last_logits.npy (llama.cpp
// F32, or HF transformers float64 for Qwen3-MoE; each cross-checked there by
// an independent numpy implementation).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>

#include "engine/engine.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/config.h"
#include "engine/model/transformer.h"
#include "engine/model/weight_store.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine_test_util.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

// Reads a little-endian float32 .npy array (C order); returns its values.
std::vector<float> ReadNpyF32(const std::string& path, std::vector<int64_t>* shape) {
  const std::string bytes = ReadFileOrDie(path);
  EXPECT_EQ(bytes.substr(1, 5), "NUMPY") << path;
  const uint16_t header_len =
      static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  const std::string header = bytes.substr(10, header_len);
  EXPECT_NE(header.find("'<f4'"), std::string::npos) << header;
  EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << header;
  const size_t open = header.find("'shape': (");
  shape->clear();
  for (size_t i = open + 10; header[i] != ')';) {
    size_t end = i;
    shape->push_back(std::stoll(header.substr(i), &end));
    i += end;
    while (header[i] == ',' || header[i] == ' ') ++i;
  }
  const size_t data = 10 + header_len;
  std::vector<float> v((bytes.size() - data) / sizeof(float));
  std::memcpy(v.data(), bytes.data() + data, v.size() * sizeof(float));
  return v;
}

struct TinyModel {
  const char* name;
  double logit_tolerance;  // max |logit diff| at the last prompt position
};

class TinyModelGoldenTest : public ::testing::TestWithParam<TinyModel> {
 protected:
  void SetUp() override {
    INFERD_REQUIRE_SHARED(std::string("golden/") + GetParam().name + ".json");
    INFERD_REQUIRE_SHARED(std::string("models/") + GetParam().name);
    std::ifstream in(SharedPath(std::string("golden/") + GetParam().name + ".json"));
    golden_ = nlohmann::json::parse(in);
    model_dir_ = SharedPath(std::string("models/") + GetParam().name);
  }
  nlohmann::json golden_;
  std::string model_dir_;
};

// Last-position logits of every golden prompt, one prefill each, with the
// weights stored as `dtype` and the KV cache as `kv_dtype`: [prompts, vocab].
std::vector<float> LastLogits(const std::string& model_dir, const nlohmann::json& golden,
                              kernels::DType dtype, kernels::DType kv_dtype) {
  auto config = engine::ModelConfig::FromDirectory(model_dir);
  EXPECT_TRUE(config.ok()) << config.status();
  auto weights = engine::WeightStore::Open(model_dir);
  EXPECT_TRUE(weights.ok()) << weights.status();
  auto model = engine::Transformer::Load(*config, **weights, dtype);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  EXPECT_EQ((*model)->dtype(), dtype);
  const int64_t vocab = config->vocab_size;
  const int32_t block_size = 16;
  engine::KvCacheTensors kv((*model)->backend(), config->num_hidden_layers, 8, block_size,
                            (*model)->kv_dim(), kv_dtype);
  std::vector<float> out;
  for (const auto& p : golden["prompts"]) {
    const auto ids = p["token_ids"].get<std::vector<int32_t>>();
    EXPECT_LE(ids.size(), 8u * block_size) << "the prompt does not fit the 8 blocks";
    if (ids.size() > 8u * block_size) return {};
    engine::InputBatch batch;
    batch.Clear();
    for (size_t i = 0; i < ids.size(); ++i) {
      batch.token_ids.push_back(ids[i]);
      batch.positions.push_back(static_cast<int32_t>(i));
      batch.slot_mapping.push_back(static_cast<int32_t>(i));
    }
    batch.query_start.push_back(static_cast<int32_t>(ids.size()));
    batch.seq_lens.push_back(static_cast<int32_t>(ids.size()));
    batch.max_blocks_per_seq = 8;
    batch.block_tables = {0, 1, 2, 3, 4, 5, 6, 7};
    batch.logits_rows.push_back(static_cast<int32_t>(ids.size()) - 1);
    std::vector<float> logits(vocab);
    (*model)->Forward(batch, &kv, engine::TensorView::HostF32(logits.data(), {1, vocab}));
    out.insert(out.end(), logits.begin(), logits.end());
  }
  return out;
}

// The transformer alone, one prefill per prompt: every one of the 32000
// last-position logits against the reference .npy.
TEST_P(TinyModelGoldenTest, LastPositionLogitsMatchTheReference) {
  std::vector<int64_t> shape;
  const std::vector<float> want =
      ReadNpyF32(SharedPath(std::string("golden/") + GetParam().name + ".last_logits.npy"), &shape);
  ASSERT_EQ(shape.size(), 2u);
  const int64_t vocab = shape[1];
  const std::vector<float> got =
      LastLogits(model_dir_, golden_, kernels::DType::kF32, kernels::DType::kF32);
  ASSERT_EQ(got.size(), want.size());
  int row = 0;
  for (const auto& p : golden_["prompts"]) {
    double max_diff = 0;
    int64_t worst = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      const double d = std::fabs(static_cast<double>(got[row * vocab + v]) - want[row * vocab + v]);
      if (d > max_diff) {
        max_diff = d;
        worst = v;
      }
    }
    std::printf("%s \"%s\": max |logit diff| %.3g over %lld logits\n", GetParam().name,
                p["text"].get<std::string>().c_str(), max_diff, static_cast<long long>(vocab));
    EXPECT_LE(max_diff, GetParam().logit_tolerance)
        << "prompt \"" << p["text"].get<std::string>() << "\": token " << worst << " got "
        << got[row * vocab + worst] << " want " << want[row * vocab + worst];
    ++row;
  }
  EXPECT_EQ(row, shape[0]);
}

// bf16/fp16 weights and KV cache against the fp32 reference logits. Storage
// rounding (relative 2^-9 for bf16, 2^-12 for fp16, per weight and per cached
// K/V element) moves each logit by a small multiple of that times its
// magnitude; the bound is per dtype: max |diff| <= tol * max |logit|. The
// argmax must agree wherever the reference's top-1/top-2 gap exceeds twice
// the bound (a smaller gap is a legitimate near-tie).
TEST_P(TinyModelGoldenTest, Bf16AndFp16StayWithinTheirToleranceOfTheFp32Logits) {
  using kernels::DType;
  std::vector<int64_t> shape;
  const std::vector<float> want =
      ReadNpyF32(SharedPath(std::string("golden/") + GetParam().name + ".last_logits.npy"), &shape);
  ASSERT_EQ(shape.size(), 2u);
  const int64_t vocab = shape[1];
  struct Case {
    DType weights, kv;
    double tolerance;  // relative to max |logit| of the prompt
  };
  for (const Case& c :
       {Case{DType::kBF16, DType::kBF16, 0.016}, Case{DType::kF16, DType::kF16, 0.002},
        Case{DType::kF32, DType::kBF16, 0.008}}) {
    const std::vector<float> got = LastLogits(model_dir_, golden_, c.weights, c.kv);
    ASSERT_EQ(got.size(), want.size());
    for (int64_t row = 0; row < shape[0]; ++row) {
      const float* w = want.data() + row * vocab;
      const float* g = got.data() + row * vocab;
      double max_diff = 0, max_abs = 0;
      int64_t best_w = 0, best_g = 0;
      for (int64_t v = 0; v < vocab; ++v) {
        max_diff = std::max(max_diff, std::fabs(static_cast<double>(g[v]) - w[v]));
        max_abs = std::max(max_abs, std::fabs(static_cast<double>(w[v])));
        if (w[v] > w[best_w]) best_w = v;
        if (g[v] > g[best_g]) best_g = v;
      }
      double second = -INFINITY;
      for (int64_t v = 0; v < vocab; ++v) {
        if (v != best_w) second = std::max(second, static_cast<double>(w[v]));
      }
      const double bound = c.tolerance * max_abs;
      std::printf(
          "%s weights %s kv %s prompt %lld: max |logit diff| %.3g (%.3g of max |logit| "
          "%.3g), argmax %s\n",
          GetParam().name, kernels::DTypeName(c.weights), kernels::DTypeName(c.kv),
          static_cast<long long>(row), max_diff, max_diff / max_abs, max_abs,
          best_g == best_w ? "equal" : "differs");
      EXPECT_LE(max_diff, bound) << kernels::DTypeName(c.weights) << "/" << kernels::DTypeName(c.kv)
                                 << " prompt " << row;
      if (w[best_w] - second > 2 * bound) {
        EXPECT_EQ(best_g, best_w) << kernels::DTypeName(c.weights) << " prompt " << row;
      }
    }
  }
}

// Through the engine: 32 greedy ids (EOS not a stop) and the top-20
// log-probabilities of the first step.
TEST_P(TinyModelGoldenTest, GreedyIdsAndLogprobsThroughTheEngine) {
  engine::EngineConfig cfg;
  cfg.model_dir = model_dir_;
  cfg.kv_cache_memory_bytes = 64ll << 20;
  auto e = engine::Engine::Create(cfg);
  ASSERT_TRUE(e.ok()) << e.status();
  int index = 0;
  for (const auto& p : golden_["prompts"]) {
    const std::string text = p["text"];
    engine::Request r =
        Greedy("t" + std::to_string(index++), p["token_ids"].get<std::vector<int32_t>>(), 32);
    r.sampling.ignore_eos = true;
    r.sampling.logprobs = 20;
    Collected got = RunOne(**e, std::move(r));
    ASSERT_TRUE(got.status.ok()) << got.status;
    EXPECT_EQ(got.ids, p["greedy_ids"].get<std::vector<int32_t>>()) << "prompt \"" << text << "\"";
    ASSERT_FALSE(got.logprobs.empty());
    const engine::TokenLogprob& first = got.logprobs[0];
    const double lse = p["logsumexp"].get<double>();
    const auto& top20 = p["top20"];
    ASSERT_EQ(first.top.size(), top20.size());
    std::map<int32_t, float> ours(first.top.begin(), first.top.end());
    // Ranks 0..18: rank 19 may legitimately swap with rank 20 on a near-tie.
    for (size_t i = 0; i + 1 < top20.size(); ++i) {
      const int32_t id = top20[i][0];
      ASSERT_TRUE(ours.count(id)) << "id " << id << " (rank " << i << ") missing, \"" << text
                                  << "\"";
      EXPECT_NEAR(ours[id], top20[i][1].get<double>() - lse, 2 * GetParam().logit_tolerance)
          << "rank " << i << ", prompt \"" << text << "\"";
    }
    EXPECT_EQ(first.token_id, top20[0][0].get<int32_t>());
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TinyModelGoldenTest,
                         ::testing::Values(TinyModel{"tiny-llama", 1e-5},
                                           TinyModel{"tiny-mixtral", 1e-5},
                                           TinyModel{"tiny-qwen2moe", 1e-5},
                                           TinyModel{"tiny-qwen3moe", 1e-5}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& c : n) c = (c == '-') ? '_' : c;
                           return n;
                         });

}  // namespace
}  // namespace inferd::testing
