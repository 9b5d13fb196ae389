// tests/unit/model/kquant_model_test.cc — a whole model whose GGUF stores
// its matrices in llama.cpp's k-quants (Q4_K, Q6_K; kernels/quant_kblocks.h),
// served as stored (--quantization auto: WeightQuantization::as_stored),
// against the same file dequantized to fp32 at load (--quantization none).
//
// The file is built here: a two-layer Llama of hidden 256 (k-quants need
// rows of whole 256-element super-blocks), random blocks. Layer 1 stores v
// in Q6_K and q/k in Q4_K, as llama-quantize's Q4_K_M does: the fused qkv
// matrix cannot hold two types, so it is requantized to q8_0 and noted.
//
// Asserted: the dtypes held and noted, the memory held, logits close to the
// fp32 path (activations are quantized per 256 to int8, so not equal: the
// bound is the measured error with margin) with the same argmax at every
// decided position, and bit-identical logits whatever the batch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/input_batch.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/gguf_config.h"
#include "engine/model/gguf_file.h"
#include "engine/model/transformer.h"
#include "engine/model/weight_store.h"
#include "gtest/gtest.h"
#include "kernels/quant_blocks.h"
#include "tests/unit/model/gguf_writer.h"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::GgufWriter;
using kernels::DType;

constexpr uint32_t kF32 = 0, kQ4_K = 12, kQ6_K = 14;  // ggml type ids
constexpr int kHidden = 256, kLayers = 2, kHeads = 4, kKvHeads = 2, kHeadDim = 64, kFfn = 512,
              kVocab = 96;

// `rows` rows of `cols` elements in random Q4_K super-blocks. d and dmin
// are chosen so the weights have mean about 0 (dmin * E[min] = d * E[scale]
// * E[code]) and standard deviation about `std`.
std::vector<uint8_t> RandomQ4K(std::mt19937* rng, int rows, int cols, float std) {
  const int blocks = rows * cols / 256;
  std::vector<uint8_t> bytes(static_cast<size_t>(blocks) * sizeof(kernels::BlockQ4_K));
  for (uint8_t& b : bytes) b = static_cast<uint8_t>((*rng)());
  auto* blk = reinterpret_cast<kernels::BlockQ4_K*>(bytes.data());
  const float d = std / 250.0f;  // scale * code has standard deviation about 250
  for (int i = 0; i < blocks; ++i) {
    blk[i].d = kernels::F32ToF16(d);
    blk[i].dmin = kernels::F32ToF16(d * 7.5f);
  }
  return bytes;
}

// The same in Q6_K (scale * (code - 32) has standard deviation about 1370).
std::vector<uint8_t> RandomQ6K(std::mt19937* rng, int rows, int cols, float std) {
  const int blocks = rows * cols / 256;
  std::vector<uint8_t> bytes(static_cast<size_t>(blocks) * sizeof(kernels::BlockQ6_K));
  for (uint8_t& b : bytes) b = static_cast<uint8_t>((*rng)());
  auto* blk = reinterpret_cast<kernels::BlockQ6_K*>(bytes.data());
  for (int i = 0; i < blocks; ++i) blk[i].d = kernels::F32ToF16(std / 1370.0f);
  return bytes;
}

std::string BuildGguf() {
  std::mt19937 rng(20261207);
  GgufWriter w;
  w.KvStr("general.architecture", "llama");
  w.KvU32("llama.embedding_length", kHidden);
  w.KvU32("llama.block_count", kLayers);
  w.KvU32("llama.feed_forward_length", kFfn);
  w.KvU32("llama.attention.head_count", kHeads);
  w.KvU32("llama.attention.head_count_kv", kKvHeads);
  w.KvU32("llama.context_length", 256);
  w.KvF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.KvF32("llama.rope.freq_base", 10000.0f);
  w.KvU32("llama.vocab_size", kVocab);
  w.KvU32("tokenizer.ggml.eos_token_id", 2);
  // GGUF dims are innermost first: {cols, rows}.
  auto q4k = [&](const std::string& name, int rows, int cols, float std) {
    w.Tensor(name, kQ4_K, {uint64_t(cols), uint64_t(rows)}, RandomQ4K(&rng, rows, cols, std));
  };
  auto q6k = [&](const std::string& name, int rows, int cols, float std) {
    w.Tensor(name, kQ6_K, {uint64_t(cols), uint64_t(rows)}, RandomQ6K(&rng, rows, cols, std));
  };
  auto norm = [&](const std::string& name) {
    std::vector<float> v(kHidden);
    for (float& x : v) x = 1.0f + 0.1f * std::normal_distribution<float>()(rng);
    w.Tensor(name, kF32, {kHidden}, GgufWriter::F32Data(v));
  };
  q6k("token_embd.weight", kVocab, kHidden, 0.5f);
  q6k("output.weight", kVocab, kHidden, 0.25f);
  norm("output_norm.weight");
  for (int l = 0; l < kLayers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    norm(b + "attn_norm.weight");
    norm(b + "ffn_norm.weight");
    q4k(b + "attn_q.weight", kHeads * kHeadDim, kHidden, 0.08f);
    q4k(b + "attn_k.weight", kKvHeads * kHeadDim, kHidden, 0.08f);
    if (l == 1) {
      q6k(b + "attn_v.weight", kKvHeads * kHeadDim, kHidden, 0.08f);
    } else {
      q4k(b + "attn_v.weight", kKvHeads * kHeadDim, kHidden, 0.08f);
    }
    q4k(b + "attn_output.weight", kHidden, kHeads * kHeadDim, 0.08f);
    q4k(b + "ffn_gate.weight", kFfn, kHidden, 0.08f);
    q4k(b + "ffn_up.weight", kFfn, kHidden, 0.08f);
    q6k(b + "ffn_down.weight", kHidden, kFfn, 0.05f);
  }
  return w.Finish();
}

// --quantization auto: every matrix in the type the file stores it in.
WeightQuantization AsStored() {
  WeightQuantization q;
  q.as_stored = true;
  return q;
}

constexpr int32_t kBlockSize = 16;
constexpr int32_t kBlocksPerSeq = 8;

// Last-position logits of each sequence, all of them prefilled in one
// batch: [sequences, vocab].
std::vector<float> Prefill(Transformer& model, const std::vector<std::vector<int32_t>>& seqs) {
  const int32_t n = static_cast<int32_t>(seqs.size());
  KvCacheTensors kv(model.backend(), kLayers, n * kBlocksPerSeq, kBlockSize, model.kv_dim(),
                    DType::kF32);
  InputBatch batch;
  batch.Clear();
  batch.max_blocks_per_seq = kBlocksPerSeq;
  int32_t rows = 0;
  for (int32_t s = 0; s < n; ++s) {
    const auto len = static_cast<int32_t>(seqs[s].size());
    for (int32_t i = 0; i < len; ++i) {
      batch.token_ids.push_back(seqs[s][i]);
      batch.positions.push_back(i);
      batch.slot_mapping.push_back(s * kBlocksPerSeq * kBlockSize + i);
    }
    rows += len;
    batch.query_start.push_back(rows);
    batch.seq_lens.push_back(len);
    batch.logits_rows.push_back(rows - 1);
    for (int32_t b = 0; b < kBlocksPerSeq; ++b) batch.block_tables.push_back(s * kBlocksPerSeq + b);
  }
  std::vector<float> logits(static_cast<size_t>(n) * kVocab);
  model.Forward(batch, &kv, TensorView::HostF32(logits.data(), {n, kVocab}));
  return logits;
}

class KQuantModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = dir_.file("kquant.gguf");
    ::inferd::testing::WriteFile(path, BuildGguf());
    absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(path);
    ASSERT_TRUE(f.ok()) << f.status();
    file_ = std::shared_ptr<const GgufFile>(*std::move(f));
    absl::StatusOr<ModelConfig> c = ModelConfigFromGguf(*file_);
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = *c;
    std::mt19937 rng(7);
    for (int len : {1, 9, 33, 100}) {
      std::vector<int32_t> ids(len);
      for (int32_t& id : ids) id = std::uniform_int_distribution<int32_t>(3, kVocab - 1)(rng);
      seqs_.push_back(ids);
    }
  }
  std::unique_ptr<WeightStore> Store(LoadFormat format) {
    absl::StatusOr<std::unique_ptr<WeightStore>> w = WeightStore::OpenGguf(file_, config_, format);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *std::move(w) : nullptr;
  }
  ::inferd::testing::TempDir dir_;
  std::shared_ptr<const GgufFile> file_;
  ModelConfig config_;
  std::vector<std::vector<int32_t>> seqs_;
};

TEST_F(KQuantModelTest, ServedAsStoredCloseToTheDequantizedModel) {
  std::unique_ptr<WeightStore> f32_store = Store(LoadFormat::kCopy);
  std::unique_ptr<WeightStore> stored_store = Store(LoadFormat::kMmap);
  ASSERT_NE(f32_store, nullptr);
  ASSERT_NE(stored_store, nullptr);
  auto f32 = Transformer::Load(config_, *f32_store, DType::kF32);
  ASSERT_TRUE(f32.ok()) << f32.status();
  auto stored = Transformer::Load(config_, *stored_store, DType::kF32, nullptr, AsStored());
  ASSERT_TRUE(stored.ok()) << stored.status();

  EXPECT_EQ(stored_store->HeldQuantized(),
            (std::vector<DType>{DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}));
  EXPECT_TRUE(f32_store->HeldQuantized().empty());
  ASSERT_EQ(stored_store->Requantized().size(), 1u);
  EXPECT_NE(stored_store->Requantized()[0].find("layers.1"), std::string::npos)
      << stored_store->Requantized()[0];
  EXPECT_TRUE((*stored)->lm_head_quantized());
  // Q4_K is 4.5 bits a weight, Q6_K 6.5625: about a sixth of fp32 (the
  // requantized q8_0 stack and the fp32 norms add a little).
  EXPECT_LT((*stored)->weight_bytes() * 5, (*f32)->weight_bytes());

  // The yardstick: the same dequantized weights requantized to q8_0 at load
  // (--quantization int8 on this file), whose activations are quantized per
  // 32, not per 256.
  WeightQuantization int8;
  int8.linear = DType::kQ8_0;
  int8.lm_head = true;
  auto q8 = Transformer::Load(config_, *f32_store, DType::kF32, nullptr, int8);
  ASSERT_TRUE(q8.ok()) << q8.status();

  const std::vector<float> want = Prefill(**f32, seqs_);
  const std::vector<float> got = Prefill(**stored, seqs_);
  const std::vector<float> yardstick = Prefill(**q8, seqs_);
  ASSERT_EQ(got.size(), want.size());
  auto rms_diff = [&](const std::vector<float>& a) {
    double sum = 0;
    for (size_t i = 0; i < want.size(); ++i) sum += (a[i] - want[i]) * (a[i] - want[i]);
    return std::sqrt(sum / static_cast<double>(want.size()));
  };
  double sum_sq = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << i;
    sum_sq += static_cast<double>(want[i]) * want[i];
  }
  const double rms = std::sqrt(sum_sq / static_cast<double>(want.size()));
  const double err = rms_diff(got), err_int8 = rms_diff(yardstick);
  std::printf("logits rms %.4f; rms difference from fp32: as stored %.4f, int8 %.4f\n", rms, err,
              err_int8);
  // Measured: as stored 0.15, int8 0.11 of logits rms 4.4 (a random
  // two-layer network amplifies every rounding). Wrong arithmetic (a missing
  // min term, a scale off by one sub-block) moves logits by their own size.
  EXPECT_LT(err, 2 * err_int8);
  EXPECT_LT(err, 0.06 * rms);
  for (size_t s = 0; s < seqs_.size(); ++s) {
    const float* w = want.data() + s * kVocab;
    const float* g = got.data() + s * kVocab;
    std::vector<float> sorted(w, w + kVocab);
    std::sort(sorted.rbegin(), sorted.rend());
    if (sorted[0] - sorted[1] < 8 * err) continue;  // a near-tie
    EXPECT_EQ(std::max_element(w, w + kVocab) - w, std::max_element(g, g + kVocab) - g) << s;
  }
}

// Each sequence alone and all of them in one batch give the same bits: the
// k-quant matmul's sums do not depend on the rows beside them.
TEST_F(KQuantModelTest, BatchInvariant) {
  std::unique_ptr<WeightStore> store = Store(LoadFormat::kMmap);
  ASSERT_NE(store, nullptr);
  auto model = Transformer::Load(config_, *store, DType::kF32, nullptr, AsStored());
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<float> together = Prefill(**model, seqs_);
  for (size_t s = 0; s < seqs_.size(); ++s) {
    const std::vector<float> alone = Prefill(**model, {seqs_[s]});
    EXPECT_EQ(0, std::memcmp(alone.data(), together.data() + s * kVocab, kVocab * sizeof(float)))
        << "sequence " << s;
  }
}

}  // namespace
}  // namespace inferd::engine
