// tests/unit/model/load_progress_test.cc — LoadProgressReporter: silent for a
// load shorter than the interval, periodic reports then a last one at 100%
// for a longer one, none after Finish; the line's format; the interval's
// environment override.
#include "engine/model/load_progress.h"

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

using std::chrono::milliseconds;

// The reports a sink received, from whichever thread.
struct Recorded {
  std::mutex mutex;
  std::vector<LoadProgress> reports;
  LoadProgressSink Sink() {
    return [this](const LoadProgress& p) {
      std::lock_guard<std::mutex> lock(mutex);
      reports.push_back(p);
    };
  }
  std::vector<LoadProgress> Get() {
    std::lock_guard<std::mutex> lock(mutex);
    return reports;
  }
};

TEST(LoadProgressTest, FormatsPercentSizesAndRate) {
  const LoadProgress p{.loaded_bytes = 780'000'000, .total_bytes = 2'080'000'000, .seconds = 0.65};
  EXPECT_EQ(FormatLoadProgress(p), "loading weights 37% (0.78 / 2.08 GB, 1.2 GB/s)");
  EXPECT_EQ(FormatLoadProgress(LoadProgress{}), "loading weights 0% (0.00 / 0.00 GB, 0.0 GB/s)");
}

TEST(LoadProgressTest, PercentStaysBelow100UntilDone) {
  LoadProgress p{.loaded_bytes = 1000, .total_bytes = 1000, .seconds = 1};
  EXPECT_EQ(p.Percent(), 99);
  p.done = true;
  EXPECT_EQ(p.Percent(), 100);
  EXPECT_EQ((LoadProgress{.loaded_bytes = 5, .total_bytes = 0}).Percent(), 0);
  EXPECT_EQ((LoadProgress{.loaded_bytes = 1, .total_bytes = 3}).Percent(), 33);
}

TEST(LoadProgressTest, ShortLoadReportsNothing) {
  Recorded recorded;
  std::atomic<int64_t> loaded{0};
  LoadProgressReporter reporter(
      100, [&] { return loaded.load(); }, recorded.Sink(), milliseconds(1000));
  loaded = 100;
  reporter.Finish(true);
  EXPECT_TRUE(recorded.Get().empty());
}

TEST(LoadProgressTest, LongLoadReportsPeriodicallyThenDoneAndNothingAfter) {
  Recorded recorded;
  std::atomic<int64_t> loaded{0};
  {
    LoadProgressReporter reporter(
        1000, [&] { return loaded.load(); }, recorded.Sink(), milliseconds(10));
    for (int i = 1; i <= 20; ++i) {
      std::this_thread::sleep_for(milliseconds(5));
      loaded = 40 * i;  // 800 of the 1000 expected
    }
    std::this_thread::sleep_for(milliseconds(30));  // at least one report
    reporter.Finish(true);
    const size_t after_finish = recorded.Get().size();
    std::this_thread::sleep_for(milliseconds(50));
    EXPECT_EQ(recorded.Get().size(), after_finish);
  }
  const std::vector<LoadProgress> reports = recorded.Get();
  ASSERT_GE(reports.size(), 2u);
  for (size_t i = 0; i + 1 < reports.size(); ++i) {
    EXPECT_FALSE(reports[i].done) << i;
    EXPECT_EQ(reports[i].total_bytes, 1000) << i;
    EXPECT_LT(reports[i].Percent(), 100) << i;
    if (i > 0) {
      EXPECT_GE(reports[i].loaded_bytes, reports[i - 1].loaded_bytes) << i;
      EXPECT_GE(reports[i].seconds, reports[i - 1].seconds) << i;
    }
  }
  // The last: what was really loaded, as 100%.
  EXPECT_TRUE(reports.back().done);
  EXPECT_EQ(reports.back().Percent(), 100);
  EXPECT_EQ(reports.back().loaded_bytes, 800);
  EXPECT_EQ(reports.back().total_bytes, 800);
}

TEST(LoadProgressTest, FailedLoadGetsNoLastReport) {
  Recorded recorded;
  LoadProgressReporter reporter(
      1000, [] { return int64_t{10}; }, recorded.Sink(), milliseconds(5));
  std::this_thread::sleep_for(milliseconds(40));
  reporter.Finish(false);
  const std::vector<LoadProgress> reports = recorded.Get();
  ASSERT_FALSE(reports.empty());
  for (const LoadProgress& p : reports) EXPECT_FALSE(p.done);
}

TEST(LoadProgressTest, DestructorStopsWithoutALastReportAndNullSinkIsSilent) {
  Recorded recorded;
  {
    LoadProgressReporter reporter(
        1, [] { return int64_t{1}; }, recorded.Sink(), milliseconds(5));
    std::this_thread::sleep_for(milliseconds(20));
  }
  for (const LoadProgress& p : recorded.Get()) EXPECT_FALSE(p.done);
  LoadProgressReporter silent(
      1, [] { return int64_t{1}; }, nullptr, milliseconds(1));
  std::this_thread::sleep_for(milliseconds(5));
  silent.Finish(true);
  silent.Finish(true);  // idempotent
}

TEST(LoadProgressTest, IntervalFromTheEnvironment) {
  const char* kVar = "INFERD_LOAD_PROGRESS_INTERVAL_S";
  unsetenv(kVar);
  EXPECT_EQ(LoadProgressInterval(), milliseconds(1000));
  setenv(kVar, "0.25", 1);
  EXPECT_EQ(LoadProgressInterval(), milliseconds(250));
  setenv(kVar, "0.0001", 1);
  EXPECT_EQ(LoadProgressInterval(), milliseconds(1));
  for (const char* bad : {"", "0", "-1", "abc", "1s", "1e9"}) {
    setenv(kVar, bad, 1);
    EXPECT_EQ(LoadProgressInterval(), milliseconds(1000)) << bad;
  }
  unsetenv(kVar);
}

}  // namespace
}  // namespace inferd::engine
