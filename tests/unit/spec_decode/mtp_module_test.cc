// tests/unit/spec_decode/mtp_module_test.cc — the MTP module on small random
// weights written to a temporary directory: logits against a double
// precision reference of the module's math (SOURCE.md of stories260K-mtp),
// prefill vs one-token-at-a-time decoding bit for bit, two sequences in one
// batch, and every load error.
#include "engine/spec_decode/mtp_module.h"

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

constexpr int64_t kHidden = 16;
constexpr int64_t kHeads = 4;
constexpr int64_t kKvHeads = 2;
constexpr int64_t kHeadDim = 4;
constexpr int64_t kInter = 24;
constexpr int64_t kVocab = 40;
constexpr int64_t kKvDim = kKvHeads * kHeadDim;
constexpr double kEps = 1e-5;
constexpr double kTheta = 10000.0;
constexpr const char* kPrefix = "model.layers.2.";

engine::ModelConfig Target() {
  engine::ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.hidden_size = kHidden;
  c.vocab_size = kVocab;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;  // the target's own layers differ from the module's
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.intermediate_size = 32;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 500000.0;
  c.max_position_embeddings = 128;
  return c;
}

nlohmann::json Config() {
  return {{"architectures", {"LlamaMTP"}},
          {"num_nextn_predict_layers", 1},
          {"mtp_layer_prefix", kPrefix},
          {"hidden_size", kHidden},
          {"intermediate_size", kInter},
          {"num_attention_heads", kHeads},
          {"num_key_value_heads", kKvHeads},
          {"rms_norm_eps", kEps},
          {"rope_theta", kTheta},
          {"vocab_size", kVocab},
          {"max_position_embeddings", 128},
          {"shared_embedding_and_lm_head", true}};
}

struct Weights {
  std::vector<float> enorm, hnorm, eh, in_norm, q, k, v, o, post_norm, gate, up, down, head_norm;
};

std::vector<float> Random(size_t n, std::mt19937* rng, float mean, float scale) {
  std::normal_distribution<float> d(mean, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(*rng);
  return v;
}

Weights RandomWeights(uint32_t seed) {
  std::mt19937 rng(seed);
  Weights w;
  w.enorm = Random(kHidden, &rng, 1.0f, 0.2f);
  w.hnorm = Random(kHidden, &rng, 1.0f, 0.2f);
  w.eh = Random(kHidden * 2 * kHidden, &rng, 0.0f, 0.3f);
  w.in_norm = Random(kHidden, &rng, 1.0f, 0.2f);
  w.q = Random(kHeads * kHeadDim * kHidden, &rng, 0.0f, 0.4f);
  w.k = Random(kKvDim * kHidden, &rng, 0.0f, 0.4f);
  w.v = Random(kKvDim * kHidden, &rng, 0.0f, 0.4f);
  w.o = Random(kHidden * kHeads * kHeadDim, &rng, 0.0f, 0.3f);
  w.post_norm = Random(kHidden, &rng, 1.0f, 0.2f);
  w.gate = Random(kInter * kHidden, &rng, 0.0f, 0.3f);
  w.up = Random(kInter * kHidden, &rng, 0.0f, 0.3f);
  w.down = Random(kHidden * kInter, &rng, 0.0f, 0.3f);
  w.head_norm = Random(kHidden, &rng, 1.0f, 0.2f);
  return w;
}

std::vector<RawTensor> Tensors(const Weights& w) {
  const std::string p = kPrefix;
  const int64_t q_dim = kHeads * kHeadDim;
  return {{p + "enorm.weight", "F32", {kHidden}, F32Bytes(w.enorm)},
          {p + "hnorm.weight", "F32", {kHidden}, F32Bytes(w.hnorm)},
          {p + "eh_proj.weight", "F32", {kHidden, 2 * kHidden}, F32Bytes(w.eh)},
          {p + "input_layernorm.weight", "F32", {kHidden}, F32Bytes(w.in_norm)},
          {p + "self_attn.q_proj.weight", "F32", {q_dim, kHidden}, F32Bytes(w.q)},
          {p + "self_attn.k_proj.weight", "F32", {kKvDim, kHidden}, F32Bytes(w.k)},
          {p + "self_attn.v_proj.weight", "F32", {kKvDim, kHidden}, F32Bytes(w.v)},
          {p + "self_attn.o_proj.weight", "F32", {kHidden, q_dim}, F32Bytes(w.o)},
          {p + "post_attention_layernorm.weight", "F32", {kHidden}, F32Bytes(w.post_norm)},
          {p + "mlp.gate_proj.weight", "F32", {kInter, kHidden}, F32Bytes(w.gate)},
          {p + "mlp.up_proj.weight", "F32", {kInter, kHidden}, F32Bytes(w.up)},
          {p + "mlp.down_proj.weight", "F32", {kHidden, kInter}, F32Bytes(w.down)},
          {p + "shared_head.norm.weight", "F32", {kHidden}, F32Bytes(w.head_norm)}};
}

void WriteDir(const TempDir& dir, const nlohmann::json& config,
              const std::vector<RawTensor>& tensors) {
  WriteFile(dir.path() / "config.json", config.dump());
  WriteFile(dir.path() / "mtp.safetensors", SafetensorsBytes(tensors));
}

using Vec = std::vector<double>;

Vec RmsNorm(const Vec& x, const std::vector<float>& w) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / x.size() + kEps);
  Vec out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] * inv * w[i];
  return out;
}

// out = W x, W: [rows, x.size()]
Vec Linear(const std::vector<float>& w, const Vec& x) {
  const size_t cols = x.size();
  Vec out(w.size() / cols);
  for (size_t r = 0; r < out.size(); ++r) {
    for (size_t c = 0; c < cols; ++c) out[r] += double{w[r * cols + c]} * x[c];
  }
  return out;
}

// RoPE, rotate-half, on every head of `x` [heads * head_dim].
void Rope(Vec* x, int64_t pos) {
  const int64_t half = kHeadDim / 2;
  for (size_t h = 0; h < x->size() / kHeadDim; ++h) {
    double* v = x->data() + h * kHeadDim;
    for (int64_t i = 0; i < half; ++i) {
      const double angle = pos * std::pow(kTheta, -2.0 * i / kHeadDim);
      const double a = v[i], b = v[i + half];
      v[i] = a * std::cos(angle) - b * std::sin(angle);
      v[i + half] = b * std::cos(angle) + a * std::sin(angle);
    }
  }
}

// The module over one whole sequence (positions 0..n-1): logits [n, vocab].
std::vector<Vec> Reference(const Weights& w, const std::vector<float>& hidden,
                           const std::vector<int32_t>& next, const std::vector<float>& embed,
                           const std::vector<float>& lm_head) {
  const size_t n = next.size();
  std::vector<Vec> x(n), qs(n), ks(n), vs(n);
  for (size_t i = 0; i < n; ++i) {
    const Vec e(embed.begin() + next[i] * kHidden, embed.begin() + (next[i] + 1) * kHidden);
    const Vec h(hidden.begin() + i * kHidden, hidden.begin() + (i + 1) * kHidden);
    Vec cat = RmsNorm(e, w.enorm);
    const Vec hn = RmsNorm(h, w.hnorm);
    cat.insert(cat.end(), hn.begin(), hn.end());
    x[i] = Linear(w.eh, cat);
    const Vec a = RmsNorm(x[i], w.in_norm);
    qs[i] = Linear(w.q, a);
    ks[i] = Linear(w.k, a);
    vs[i] = Linear(w.v, a);
    Rope(&qs[i], static_cast<int64_t>(i));
    Rope(&ks[i], static_cast<int64_t>(i));
  }
  std::vector<Vec> logits(n);
  for (size_t i = 0; i < n; ++i) {
    Vec attn(kHeads * kHeadDim);
    for (int64_t hq = 0; hq < kHeads; ++hq) {
      const int64_t hk = hq / (kHeads / kKvHeads);
      Vec score(i + 1);
      double mx = -1e300;
      for (size_t j = 0; j <= i; ++j) {
        for (int64_t d = 0; d < kHeadDim; ++d) {
          score[j] += qs[i][hq * kHeadDim + d] * ks[j][hk * kHeadDim + d];
        }
        score[j] /= std::sqrt(static_cast<double>(kHeadDim));
        mx = std::max(mx, score[j]);
      }
      double sum = 0;
      for (double& s : score) sum += (s = std::exp(s - mx));
      for (size_t j = 0; j <= i; ++j) {
        for (int64_t d = 0; d < kHeadDim; ++d) {
          attn[hq * kHeadDim + d] += score[j] / sum * vs[j][hk * kHeadDim + d];
        }
      }
    }
    Vec r = x[i];
    const Vec o = Linear(w.o, attn);
    for (int64_t c = 0; c < kHidden; ++c) r[c] += o[c];
    const Vec b = RmsNorm(r, w.post_norm);
    const Vec g = Linear(w.gate, b), u = Linear(w.up, b);
    Vec act(kInter);
    for (int64_t c = 0; c < kInter; ++c) act[c] = g[c] / (1.0 + std::exp(-g[c])) * u[c];
    const Vec m = Linear(w.down, act);
    for (int64_t c = 0; c < kHidden; ++c) r[c] += m[c];
    logits[i] = Linear(lm_head, RmsNorm(r, w.head_norm));
  }
  return logits;
}

// Paged KV for the module's one layer: blocks of 4 tokens.
constexpr int32_t kBlockSize = 4;
constexpr int32_t kNumBlocks = 16;

struct Cache {
  std::vector<float> k = std::vector<float>(kNumBlocks * kBlockSize * kKvDim);
  std::vector<float> v = std::vector<float>(kNumBlocks * kBlockSize * kKvDim);
  engine::KvLayerView view() {
    return {engine::TensorView::HostF32(k.data(), {kNumBlocks * kBlockSize, kKvDim}),
            engine::TensorView::HostF32(v.data(), {kNumBlocks * kBlockSize, kKvDim}), kBlockSize};
  }
};

// MtpModule::Forward over host arrays: hidden [n, kHidden], next [n],
// embed and lm_head [kVocab, kHidden], logits [rows, kVocab], z [n, kHidden]
// or null.
void Forward(engine::MtpModule& m, const engine::InputBatch& batch, const float* hidden,
             const int32_t* next, const std::vector<float>& embed,
             const std::vector<float>& lm_head, Cache& cache, const std::vector<int32_t>& rows,
             float* logits, float* z) {
  const int64_t n = static_cast<int64_t>(batch.positions.size());
  const int64_t r = static_cast<int64_t>(rows.size());
  using engine::TensorView;
  m.Forward(batch, TensorView::HostF32(hidden, {n, kHidden}), engine::IndexView{next, n},
            TensorView::HostF32(embed.data(), {kVocab, kHidden}),
            TensorView::HostF32(lm_head.data(), {kVocab, kHidden}), cache.view(), rows,
            TensorView::HostF32(logits, {r, kVocab}),
            z == nullptr ? TensorView() : TensorView::HostF32(z, {n, kHidden}));
}

// One sequence's rows [begin, end) (positions begin..end-1) appended to
// `batch`; the sequence owns blocks `blocks`.
void AddSequence(engine::InputBatch* batch, int32_t begin, int32_t end,
                 const std::vector<int32_t>& blocks) {
  for (int32_t p = begin; p < end; ++p) {
    batch->token_ids.push_back(0);
    batch->positions.push_back(p);
    batch->slot_mapping.push_back(blocks[p / kBlockSize] * kBlockSize + p % kBlockSize);
  }
  batch->query_start.push_back(batch->query_start.back() + (end - begin));
  batch->seq_lens.push_back(end);
  batch->max_blocks_per_seq = static_cast<int32_t>(blocks.size());
  batch->block_tables.insert(batch->block_tables.end(), blocks.begin(), blocks.end());
}

class MtpModuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    weights_ = RandomWeights(11);
    WriteDir(dir_, Config(), Tensors(weights_));
    auto m = engine::MtpModule::Load(dir_.path().string(), Target());
    ASSERT_TRUE(m.ok()) << m.status();
    module_ = *std::move(m);
    std::mt19937 rng(12);
    embed_ = Random(kVocab * kHidden, &rng, 0.0f, 1.0f);
    lm_head_ = Random(kVocab * kHidden, &rng, 0.0f, 0.5f);
    hidden_ = Random(kLen * kHidden, &rng, 0.0f, 2.0f);
    std::uniform_int_distribution<int32_t> tok(0, kVocab - 1);
    for (int i = 0; i < kLen; ++i) next_.push_back(tok(rng));
  }

  static constexpr int32_t kLen = 11;
  TempDir dir_;
  Weights weights_;
  std::unique_ptr<engine::MtpModule> module_;
  std::vector<float> embed_, lm_head_, hidden_;
  std::vector<int32_t> next_;
};

TEST_F(MtpModuleTest, ConfigComesFromTheModuleWithTheTargetsSizes) {
  const engine::ModelConfig& c = module_->config();
  EXPECT_EQ(c.architecture, "LlamaMTP");
  EXPECT_EQ(c.num_hidden_layers, 1);
  EXPECT_EQ(c.num_attention_heads, kHeads);
  EXPECT_EQ(c.num_key_value_heads, kKvHeads);
  EXPECT_EQ(c.head_dim, kHeadDim);
  EXPECT_EQ(c.intermediate_size, kInter);
  EXPECT_EQ(c.rms_norm_eps, kEps);
  EXPECT_EQ(c.rope_theta, kTheta);
  EXPECT_EQ(module_->kv_dim(), kKvDim);
}

TEST_F(MtpModuleTest, PrefillMatchesTheReferenceAndDecodingMatchesPrefillBitForBit) {
  const std::vector<Vec> want = Reference(weights_, hidden_, next_, embed_, lm_head_);
  const std::vector<int32_t> blocks = {5, 2, 9};  // 12 slots for 11 positions

  Cache prefill_cache;
  engine::InputBatch batch;
  batch.Clear();
  AddSequence(&batch, 0, kLen, blocks);
  std::vector<int32_t> rows;
  for (int32_t i = 0; i < kLen; ++i) rows.push_back(i);
  std::vector<float> logits(kLen * kVocab);
  std::vector<float> z(kLen * kHidden);
  Forward(*module_, batch, hidden_.data(), next_.data(), embed_, lm_head_, prefill_cache, rows,
          logits.data(), z.data());
  double max_diff = 0;
  for (int32_t i = 0; i < kLen; ++i) {
    for (int64_t v = 0; v < kVocab; ++v) {
      max_diff = std::max(max_diff, std::fabs(logits[i * kVocab + v] - want[i][v]));
    }
  }
  EXPECT_LT(max_diff, 2e-4);
  // out_hidden is z = shared_head.norm(y) (y: layer_output()) and the logits
  // are lm_head · z.
  for (int32_t i = 0; i < kLen; ++i) {
    const float* y = module_->layer_output().f32();
    const Vec want_z = RmsNorm(Vec(y + i * kHidden, y + (i + 1) * kHidden), weights_.head_norm);
    for (int64_t c = 0; c < kHidden; ++c) EXPECT_NEAR(z[i * kHidden + c], want_z[c], 1e-5);
    for (int64_t v = 0; v < kVocab; ++v) {
      double dot = 0;
      for (int64_t c = 0; c < kHidden; ++c)
        dot += double{lm_head_[v * kHidden + c]} * z[i * kHidden + c];
      EXPECT_NEAR(logits[i * kVocab + v], dot, 1e-4);
    }
  }

  Cache decode_cache;
  for (int32_t i = 0; i < kLen; ++i) {
    engine::InputBatch one;
    one.Clear();
    AddSequence(&one, i, i + 1, blocks);
    std::vector<float> l(kVocab);
    Forward(*module_, one, hidden_.data() + i * kHidden, next_.data() + i, embed_, lm_head_,
            decode_cache, {0}, l.data(), nullptr);
    for (int64_t v = 0; v < kVocab; ++v) {
      ASSERT_EQ(l[v], logits[i * kVocab + v]) << "position " << i << " token " << v;
    }
  }
}

TEST_F(MtpModuleTest, TwoSequencesInOneBatchMatchEachAlone) {
  // Sequence A: positions 0..6 of the data; sequence B: 0..3 of it shifted by 7.
  const std::vector<int32_t> blocks_a = {0, 1}, blocks_b = {3, 4};
  Cache together;
  engine::InputBatch batch;
  batch.Clear();
  AddSequence(&batch, 0, 7, blocks_a);
  AddSequence(&batch, 0, 4, blocks_b);
  std::vector<float> logits(2 * kVocab);
  Forward(*module_, batch, hidden_.data(), next_.data(), embed_, lm_head_, together, {6, 10},
          logits.data(), nullptr);
  for (auto [begin, len, row] : {std::tuple<int, int, int>{0, 7, 0}, {7, 4, 1}}) {
    Cache alone;
    engine::InputBatch one;
    one.Clear();
    AddSequence(&one, 0, len, blocks_a);
    std::vector<float> l(kVocab);
    Forward(*module_, one, hidden_.data() + begin * kHidden, next_.data() + begin, embed_, lm_head_,
            alone, {len - 1}, l.data(), nullptr);
    for (int64_t v = 0; v < kVocab; ++v) EXPECT_EQ(l[v], logits[row * kVocab + v]);
  }
}

std::string LoadError(const nlohmann::json& config, const std::vector<RawTensor>& tensors) {
  TempDir dir;
  WriteDir(dir, config, tensors);
  auto m = engine::MtpModule::Load(dir.path().string(), Target());
  EXPECT_FALSE(m.ok());
  return m.ok() ? "" : std::string(m.status().message());
}

TEST(MtpModuleLoadTest, BadConfigFieldsAreNamed) {
  const std::vector<RawTensor> t = Tensors(RandomWeights(1));
  auto with = [](const char* key, nlohmann::json value) {
    nlohmann::json c = Config();
    c[key] = std::move(value);
    return c;
  };
  nlohmann::json no_inter = Config();
  no_inter.erase("intermediate_size");
  struct Case {
    nlohmann::json config;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {with("architectures", {"LlamaForCausalLM"}),
            "field `architectures`: unknown MTP architecture LlamaForCausalLM (supported: "
            "LlamaMTP"},
           {with("architectures", nlohmann::json::array()), "field `architectures`"},
           {with("num_nextn_predict_layers", 2),
            "field `num_nextn_predict_layers`: only depth-1 MTP modules are supported, got 2"},
           {with("hidden_size", 32),
            "field `hidden_size`: 32 differs from the target model's hidden_size (16)"},
           {with("vocab_size", 512),
            "field `vocab_size`: 512 differs from the target model's vocab_size (40)"},
           {with("num_key_value_heads", 3),
            "field `num_key_value_heads`: 3 does not divide num_attention_heads (4)"},
           {with("num_attention_heads", 0), "field `num_attention_heads`: must be a positive"},
           {with("rms_norm_eps", -1.0), "field `rms_norm_eps`: must be a positive number"},
           {with("rope_scaling", {{"rope_type", "yarn"}}),
            "field `rope_scaling`: is not supported"},
           {with("shared_embedding_and_lm_head", false),
            "field `shared_embedding_and_lm_head`: false is not supported"},
           {with("hidden_act", "gelu"), "field `hidden_act`: activation \"gelu\" is not supported"},
           {with("mtp_layer_prefix", 5), "field `mtp_layer_prefix`"},
           {no_inter, "field `intermediate_size`: required field is missing"}}) {
    EXPECT_THAT(LoadError(c.config, t), HasSubstr(c.error)) << c.config.dump();
  }
}

TEST(MtpModuleLoadTest, BadTensorsAreNamed) {
  const std::vector<RawTensor> good = Tensors(RandomWeights(2));
  {
    std::vector<RawTensor> t = good;
    t.erase(t.begin() + 12);  // shared_head.norm
    EXPECT_THAT(LoadError(Config(), t),
                HasSubstr("tensor `model.layers.2.shared_head.norm.weight` not found"));
  }
  {
    std::vector<RawTensor> t = good;
    t[2].shape = {2 * kHidden, kHidden};  // eh_proj transposed
    EXPECT_THAT(LoadError(Config(), t),
                HasSubstr("tensor `model.layers.2.eh_proj.weight` has shape [32, 16], expected "
                          "[16, 32]"));
  }
  {
    std::vector<RawTensor> t = good;
    t.push_back({"model.layers.2.shared_head.head.weight",
                 "F32",
                 {kVocab, kHidden},
                 std::string(kVocab * kHidden * 4, '\0')});
    EXPECT_THAT(LoadError(Config(), t),
                HasSubstr("unexpected tensor `model.layers.2.shared_head.head.weight`"));
  }
  {  // another prefix than the config's
    nlohmann::json c = Config();
    c["mtp_layer_prefix"] = "model.layers.3.";
    EXPECT_THAT(LoadError(c, good), HasSubstr("tensor `model.layers.3.enorm.weight` not found"));
  }
  {  // no prefix given: the layer after the target's (2 layers -> model.layers.2.)
    nlohmann::json c = Config();
    c.erase("mtp_layer_prefix");
    TempDir dir;
    WriteDir(dir, c, good);
    EXPECT_TRUE(engine::MtpModule::Load(dir.path().string(), Target()).ok());
  }
  EXPECT_THAT(engine::MtpModule::Load("/nonexistent/mtp", Target()).status().message(),
              HasSubstr("MTP module directory /nonexistent/mtp not found"));
}

}  // namespace
}  // namespace inferd::testing
