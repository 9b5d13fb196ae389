#include "engine/output_channel.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

RequestOutput Chunk(int32_t id, const std::string& text) {
  RequestOutput o;
  o.token_ids = {id};
  o.text = text;
  return o;
}

TEST(OutputChannelTest, PendingChunksMergeInOrder) {
  OutputChannel ch;
  int notified = 0;
  ch.SetNotify([&] { ++notified; });
  ch.Push(Chunk(1, "a"));
  ch.Push(Chunk(2, "b"));
  RequestOutput fin = Chunk(3, "c");
  fin.finished = true;
  fin.finish_reason = FinishReason::kLength;
  fin.usage.completion_tokens = 3;
  ch.Push(fin);
  EXPECT_EQ(notified, 3);
  auto out = ch.TryPop();
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->token_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(out->text, "abc");
  EXPECT_TRUE(out->finished);
  EXPECT_EQ(out->finish_reason, FinishReason::kLength);
  EXPECT_EQ(out->usage.completion_tokens, 3);
  EXPECT_FALSE(ch.TryPop().has_value());
}

TEST(OutputChannelTest, NothingIsAcceptedAfterTheFinalChunk) {
  OutputChannel ch;
  RequestOutput fin;
  fin.finished = true;
  ch.Push(fin);
  ch.Push(Chunk(9, "late"));
  auto out = ch.TryPop();
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->token_ids.empty());
  EXPECT_TRUE(ch.finished_pushed());
}

TEST(OutputChannelTest, WaitPopBlocksUntilAPushFromAnotherThread) {
  OutputChannel ch;
  std::vector<int32_t> got;
  std::thread reader([&] {
    while (true) {
      RequestOutput o = ch.WaitPop();
      got.insert(got.end(), o.token_ids.begin(), o.token_ids.end());
      if (o.finished) return;
    }
  });
  for (int32_t i = 0; i < 1000; ++i) ch.Push(Chunk(i, "x"));
  RequestOutput fin;
  fin.finished = true;
  ch.Push(fin);
  reader.join();
  ASSERT_EQ(got.size(), 1000u);
  for (int32_t i = 0; i < 1000; ++i) EXPECT_EQ(got[i], i);
}

}  // namespace
}  // namespace inferd::engine
