// tests/unit/model/gguf_weights_test.cc — a GGUF file built in code, loaded
// as a model: ModelConfigFromGguf, the tensor name mapping, the llama q/k
// row order put back, type conversion, and the load-time errors (missing
// keys, unknown tensors, wrong shapes).
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend/cpu_backend.h"
#include "engine/model/gguf_config.h"
#include "engine/model/gguf_file.h"
#include "engine/model/weight.h"
#include "engine/model/weight_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/quant_blocks.h"
#include "tests/unit/model/gguf_writer.h"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::GgufWriter;
using ::testing::HasSubstr;

constexpr uint32_t kF32 = 0, kQ5_0 = 6, kQ8_0 = 8, kQ4_K = 12;
constexpr int kHidden = 32, kHeads = 4, kKvHeads = 2, kHeadDim = 8, kFfn = 64, kVocab = 16;

// Rows of `rows` x `cols` where row r holds r * 1000 + column.
std::vector<float> Rows(int rows, int cols) {
  std::vector<float> v(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) v[static_cast<size_t>(r) * cols + c] = r * 1000.0f + c;
  }
  return v;
}

// `rows` Q4_K super-blocks of varied bytes with finite scales.
std::vector<uint8_t> Q4KBlocks(int rows) {
  std::vector<uint8_t> bytes(static_cast<size_t>(144 * rows));
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 3);
  for (int r = 0; r < rows; ++r) {
    auto* blk = reinterpret_cast<kernels::BlockQ4_K*>(bytes.data()) + r;
    blk->d = kernels::F32ToF16(0.01f * static_cast<float>(r + 1));
    blk->dmin = kernels::F32ToF16(0.002f);
  }
  return bytes;
}

// `blocks` Q5_0 blocks of varied bytes with finite scales.
std::vector<uint8_t> Q5_0Blocks(int blocks) {
  std::vector<uint8_t> bytes(static_cast<size_t>(22 * blocks));
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 13 + 5);
  for (int b = 0; b < blocks; ++b) {
    reinterpret_cast<kernels::BlockQ5_0*>(bytes.data())[b].d =
        kernels::F32ToF16(0.01f * static_cast<float>(b % 5 + 1));
  }
  return bytes;
}

struct Options {
  std::string arch = "llama";
  bool block_count = true;
  std::string extra_tensor;  // a tensor name the mapping does not know
  bool q4k_down = false;     // ffn_down stored as Q4_K
  bool q5_0_up = false;      // ffn_up stored as Q5_0 (random blocks), not Q8_0
  uint64_t q_rows = kHeads * kHeadDim;
  std::vector<float> rope_freqs;  // a rope_freqs.weight tensor when not empty
};

// A one-layer Llama: q/k/v/o, gate/up/down, norms, untied output; the
// up projection stored as Q8_0.
std::string Build(const Options& o) {
  GgufWriter w;
  w.KvStr("general.architecture", o.arch);
  const std::string a = o.arch + ".";
  w.KvU32(a + "embedding_length", kHidden);
  if (o.block_count) w.KvU32(a + "block_count", 1);
  w.KvU32(a + "feed_forward_length", kFfn);
  w.KvU32(a + "attention.head_count", kHeads);
  w.KvU32(a + "attention.head_count_kv", kKvHeads);
  w.KvU32(a + "context_length", 128);
  w.KvF32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
  w.KvF32(a + "rope.freq_base", 500000.0f);
  w.KvU32(a + "vocab_size", kVocab);
  w.KvU32("tokenizer.ggml.eos_token_id", 2);
  auto f32 = [&](const std::string& name, uint64_t rows, uint64_t cols) {
    w.Tensor(name, kF32, {cols, rows},
             GgufWriter::F32Data(Rows(static_cast<int>(rows), static_cast<int>(cols))));
  };
  f32("token_embd.weight", kVocab, kHidden);
  f32("output.weight", kVocab, kHidden);
  w.Tensor("output_norm.weight", kF32, {kHidden},
           GgufWriter::F32Data(std::vector<float>(kHidden, 1)));
  w.Tensor("blk.0.attn_norm.weight", kF32, {kHidden},
           GgufWriter::F32Data(std::vector<float>(kHidden, 2)));
  w.Tensor("blk.0.ffn_norm.weight", kF32, {kHidden},
           GgufWriter::F32Data(std::vector<float>(kHidden, 3)));
  f32("blk.0.attn_q.weight", o.q_rows, kHidden);
  f32("blk.0.attn_k.weight", kKvHeads * kHeadDim, kHidden);
  f32("blk.0.attn_v.weight", kKvHeads * kHeadDim, kHidden);
  f32("blk.0.attn_output.weight", kHidden, kHeads * kHeadDim);
  f32("blk.0.ffn_gate.weight", kFfn, kHidden);
  // ffn_up as Q8_0: quantized from the same row pattern (scaled down).
  std::vector<float> up = Rows(kFfn, kHidden);
  for (float& x : up) x /= 1000.0f;
  std::vector<uint8_t> q8(static_cast<size_t>(kernels::DTypeBytes(DType::kQ8_0, kFfn * kHidden)));
  kernels::QuantizeRow(DType::kQ8_0, up.data(), kFfn * kHidden, q8.data());
  if (o.q5_0_up) {
    w.Tensor("blk.0.ffn_up.weight", kQ5_0, {kHidden, kFfn}, Q5_0Blocks(kFfn * kHidden / 32));
  } else {
    w.Tensor("blk.0.ffn_up.weight", kQ8_0, {kHidden, kFfn}, q8);
  }
  if (o.q4k_down) {
    w.Tensor("blk.0.ffn_down.weight", kQ4_K, {256, kHidden}, Q4KBlocks(kHidden));
  } else {
    f32("blk.0.ffn_down.weight", kHidden, kFfn);
  }
  if (!o.extra_tensor.empty()) f32(o.extra_tensor, 1, 4);
  if (!o.rope_freqs.empty()) {
    w.Tensor("rope_freqs.weight", kF32, {o.rope_freqs.size()}, GgufWriter::F32Data(o.rope_freqs));
  }
  return w.Finish();
}

class GgufWeightsTest : public ::testing::Test {
 protected:
  std::shared_ptr<const GgufFile> Open(const Options& o) {
    const std::string path = dir_.file("m.gguf");
    ::inferd::testing::WriteFile(path, Build(o));
    absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(path);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? std::shared_ptr<const GgufFile>(*std::move(f)) : nullptr;
  }
  ::inferd::testing::TempDir dir_;
};

// llama.cpp writes llama3 RoPE scaling as rope_freqs.weight, one divisor per
// frequency: the inverse frequencies are the plain ones divided by them (as
// llama.cpp computes theta / factor), and a wrong shape or a factor that is
// not a positive finite number is refused naming the tensor.
TEST_F(GgufWeightsTest, RopeFreqsDivideTheInverseFrequencies) {
  Options o;
  o.rope_freqs = {1.0f, 2.0f, 4.0f, 8.0f};  // head_dim 8 -> 4 frequencies
  std::shared_ptr<const GgufFile> f = Open(o);
  ASSERT_NE(f, nullptr);
  absl::StatusOr<ModelConfig> c = ModelConfigFromGguf(*f);
  ASSERT_TRUE(c.ok()) << c.status();
  ModelConfig plain = *c;
  plain.rope_freq_factors.clear();
  const std::vector<float> base = plain.RopeInvFreq();
  const std::vector<float> scaled = c->RopeInvFreq();
  ASSERT_EQ(scaled.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(scaled[i], base[i] / o.rope_freqs[i]) << i;
  // And the tensor is not taken for a weight.
  EXPECT_TRUE(WeightStore::OpenGguf(f, *c).ok());

  for (const auto& [factors, want] : std::vector<std::pair<std::vector<float>, std::string>>{
           {{1.0f, 2.0f, 4.0f}, "shape must be [4]"},
           {{1.0f, 0.0f, 4.0f, 8.0f}, "factor 1 is 0"},
           {{1.0f, 2.0f, -4.0f, 8.0f}, "not a positive finite number"}}) {
    Options bad;
    bad.rope_freqs = factors;
    std::shared_ptr<const GgufFile> g = Open(bad);
    ASSERT_NE(g, nullptr);
    absl::StatusOr<ModelConfig> e = ModelConfigFromGguf(*g);
    ASSERT_FALSE(e.ok());
    EXPECT_THAT(e.status().message(), HasSubstr("rope_freqs.weight"));
    EXPECT_THAT(e.status().message(), HasSubstr(want));
  }
}

// A Q4_K tensor loads as stored (mapped with kMmap: the kernels read it so)
// or dequantized (gguf_kquants_test.cc checks the values against
// llama.cpp's) into a float dtype asked for.
TEST_F(GgufWeightsTest, Q4KLoadsAsStoredOrDequantized) {
  Options o;
  o.q4k_down = true;
  std::shared_ptr<const GgufFile> f = Open(o);
  ASSERT_NE(f, nullptr);
  absl::StatusOr<ModelConfig> c = ModelConfigFromGguf(*f);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::vector<uint8_t> stored = Q4KBlocks(kHidden);
  for (LoadFormat format : {LoadFormat::kCopy, LoadFormat::kMmap}) {
    absl::StatusOr<std::unique_ptr<WeightStore>> w = WeightStore::OpenGguf(f, *c, format);
    ASSERT_TRUE(w.ok()) << w.status();
    const std::string down = "model.layers.0.mlp.down_proj.weight";
    EXPECT_EQ((*w)->StoredDType(down), DType::kQ4_K);
    absl::StatusOr<Tensor> t = (*w)->Load(down, *(*w)->Shape(down), DType::kF32);
    ASSERT_TRUE(t.ok()) << t.status();
    std::vector<float> want(static_cast<size_t>(256 * kHidden));
    kernels::DequantizeRow(DType::kQ4_K, stored.data(), 256 * kHidden, want.data());
    EXPECT_EQ(0, std::memcmp(t->data(), want.data(), want.size() * sizeof(float)));
    EXPECT_EQ((*w)->BytesMapped(), 0);
    absl::StatusOr<Tensor> q = (*w)->Load(down, *(*w)->Shape(down), DType::kQ4_K);
    ASSERT_TRUE(q.ok()) << q.status();
    ASSERT_EQ(q->bytes(), static_cast<int64_t>(stored.size()));
    EXPECT_EQ(0, std::memcmp(q->data(), stored.data(), stored.size()));
    EXPECT_EQ((*w)->BytesMapped(), format == LoadFormat::kMmap ? 144 * kHidden : 0);
  }
}

// A Q5_0 tensor (what llama-quantize writes for Q4_K where rows are not
// whole super-blocks) loads dequantized into a float dtype; asked for as
// stored (--quantization auto) it is held as q8_0, since no kernel computes
// on Q5_0, and the store notes why.
TEST_F(GgufWeightsTest, Q5_0IsDequantizedOrHeldAsQ8_0) {
  Options o;
  o.q5_0_up = true;
  std::shared_ptr<const GgufFile> f = Open(o);
  ASSERT_NE(f, nullptr);
  absl::StatusOr<ModelConfig> c = ModelConfigFromGguf(*f);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::unique_ptr<WeightStore>> w = WeightStore::OpenGguf(f, *c, LoadFormat::kCopy);
  ASSERT_TRUE(w.ok()) << w.status();
  const std::string up = "model.layers.0.mlp.up_proj.weight";
  EXPECT_EQ((*w)->StoredDType(up), DType::kQ5_0);
  absl::StatusOr<Tensor> t = (*w)->Load(up, {kFfn, kHidden}, DType::kF32);
  ASSERT_TRUE(t.ok()) << t.status();
  const std::vector<uint8_t> stored = Q5_0Blocks(kFfn * kHidden / 32);
  std::vector<float> want(static_cast<size_t>(kFfn * kHidden));
  kernels::DequantizeRow(DType::kQ5_0, stored.data(), kFfn * kHidden, want.data());
  EXPECT_EQ(0, std::memcmp(t->data(), want.data(), want.size() * sizeof(float)));

  std::shared_ptr<Backend> backend = CpuBackend::Create();
  absl::StatusOr<Weight> held =
      LoadWeight(**w, *backend, up, {kFfn, kHidden}, WeightDType(DType::kF32, /*stored=*/true));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->dtype(), DType::kQ8_0);
  EXPECT_EQ((*w)->HeldQuantized(), std::vector<DType>{DType::kQ8_0});
  ASSERT_EQ((*w)->Requantized().size(), 1u);
  EXPECT_THAT((*w)->Requantized()[0], HasSubstr("up_proj.weight (q5_0)"));
}

TEST_F(GgufWeightsTest, ConfigFromMetadata) {
  std::shared_ptr<const GgufFile> f = Open({});
  ASSERT_NE(f, nullptr);
  absl::StatusOr<ModelConfig> c = ModelConfigFromGguf(*f);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "LlamaForCausalLM");
  EXPECT_EQ(c->hidden_size, kHidden);
  EXPECT_EQ(c->num_hidden_layers, 1);
  EXPECT_EQ(c->intermediate_size, kFfn);
  EXPECT_EQ(c->num_attention_heads, kHeads);
  EXPECT_EQ(c->num_key_value_heads, kKvHeads);
  EXPECT_EQ(c->head_dim, kHeadDim);
  EXPECT_EQ(c->max_position_embeddings, 128);
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->vocab_size, kVocab);
  EXPECT_FALSE(c->tie_word_embeddings);
  absl::StatusOr<GenerationConfig> g = GenerationConfigFromGguf(*f);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->eos_token_ids, std::vector<int32_t>{2});
}

TEST_F(GgufWeightsTest, NamesShapesAndTheRopeRowOrder) {
  std::shared_ptr<const GgufFile> f = Open({});
  ASSERT_NE(f, nullptr);
  absl::StatusOr<ModelConfig> c = ModelConfigFromGguf(*f);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::unique_ptr<WeightStore>> w = WeightStore::OpenGguf(f, *c);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE((*w)->Has("model.embed_tokens.weight"));
  EXPECT_TRUE((*w)->Has("lm_head.weight"));
  EXPECT_TRUE((*w)->Has("model.layers.0.post_attention_layernorm.weight"));
  EXPECT_EQ(*(*w)->Shape("model.layers.0.mlp.down_proj.weight"),
            (std::vector<int64_t>{kHidden, kFfn}));
  // q: HF row h*8 + t*4 + j was llama.cpp's row h*8 + 2j + t.
  absl::StatusOr<Tensor> q = (*w)->Load("model.layers.0.self_attn.q_proj.weight",
                                        {kHeads * kHeadDim, kHidden}, DType::kF32);
  ASSERT_TRUE(q.ok()) << q.status();
  const auto* qv = static_cast<const float*>(q->data());
  for (int h = 0; h < kHeads; ++h) {
    for (int t = 0; t < 2; ++t) {
      for (int j = 0; j < kHeadDim / 2; ++j) {
        const int hf = h * kHeadDim + t * (kHeadDim / 2) + j;
        const int stored = h * kHeadDim + 2 * j + t;
        EXPECT_EQ(qv[hf * kHidden + 5], stored * 1000.0f + 5) << "row " << hf;
      }
    }
  }
  // k uses the kv head count; v is not permuted.
  absl::StatusOr<Tensor> k = (*w)->Load("model.layers.0.self_attn.k_proj.weight",
                                        {kKvHeads * kHeadDim, kHidden}, DType::kF32);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(static_cast<const float*>(k->data())[1 * kHidden], 2 * 1000.0f);  // HF row 1 <- row 2
  absl::StatusOr<Tensor> v = (*w)->Load("model.layers.0.self_attn.v_proj.weight",
                                        {kKvHeads * kHeadDim, kHidden}, DType::kF32);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(static_cast<const float*>(v->data())[1 * kHidden], 1000.0f);
  // The stacked load puts them back the same way.
  absl::StatusOr<Tensor> qkv = (*w)->LoadStacked(
      {{"model.layers.0.self_attn.q_proj.weight", {kHeads * kHeadDim, kHidden}},
       {"model.layers.0.self_attn.k_proj.weight", {kKvHeads * kHeadDim, kHidden}}},
      DType::kF32);
  ASSERT_TRUE(qkv.ok()) << qkv.status();
  EXPECT_EQ(std::memcmp(qkv->data(), q->data(), static_cast<size_t>(q->bytes())), 0);
  EXPECT_EQ(std::memcmp(qkv->at(q->numel()), k->data(), static_cast<size_t>(k->bytes())), 0);
}

TEST_F(GgufWeightsTest, Q8_0IsUsedAsStoredOrDequantized) {
  std::shared_ptr<const GgufFile> f = Open({});
  ASSERT_NE(f, nullptr);
  absl::StatusOr<ModelConfig> c = ModelConfigFromGguf(*f);
  ASSERT_TRUE(c.ok()) << c.status();
  for (LoadFormat format : {LoadFormat::kCopy, LoadFormat::kMmap}) {
    absl::StatusOr<std::unique_ptr<WeightStore>> w = WeightStore::OpenGguf(f, *c, format);
    ASSERT_TRUE(w.ok()) << w.status();
    const std::string name = "model.layers.0.mlp.up_proj.weight";
    absl::StatusOr<Tensor> q = (*w)->Load(name, {kFfn, kHidden}, DType::kQ8_0);
    ASSERT_TRUE(q.ok()) << q.status();
    const GgufTensorInfo* info = f->FindTensor("blk.0.ffn_up.weight");
    ASSERT_EQ(q->bytes(), static_cast<int64_t>(info->nbytes));
    EXPECT_EQ(std::memcmp(q->data(), f->TensorData(*info), info->nbytes), 0);
    EXPECT_EQ((*w)->BytesMapped(), format == LoadFormat::kMmap ? q->bytes() : 0);
    if (format == LoadFormat::kMmap) {
      EXPECT_EQ(q->data(), f->TensorData(*info));
    }
    absl::StatusOr<Tensor> d = (*w)->Load(name, {kFfn, kHidden}, DType::kF32);
    ASSERT_TRUE(d.ok()) << d.status();
    std::vector<float> want(kFfn * kHidden);
    kernels::DequantizeRow(DType::kQ8_0, f->TensorData(*info), kFfn * kHidden, want.data());
    EXPECT_EQ(std::memcmp(d->data(), want.data(), want.size() * sizeof(float)), 0);
  }
}

TEST_F(GgufWeightsTest, WrongShapeNamesTheTensorAndBothShapes) {
  std::shared_ptr<const GgufFile> f = Open({});
  ASSERT_NE(f, nullptr);
  absl::StatusOr<ModelConfig> c = ModelConfigFromGguf(*f);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::unique_ptr<WeightStore>> w = WeightStore::OpenGguf(f, *c);
  ASSERT_TRUE(w.ok()) << w.status();
  absl::StatusOr<Tensor> t =
      (*w)->Load("model.layers.0.mlp.gate_proj.weight", {kHidden, kFfn}, DType::kF32);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("tensor `blk.0.ffn_gate.weight` (model.layers.0.mlp.gate_proj.weight) "
                        "has shape [64, 32] (GGUF dims reversed), expected [32, 64]"));
  EXPECT_FALSE(
      (*w)->Load("model.layers.1.mlp.gate_proj.weight", {kFfn, kHidden}, DType::kF32).ok());
}

TEST_F(GgufWeightsTest, LoadErrorsNameTheKeyOrTensor) {
  struct Case {
    Options options;
    const char* expect;
  };
  Options no_blocks;
  no_blocks.block_count = false;
  Options gemma;
  gemma.arch = "gemma";
  Options extra;
  extra.extra_tensor = "blk.0.attn_rot_embd";
  Options layer9;
  layer9.extra_tensor = "blk.9.attn_norm.weight";
  Options odd_q;
  odd_q.q_rows = 30;  // not heads * head_dim
  for (const Case& c : {Case{no_blocks, "metadata `llama.block_count`: required key is missing"},
                        Case{gemma, "architecture \"gemma\" is not supported"},
                        Case{extra, "tensor `blk.0.attn_rot_embd`: not a tensor of the supported"},
                        Case{layer9, "tensor `blk.9.attn_norm.weight`: not a tensor"},
                        Case{odd_q,
                             "tensor `blk.0.attn_q.weight` (model.layers.0.self_attn."
                             "q_proj.weight) has shape [30, 32]"}}) {
    std::shared_ptr<const GgufFile> f = Open(c.options);
    ASSERT_NE(f, nullptr);
    absl::Status s;
    absl::StatusOr<ModelConfig> config = ModelConfigFromGguf(*f);
    if (!config.ok()) {
      s = config.status();
    } else {
      absl::StatusOr<std::unique_ptr<WeightStore>> w = WeightStore::OpenGguf(f, *config);
      if (!w.ok()) {
        s = w.status();
      } else {
        const std::string down = "model.layers.0.mlp.down_proj.weight";
        s = (*w)->Load(down, *(*w)->Shape(down), DType::kF32).status();
        if (s.ok()) {
          s = (*w)->Load("model.layers.0.self_attn.q_proj.weight", {kHeads * kHeadDim, kHidden},
                         DType::kF32)
                  .status();
        }
      }
    }
    ASSERT_FALSE(s.ok()) << c.expect;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.expect));
    EXPECT_THAT(std::string(s.message()), HasSubstr("m.gguf"));
  }
}

}  // namespace
}  // namespace inferd::engine
