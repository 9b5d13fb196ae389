// tests/integration/batch_invariance_test.cc — DESIGN §5: a request's tokens
// do not depend on what else the server runs. 16 concurrent streams (different
// prompts, staggered starts, max_tokens 8..200) each produce exactly the
// tokens they produce alone, greedy and seeded. The same suite runs on the
// dense stories260K and on two Mixture-of-Experts checkpoints (tiny Mixtral,
// tiny Qwen2-MoE), where tokens also share experts within a step, and on
// tiny-llama under `--dtype bf16 --kv-cache-dtype bf16` (its fp32 checkpoint
// rounded to bf16 at load): the kernels widen a bf16 weight panel once when
// 4+ rows share it and per row otherwise, so a decode alone and decodes
// together take different paths to the same bits; and on tiny-llama (and
// tiny Mixtral) with the linear layers quantized at load (--quantization int8
// and q4).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/server_fixture.h"
#include "tests/unit/model/kquant_gguf.h"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::testing {
namespace {

constexpr int kNumRequests = 16;

const char* const kPrompts[kNumRequests] = {
    "Once upon a time", "The little dog",     "Lily and Ben were",   "One day, a girl named",
    "The sun was",      "Tom wanted to",      "There was a big red", "Mom said",
    "The bird flew",    "A boy had a toy",    "In the park,",        "The cat was very",
    "Sue liked to",     "It was a rainy day", "The old man",         "They went to the"};

// 8 .. 200, mixed so that short and long requests overlap.
int32_t MaxTokens(int i) { return 8 + (i * 7 % kNumRequests) * 192 / (kNumRequests - 1); }

template <const char* kModelPath>
class BatchInvarianceSuite : public ServerTestWith<kModelPath> {
 protected:
  std::vector<v1::GenerateRequest> Requests(bool sampled) {
    std::vector<v1::GenerateRequest> requests;
    for (int i = 0; i < kNumRequests; ++i) {
      v1::GenerateRequest request =
          GreedyRequest(Tokenize(*this->stub_, kPrompts[i]), MaxTokens(i));
      request.set_ignore_eos(ignore_eos_);
      if (sampled) {
        request.set_temperature(0.8f);
        request.set_top_p(0.95f);
        request.set_seed(1000 + i);
      }
      requests.push_back(request);
    }
    return requests;
  }

  void ExpectConcurrentEqualsAlone(const std::vector<v1::GenerateRequest>& requests) {
    std::vector<StreamResult> alone;
    for (const v1::GenerateRequest& request : requests) {
      alone.push_back(RunGenerate(*this->stub_, request));
      ASSERT_TRUE(alone.back().status.ok()) << alone.back().status.error_message();
    }
    std::vector<StreamResult> together(requests.size());
    std::atomic<int> streams_done{0};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < requests.size(); ++i) {
      threads.emplace_back([&, i] {
        std::this_thread::sleep_for(std::chrono::microseconds(500 * i));  // staggered
        auto stub = this->server_->NewStub();
        together[i] = RunGenerate(*stub, requests[i]);
        ++streams_done;
      });
    }
    // The streams must really share engine steps for the test to mean anything.
    int64_t max_running = 0;
    while (streams_done.load() < kNumRequests) {
      max_running = std::max(max_running, GetModelInfo(*this->stub_).engine().num_running());
    }
    for (std::thread& t : threads) t.join();
    EXPECT_GE(max_running, 2) << "the concurrent streams never ran in the same step";
    for (size_t i = 0; i < requests.size(); ++i) {
      SCOPED_TRACE("request " + std::to_string(i) + ": " + kPrompts[i]);
      ASSERT_TRUE(together[i].status.ok()) << together[i].status.error_message();
      EXPECT_FALSE(alone[i].ids.empty());
      if (ignore_eos_) {
        EXPECT_EQ(static_cast<int32_t>(alone[i].ids.size()), requests[i].max_tokens());
      }
      EXPECT_EQ(together[i].ids, alone[i].ids);
      EXPECT_EQ(together[i].text, alone[i].text);
      EXPECT_EQ(together[i].finish_reason, alone[i].finish_reason);
    }
    EXPECT_TRUE(WaitUntilIdle(*this->stub_));
  }

  bool ignore_eos_ = false;  // every stream runs to its max_tokens
};

inline constexpr char kTinyMixtral[] = "models/tiny-mixtral";
inline constexpr char kTinyQwen2Moe[] = "models/tiny-qwen2moe";
inline constexpr char kTinyLlama[] = "models/tiny-llama";

class Bf16BatchInvarianceTest : public BatchInvarianceSuite<kTinyLlama> {
 protected:
  std::vector<std::string> ServerArgs() const override {
    return {"--dtype", "bf16", "--kv-cache-dtype", "bf16"};
  }
  void SetUp() override {
    BatchInvarianceSuite<kTinyLlama>::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ignore_eos_ = true;
    // The server really runs bf16 weights and a bf16 cache, converted at load.
    const v1::GetModelInfoResponse info = GetModelInfo(*stub_);
    ASSERT_EQ(info.dtype(), "bf16");
    ASSERT_EQ(info.kv_cache_dtype(), "bf16");
    ASSERT_EQ(info.checkpoint_dtype(), "fp32");
    // GetModelInfo names the CPU kernels' path (--cpu-isa).
    ASSERT_FALSE(info.cpu_isa().empty());
    EXPECT_EQ(info.cpu_kernels().rfind(info.cpu_isa() + " (", 0), 0u) << info.cpu_kernels();
  }
};

// The same forced onto the AVX2 path (--cpu-isa avx2, which every CPU runs:
// bf16 weights widened to fp32 in registers rather than vdpbf16ps), so both
// bf16 arithmetics are batch-invariant where the CPU has AVX512_BF16.
class Bf16Avx2BatchInvarianceTest : public Bf16BatchInvarianceTest {
 protected:
  std::vector<std::string> ServerArgs() const override {
    return {"--dtype", "bf16", "--kv-cache-dtype", "bf16", "--cpu-isa", "avx2"};
  }
  void SetUp() override {
    Bf16BatchInvarianceTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(GetModelInfo(*stub_).cpu_isa(), "avx2");
  }
};

// Weight-only quantization (--quantization int8|q4): the quantized Matmul
// streams 8 columns for a lone decode row and runs 4 x 2 register tiles once
// 2+ rows share the weights, the same integer dot products and the same bits
// either way. tiny-llama's matrices are all whole blocks of 32; tiny-mixtral's
// experts too.
template <const char* kModelPath, const char* kFlag, const char* kDType>
class QuantizedBatchInvarianceTest : public BatchInvarianceSuite<kModelPath> {
 protected:
  std::vector<std::string> ServerArgs() const override { return {"--quantization", kFlag}; }
  void SetUp() override {
    BatchInvarianceSuite<kModelPath>::SetUp();
    if (this->IsSkipped() || this->HasFatalFailure()) return;
    this->ignore_eos_ = true;
    const v1::GetModelInfoResponse info = GetModelInfo(*this->stub_);
    ASSERT_EQ(info.quantization(), kDType);
    ASSERT_FALSE(info.lm_head_quantized());
  }
};

inline constexpr char kInt8[] = "int8";
inline constexpr char kQ4[] = "q4";
inline constexpr char kQ8_0Name[] = "q8_0";
inline constexpr char kQ4_0Name[] = "q4_0";
using Int8BatchInvarianceTest = QuantizedBatchInvarianceTest<kTinyLlama, kInt8, kQ8_0Name>;
using Q4BatchInvarianceTest = QuantizedBatchInvarianceTest<kTinyLlama, kQ4, kQ4_0Name>;
using Q4MixtralBatchInvarianceTest = QuantizedBatchInvarianceTest<kTinyMixtral, kQ4, kQ4_0Name>;

TEST_F(Int8BatchInvarianceTest, GreedyConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/false));
}

TEST_F(Int8BatchInvarianceTest, SeededSamplingConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/true));
}

TEST_F(Q4BatchInvarianceTest, GreedyConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/false));
}

TEST_F(Q4BatchInvarianceTest, SeededSamplingConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/true));
}

TEST_F(Q4MixtralBatchInvarianceTest, GreedyConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/false));
}

// llama.cpp's k-quants served as stored (--quantization auto, the
// default): a GGUF of Q4_K/Q6_K blocks (tests/unit/model/kquant_gguf.h,
// random weights, hidden 256) with tiny-llama's tokenizer (the same 32,000
// tokens). One row runs the row tile per column tile, many rows the same
// tile row after row: the same integer sums, the same bits.
class KQuantBatchInvarianceTest : public BatchInvarianceSuite<kTinyLlama> {
 protected:
  void SetUp() override {
    INFERD_REQUIRE_SHARED(kTinyLlama);
    if (server_ == nullptr) {
      dir_ = std::make_unique<TempDir>();
      const std::string gguf = dir_->file("kquant.gguf");
      WriteFile(gguf, KQuantLlamaGguf(32000));
      std::string error;
      server_ = InferdServer::Start(gguf, {"--tokenizer", SharedPath(kTinyLlama)}, &error);
      ASSERT_NE(server_, nullptr) << error;
    }
    stub_ = server_->NewStub();
    ignore_eos_ = true;
    const v1::GetModelInfoResponse info = GetModelInfo(*stub_);
    ASSERT_EQ(info.quantization(), "q4_k,q6_k");  // layer 1's q/k/v apart, as stored
    ASSERT_TRUE(info.lm_head_quantized());
  }
  static void TearDownTestSuite() {
    BatchInvarianceSuite<kTinyLlama>::TearDownTestSuite();
    dir_.reset();
  }
  inline static std::unique_ptr<TempDir> dir_;
};

TEST_F(KQuantBatchInvarianceTest, GreedyConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/false));
}

TEST_F(KQuantBatchInvarianceTest, SeededSamplingConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/true));
}

using BatchInvarianceTest = BatchInvarianceSuite<kModel>;
using MoeMixtralBatchInvarianceTest = BatchInvarianceSuite<kTinyMixtral>;
using MoeQwen2BatchInvarianceTest = BatchInvarianceSuite<kTinyQwen2Moe>;

TEST_F(BatchInvarianceTest, GreedyConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/false));
}

TEST_F(BatchInvarianceTest, SeededSamplingConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/true));
}

TEST_F(MoeMixtralBatchInvarianceTest, GreedyConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/false));
}

TEST_F(MoeMixtralBatchInvarianceTest, SeededSamplingConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/true));
}

TEST_F(MoeQwen2BatchInvarianceTest, GreedyConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/false));
}

TEST_F(Bf16BatchInvarianceTest, GreedyConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/false));
}

TEST_F(Bf16BatchInvarianceTest, SeededSamplingConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/true));
}

TEST_F(Bf16Avx2BatchInvarianceTest, GreedyConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/false));
}

}  // namespace
}  // namespace inferd::testing
