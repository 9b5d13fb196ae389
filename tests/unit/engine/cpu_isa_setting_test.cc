// tests/unit/engine/cpu_isa_setting_test.cc — --cpu-isa as the engine
// applies it (kernels/cpu_isa.h): the spellings, every path this CPU runs
// selected and named in ModelInfo, a path it lacks refused clearly, and the
// fp32 model's greedy tokens the same on every path (only bf16 weights with
// vdpbf16ps may differ between paths).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "gtest/gtest.h"
#include "kernels/cpu_isa.h"
#include "tests/engine_test_util.h"
#include "tests/test_util.h"

namespace inferd::engine {
namespace {

using kernels::CpuIsa;

EngineConfig Config(std::optional<CpuIsa> isa) {
  EngineConfig cfg;
  cfg.model_dir = testing::SharedPath("models/stories260K");
  cfg.kv_cache_memory_bytes = 16 << 20;
  cfg.cpu_isa = isa;
  return cfg;
}

// Greedy tokens of one prompt, EOS ignored.
std::vector<int32_t> GreedyIds(Engine& engine) {
  Request r = testing::Greedy("isa", {1, 403, 407, 261, 378}, 48);
  r.sampling.ignore_eos = true;
  return testing::RunOne(engine, std::move(r)).ids;
}

class CpuIsaSettingTest : public ::testing::Test {
 protected:
  // The path is process-wide: leave the one the suite started with.
  void TearDown() override { kernels::SetCpuIsa(before_); }
  const CpuIsa before_ = kernels::ActiveCpuIsa();
};

TEST_F(CpuIsaSettingTest, ParsesTheSpellings) {
  EXPECT_EQ(*ParseCpuIsaSetting("auto"), std::nullopt);
  EXPECT_EQ(*ParseCpuIsaSetting("avx2"), CpuIsa::kAvx2);
  EXPECT_EQ(*ParseCpuIsaSetting("avx-vnni"), CpuIsa::kAvxVnni);
  EXPECT_EQ(*ParseCpuIsaSetting("avx512"), CpuIsa::kAvx512);
  for (const char* bad : {"", "sse4", "AVX2", "avx512f"}) {
    absl::StatusOr<std::optional<CpuIsa>> p = ParseCpuIsaSetting(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find("must be auto, avx2, avx-vnni or avx512"),
              absl::string_view::npos)
        << p.status();
  }
  EXPECT_EQ(EngineConfig().cpu_isa, std::nullopt);  // auto by default
}

TEST_F(CpuIsaSettingTest, EveryPathTheCpuRunsIsNamedAndGivesTheSameTokens) {
  INFERD_REQUIRE_SHARED("models/stories260K");
  std::vector<int32_t> avx2_tokens;
  for (CpuIsa isa : kernels::kCpuIsas) {
    SCOPED_TRACE(kernels::CpuIsaName(isa));
    absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(Config(isa));
    if (!kernels::CpuSupports(isa)) {
      ASSERT_FALSE(e.ok());
      EXPECT_EQ(e.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_NE(e.status().message().find(std::string("--cpu-isa ") + kernels::CpuIsaName(isa)),
                absl::string_view::npos)
          << e.status();
      std::printf("[   SKIP   ] path %s: this CPU cannot run it (refused: %s)\n",
                  kernels::CpuIsaName(isa), std::string(e.status().message()).c_str());
      continue;
    }
    ASSERT_TRUE(e.ok()) << e.status();
    const ModelInfo& info = (*e)->model_info();
    EXPECT_EQ(info.cpu_isa, kernels::CpuIsaName(isa));
    EXPECT_EQ(info.cpu_kernels.rfind(info.cpu_isa + " (", 0), 0u) << info.cpu_kernels;
    EXPECT_EQ(kernels::ActiveCpuIsa(), isa);
    const std::vector<int32_t> tokens = GreedyIds(**e);
    ASSERT_EQ(tokens.size(), 48u);
    if (isa == CpuIsa::kAvx2) {
      avx2_tokens = tokens;
    } else {
      EXPECT_EQ(tokens, avx2_tokens) << "fp32 weights: the same tokens on every path";
    }
  }
}

TEST_F(CpuIsaSettingTest, AutoKeepsTheActivePath) {
  INFERD_REQUIRE_SHARED("models/stories260K");
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(Config(std::nullopt));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ((*e)->model_info().cpu_isa, kernels::CpuIsaName(before_));
}

}  // namespace
}  // namespace inferd::engine
