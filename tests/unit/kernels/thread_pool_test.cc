// tests/unit/kernels/thread_pool_test.cc — ParallelFor coverage, inline small
// jobs, nesting, resizing and many back-to-back jobs.
#include "common/thread_pool.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::kernels {
namespace {

void ExpectCoversOnce(int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  ParallelFor(n, grain, [&](int64_t b, int64_t e) {
    ASSERT_LT(b, e);
    for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
}

TEST(KernelsThreadPool, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    EXPECT_EQ(NumThreads(), threads);
    for (int64_t n : {1, 2, 3, 7, 64, 1000, 12345}) {
      for (int64_t grain : {1, 3, 100, 100000}) ExpectCoversOnce(n, grain);
    }
  }
  SetNumThreads(0);
  EXPECT_EQ(NumThreads(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST(KernelsThreadPool, EmptyRangeDoesNothing) {
  bool called = false;
  ParallelFor(0, 1, [&](int64_t, int64_t) { called = true; });
  EXPECT_FALSE(called);
}

TEST(KernelsThreadPool, SmallJobRunsInlineOnCaller) {
  SetNumThreads(2);
  const auto caller = std::this_thread::get_id();
  int calls = 0;
  ParallelFor(10, 10, [&](int64_t b, int64_t e) {
    ++calls;
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 10);
  });
  EXPECT_EQ(calls, 1);
  SetNumThreads(0);
}

TEST(KernelsThreadPool, NestedParallelForRunsInline) {
  SetNumThreads(2);
  std::atomic<int64_t> total{0};
  ParallelFor(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      ParallelFor(100, 1, [&](int64_t b2, int64_t e2) { total.fetch_add(e2 - b2); });
    }
  });
  EXPECT_EQ(total.load(), 800);
  SetNumThreads(0);
}

TEST(KernelsThreadPool, ManyBackToBackJobs) {
  SetNumThreads(2);
  std::vector<int64_t> data(4096, 0);
  for (int iter = 0; iter < 20000; ++iter) {
    ParallelFor(static_cast<int64_t>(data.size()), 256, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) data[i] += 1;
    });
  }
  for (int64_t v : data) ASSERT_EQ(v, 20000);
  SetNumThreads(0);
}

// Jobs separated by idle gaps longer than the workers' spin: exercises the
// sleep / wake-up path (and stealing from workers that are still asleep).
TEST(KernelsThreadPool, JobsAfterIdleGaps) {
  SetNumThreads(2);
  std::vector<int64_t> data(1 << 16, 0);
  for (int iter = 0; iter < 50; ++iter) {
    std::this_thread::sleep_for(std::chrono::microseconds(iter % 2 == 0 ? 300 : 20));
    ParallelFor(static_cast<int64_t>(data.size()), 1024, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) data[i] += i % 7;
    });
  }
  for (int64_t i = 0; i < static_cast<int64_t>(data.size()); ++i) ASSERT_EQ(data[i], 50 * (i % 7));
  SetNumThreads(0);
}

// Two threads issuing jobs at once (outside the contract) still get correct
// results: the second runs inline.
TEST(KernelsThreadPool, ConcurrentIssuersStayCorrect) {
  SetNumThreads(2);
  auto issue = [](std::vector<int64_t>* data) {
    for (int iter = 0; iter < 2000; ++iter) {
      ParallelFor(static_cast<int64_t>(data->size()), 64, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) (*data)[i] += 1;
      });
    }
  };
  std::vector<int64_t> a(1024, 0), b(1024, 0);
  std::thread other(issue, &b);
  issue(&a);
  other.join();
  for (int64_t v : a) ASSERT_EQ(v, 2000);
  for (int64_t v : b) ASSERT_EQ(v, 2000);
  SetNumThreads(0);
}

}  // namespace
}  // namespace inferd::kernels
