// tests/gpu/cuda_backend_test.cc — whole models on the CUDA backend against
// the CPU backend, through the same model code (the device seam): a prefill
// and then decode steps of a batch of sequences, logits compared per dtype,
// and greedy tokens compared along the way.
//
// Tolerances: fp32 (cuBLAS without TF32, fp32 attention) within 2e-3 of the
// logits' scale; bf16/fp16 activations round at every op, so the check is
// relative to the logits' RMS (0.05 bf16, 0.01 fp16) plus argmax agreement
// on at least 90% of the rows (random-weight toy models have close
// top-2 logits).
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/cpu_backend.h"
#include "engine/backend/cuda_backend.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/config.h"
#include "engine/model/transformer.h"
#include "engine/model/weight_store.h"
#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "tests/test_util.h"

namespace inferd::engine {
namespace {

constexpr int32_t kBlockSize = 16;
constexpr int32_t kBlocksPerSeq = 8;

struct ModelRun {
  std::unique_ptr<Transformer> model;
  std::unique_ptr<KvCacheTensors> kv;
  Tensor logits;
};

ModelRun Load(const std::string& dir, DType dtype, std::shared_ptr<Backend> backend, int32_t seqs) {
  ModelRun r;
  auto config = ModelConfig::FromDirectory(dir);
  EXPECT_TRUE(config.ok()) << config.status();
  auto weights = WeightStore::Open(dir);
  EXPECT_TRUE(weights.ok()) << weights.status();
  auto model = Transformer::Load(*config, **weights, dtype, std::move(backend));
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return r;
  r.model = *std::move(model);
  r.kv =
      std::make_unique<KvCacheTensors>(r.model->backend(), config->num_hidden_layers,
                                       seqs * kBlocksPerSeq, kBlockSize, r.model->kv_dim(), dtype);
  return r;
}

// Sequences s = 0..seqs-1 of prompt length 5 + 7s, then `steps` decode steps
// of one token each (the token is the CPU run's greedy choice, fed to both).
class CudaBackendTest : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(CudaBackendTest, LogitsMatchTheCpuBackend) {
  if (CudaDeviceCount() == 0) {
    auto b = CreateCudaBackend(DType::kF32);
    GTEST_SKIP() << (b.ok() ? "no CUDA device" : b.status().message())
                 << ": the gpu tests run on a machine with a GPU";
  }
  const auto& [model_name, dtype] = GetParam();
  // stories260K is also in the repo (models/), so the check runs on a GPU
  // machine without ../shared; the others come from ../shared/models.
  const std::string rel = "models/" + model_name;
  const std::string in_repo = std::string(INFERD_SOURCE_DIR) + "/" + rel;
  if (!std::filesystem::exists(in_repo)) INFERD_REQUIRE_SHARED(rel);
  const std::string dir = std::filesystem::exists(in_repo) ? in_repo : testing::SharedPath(rel);
  constexpr int32_t kSeqs = 3, kSteps = 6;
  ModelRun cpu = Load(dir, dtype, CpuBackend::Create(), kSeqs);
  auto cuda_backend = CreateCudaBackend(dtype);
  ASSERT_TRUE(cuda_backend.ok()) << cuda_backend.status();
  ModelRun gpu = Load(dir, dtype, *cuda_backend, kSeqs);
  ASSERT_NE(cpu.model, nullptr);
  ASSERT_NE(gpu.model, nullptr);
  const int64_t vocab = cpu.model->config().vocab_size;

  std::vector<std::vector<int32_t>> seqs(kSeqs);
  for (int32_t s = 0; s < kSeqs; ++s) {
    for (int32_t i = 0; i < 5 + 7 * s; ++i) seqs[s].push_back((37 * i + 11 * s + 1) % vocab);
  }
  std::vector<float> staging;
  int64_t rows = 0, agree = 0;
  double worst = 0;
  for (int32_t step = 0; step <= kSteps; ++step) {
    InputBatch batch;
    batch.Clear();
    batch.max_blocks_per_seq = kBlocksPerSeq;
    for (int32_t s = 0; s < kSeqs; ++s) {
      const int32_t len = static_cast<int32_t>(seqs[s].size());
      const int32_t begin = step == 0 ? 0 : len - 1;
      for (int32_t p = begin; p < len; ++p) {
        batch.token_ids.push_back(seqs[s][p]);
        batch.positions.push_back(p);
        batch.slot_mapping.push_back((s * kBlocksPerSeq + p / kBlockSize) * kBlockSize +
                                     p % kBlockSize);
      }
      batch.query_start.push_back(batch.query_start.back() + (len - begin));
      batch.seq_lens.push_back(len);
      batch.logits_rows.push_back(batch.query_start.back() - 1);
      for (int32_t b = 0; b < kBlocksPerSeq; ++b)
        batch.block_tables.push_back(s * kBlocksPerSeq + b);
    }
    std::vector<float> want(kSeqs * vocab);
    cpu.model->Forward(batch, cpu.kv.get(), TensorView::HostF32(want.data(), {kSeqs, vocab}));
    auto logits = gpu.model->backend().Allocate(DType::kF32, {kSeqs, vocab});
    ASSERT_TRUE(logits.ok()) << logits.status();
    gpu.model->Forward(batch, gpu.kv.get(), logits->view());
    const float* got = gpu.model->backend().ReadToHost(logits->view(), &staging);

    for (int32_t s = 0; s < kSeqs; ++s) {
      const float* w = want.data() + s * vocab;
      const float* g = got + s * vocab;
      double sq = 0, diff = 0;
      for (int64_t v = 0; v < vocab; ++v) {
        ASSERT_TRUE(std::isfinite(g[v])) << "step " << step << " seq " << s << " token " << v;
        sq += double{w[v]} * w[v];
        diff = std::max(diff, std::fabs(double{g[v]} - w[v]));
      }
      const double rms = std::sqrt(sq / vocab);
      worst = std::max(worst, diff / (rms + 1e-6));
      const int32_t want_id = static_cast<int32_t>(kernels::Argmax(w, vocab));
      agree += want_id == static_cast<int32_t>(kernels::Argmax(g, vocab));
      ++rows;
      seqs[s].push_back(want_id);
    }
  }
  const double tolerance = dtype == DType::kF32 ? 2e-3 : dtype == DType::kF16 ? 0.01 : 0.05;
  EXPECT_LE(worst, tolerance) << "largest |cuda - cpu| / rms(logits) over " << rows << " rows";
  EXPECT_GE(agree, dtype == DType::kF32 ? rows : (rows * 9 + 9) / 10)
      << agree << " of " << rows << " greedy tokens agree";
  std::printf("%s %s: max |cuda - cpu| / rms = %.3g, greedy agreement %lld / %lld\n",
              model_name.c_str(), kernels::DTypeName(dtype), worst, static_cast<long long>(agree),
              static_cast<long long>(rows));
}

INSTANTIATE_TEST_SUITE_P(Models, CudaBackendTest,
                         ::testing::Combine(::testing::Values("stories260K", "tiny-llama",
                                                              "tiny-qwen3moe", "tiny-mixtral"),
                                            ::testing::Values(DType::kF32, DType::kBF16,
                                                              DType::kF16)),
                         [](const ::testing::TestParamInfo<CudaBackendTest::ParamType>& info) {
                           std::string name = std::get<0>(info.param) + "_" +
                                              kernels::DTypeName(std::get<1>(info.param));
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace inferd::engine
