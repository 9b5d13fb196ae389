// tests/unit/engine/device_kv_budget_test.cc — the device KV pool's sizing
// arithmetic (engine/backend/device_kv_budget.h), on the CPU: fixed cases
// with the numbers worked by hand, the errors, and random inputs against the
// plain statement of the rule.
#include "engine/backend/device_kv_budget.h"

#include <cmath>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

constexpr int64_t kGiB = 1ll << 30;

TEST(PlanDeviceKvTest, UtilizationOfTheFreeMemoryLessActivations) {
  DeviceKvPlanInput in;
  in.memory = {70 * kGiB, 80 * kGiB};  // 10 GiB of weights (and context) resident
  in.utilization = 0.9;
  in.activation_bytes = 3 * kGiB;
  in.bytes_per_block = 2 << 20;  // 2 MiB
  absl::StatusOr<DeviceKvPlan> plan = PlanDeviceKv(in);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->usable_bytes, 63 * kGiB);
  // 60 GiB for KV = 30720 blocks of 2 MiB.
  EXPECT_EQ(plan->num_blocks, 30720);
  EXPECT_EQ(plan->kv_bytes, 60 * kGiB);
}

TEST(PlanDeviceKvTest, RoundsDownToWholeBlocks) {
  DeviceKvPlanInput in;
  in.memory = {1000, 2000};
  in.utilization = 1.0;
  in.activation_bytes = 100;
  in.bytes_per_block = 7;
  absl::StatusOr<DeviceKvPlan> plan = PlanDeviceKv(in);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->num_blocks, 900 / 7);
  EXPECT_EQ(plan->kv_bytes, 900 / 7 * 7);
}

TEST(PlanDeviceKvTest, CapsTheBlockCount) {
  DeviceKvPlanInput in;
  in.memory = {100 * kGiB, 141 * kGiB};
  in.utilization = 0.9;
  in.bytes_per_block = 256;  // a tiny model: far more blocks than int32 slots
  in.max_blocks = (int64_t{1} << 31) / 16;
  absl::StatusOr<DeviceKvPlan> plan = PlanDeviceKv(in);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->num_blocks, in.max_blocks);
  EXPECT_EQ(plan->kv_bytes, in.max_blocks * 256);
}

TEST(PlanDeviceKvTest, NothingLeftIsAClearError) {
  DeviceKvPlanInput in;
  in.memory = {4 * kGiB, 80 * kGiB};
  in.utilization = 0.5;
  in.activation_bytes = 2 * kGiB;  // exactly the usable 2 GiB: no block
  in.bytes_per_block = 1 << 20;
  in.device = "cuda:0 (test GPU)";
  absl::StatusOr<DeviceKvPlan> plan = PlanDeviceKv(in);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kResourceExhausted);
  const std::string m(plan.status().message());
  EXPECT_NE(m.find("no GPU memory is left for the KV cache on cuda:0 (test GPU)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("4.00 GiB of its 80.00 GiB are free"), std::string::npos) << m;
  EXPECT_NE(m.find("--gpu-memory-utilization 0.5"), std::string::npos) << m;
  // More activations than usable memory, and no free memory at all.
  in.activation_bytes = 3 * kGiB;
  EXPECT_EQ(PlanDeviceKv(in).status().code(), absl::StatusCode::kResourceExhausted);
  in.memory.free_bytes = 0;
  in.activation_bytes = 0;
  EXPECT_EQ(PlanDeviceKv(in).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(PlanDeviceKvTest, RejectsBadUtilizationAndBlockSize) {
  DeviceKvPlanInput in;
  in.memory = {kGiB, kGiB};
  in.bytes_per_block = 1024;
  for (double u : {0.0, -0.1, 1.01, std::nan("")}) {
    in.utilization = u;
    absl::StatusOr<DeviceKvPlan> plan = PlanDeviceKv(in);
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument) << u;
  }
  in.utilization = 0.9;
  in.bytes_per_block = 0;
  EXPECT_EQ(PlanDeviceKv(in).status().code(), absl::StatusCode::kInvalidArgument);
}

// Random inputs against the rule stated plainly: the pool is the most whole
// blocks that, with the activations, fit in utilization x free.
TEST(PlanDeviceKvTest, RandomInputsMatchThePlainRule) {
  std::mt19937_64 rng(17);
  for (int i = 0; i < 20000; ++i) {
    DeviceKvPlanInput in;
    in.memory.total_bytes = static_cast<int64_t>(rng() % (200 * kGiB)) + 1;
    in.memory.free_bytes = static_cast<int64_t>(rng() % (in.memory.total_bytes + 1));
    in.utilization = (1 + rng() % 1000) / 1000.0;
    in.activation_bytes = static_cast<int64_t>(rng() % (8 * kGiB));
    in.bytes_per_block = 1 + static_cast<int64_t>(rng() % (64 << 20));
    const long double usable = std::floor(static_cast<long double>(in.memory.free_bytes) *
                                          static_cast<long double>(in.utilization));
    // The most blocks n with n * block + activations <= usable, by counting
    // down from an upper bound rather than by division.
    int64_t n = static_cast<int64_t>(usable / in.bytes_per_block) + 1;
    while (n > 0 && static_cast<long double>(n) * in.bytes_per_block + in.activation_bytes >
                        usable + 1) {  // +1: the double product may round up by a byte
      --n;
    }
    absl::StatusOr<DeviceKvPlan> plan = PlanDeviceKv(in);
    if (n < 1) {
      ASSERT_FALSE(plan.ok()) << i;
      continue;
    }
    ASSERT_TRUE(plan.ok()) << i << ": " << plan.status();
    EXPECT_LE(plan->kv_bytes + in.activation_bytes, plan->usable_bytes) << i;
    EXPECT_LE(plan->usable_bytes, in.memory.free_bytes) << i;
    EXPECT_GT((plan->num_blocks + 1) * in.bytes_per_block + in.activation_bytes, plan->usable_bytes)
        << i;
    EXPECT_LE(std::abs(plan->num_blocks - n), 1) << i;
    EXPECT_EQ(plan->kv_bytes, plan->num_blocks * in.bytes_per_block) << i;
  }
}

TEST(ModelActivationBytesTest, CountsEveryStepBuffer) {
  StepShape s;
  s.max_tokens = 10;
  s.max_logits_rows = 4;
  s.hidden = 8;
  s.num_q_heads = 4;
  s.num_kv_heads = 2;
  s.head_dim = 2;  // q_dim 8, kv_dim 4
  s.intermediate = 16;
  s.vocab = 100;
  s.activation_dtype_bytes = 2;
  // Per token: residual, h, selected, delta (4 x 8) + qkv (16) + q (8) +
  // k, v (4 + 4) + attn (8) + gate_up, act (48) = 120 elements.
  EXPECT_EQ(ModelActivationBytes(s), 10 * 120 * 2 + 4 * 100 * 4);
  // MoE: router logits (E) and a shared expert's output, gate and MLP.
  s.num_experts = 6;
  s.experts_per_token = 2;
  s.moe_intermediate = 12;
  s.shared_intermediate = 5;
  EXPECT_EQ(ModelActivationBytes(s), 10 * (120 + 6 + 8 + 1 + 15) * 2 + 4 * 100 * 4);
}

}  // namespace
}  // namespace inferd::engine
