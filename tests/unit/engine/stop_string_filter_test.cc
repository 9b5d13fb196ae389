#include "engine/stop_string_filter.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

// Feeds pieces; returns (released text, hit).
std::pair<std::string, bool> Feed(StopStringFilter& f, const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& p : pieces) {
    bool hit = false;
    out += f.Push(p, &hit);
    if (hit) return {out, true};
  }
  return {out + f.Flush(), false};
}

TEST(StopStringFilterTest, NoStopsPassesEverythingThrough) {
  StopStringFilter f({});
  bool hit = true;
  EXPECT_EQ(f.Push("abc", &hit), "abc");
  EXPECT_FALSE(hit);
}

TEST(StopStringFilterTest, StopInsideOnePieceTruncatesBeforeIt) {
  StopStringFilter f({"END"});
  auto [text, hit] = Feed(f, {"hello END world"});
  EXPECT_TRUE(hit);
  EXPECT_EQ(text, "hello ");
}

TEST(StopStringFilterTest, StopSplitAcrossPiecesIsHeldBackThenDropped) {
  StopStringFilter f({"The end"});
  bool hit = false;
  EXPECT_EQ(f.Push("story. Th", &hit), "story. ");  // "Th" might start the stop
  EXPECT_FALSE(hit);
  EXPECT_EQ(f.Push("e e", &hit), "");
  EXPECT_EQ(f.Push("nd!", &hit), "");
  EXPECT_TRUE(hit);
}

TEST(StopStringFilterTest, FalseStartIsReleased) {
  StopStringFilter f({"The end"});
  auto [text, hit] = Feed(f, {"The", " dog", " ran"});
  EXPECT_FALSE(hit);
  EXPECT_EQ(text, "The dog ran");
}

TEST(StopStringFilterTest, EarliestOfSeveralStopsWins) {
  StopStringFilter f({"cat", "dog"});
  auto [text, hit] = Feed(f, {"a dog and a cat"});
  EXPECT_TRUE(hit);
  EXPECT_EQ(text, "a ");
}

TEST(StopStringFilterTest, FlushReleasesAHeldPrefix) {
  StopStringFilter f({"\n\n"});
  bool hit = false;
  EXPECT_EQ(f.Push("line\n", &hit), "line");
  EXPECT_EQ(f.Flush(), "\n");
}

TEST(StopStringFilterTest, MultibyteStopStrings) {
  StopStringFilter f({"\xE2\x80\x99s"});  // "’s"
  auto [text, hit] = Feed(f, {"Tim\xE2\x80\x99", "s dog"});
  EXPECT_TRUE(hit);
  EXPECT_EQ(text, "Tim");
}

}  // namespace
}  // namespace inferd::engine
