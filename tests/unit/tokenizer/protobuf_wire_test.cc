// tests/unit/tokenizer/protobuf_wire_test.cc — WireReader: every scalar
// encoding, skipping of all wire types (nested groups included), and the
// malformed inputs it must reject with an error naming the origin, the field
// and the byte offset.
#include "engine/tokenizer/protobuf_wire.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/tokenizer/sentencepiece_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::BytesField;
using ::inferd::testing::FloatField;
using ::inferd::testing::Key;
using ::inferd::testing::Varint;
using ::inferd::testing::VarintField;

// Reads every field of `bytes`, skipping them; the first error or OK.
absl::Status SkipAll(const std::string& bytes) {
  WireReader r(bytes, "x.bin");
  for (;;) {
    bool done = false;
    if (absl::Status s = r.NextField(&done); !s.ok() || done) return s;
    if (absl::Status s = r.SkipField(); !s.ok()) return s;
  }
}

void ExpectError(const absl::Status& s, const std::string& what) {
  ASSERT_FALSE(s.ok()) << "expected an error about " << what;
  const std::string message(s.message());
  EXPECT_NE(message.find("x.bin"), std::string::npos) << message;
  EXPECT_NE(message.find(what), std::string::npos) << message;
}

TEST(TokenizerWireReaderTest, ReadsScalars) {
  const std::string bytes = VarintField(1, 300) + VarintField(2, uint64_t(int64_t{-7})) +
                            VarintField(3, 1) + FloatField(4, -2.5f) + BytesField(5, "hi") +
                            VarintField(536870911, ~uint64_t{0});
  WireReader r(bytes, "x.bin");
  bool done = false;
  uint64_t u = 0;
  int32_t i = 0;
  bool b = false;
  float f = 0;
  std::string_view s;
  ASSERT_TRUE(r.NextField(&done).ok());
  EXPECT_EQ(r.field_number(), 1u);
  ASSERT_TRUE(r.ReadVarint("a", &u).ok());
  EXPECT_EQ(u, 300u);
  ASSERT_TRUE(r.NextField(&done).ok());
  ASSERT_TRUE(r.ReadInt32("b", &i).ok());  // a ten-byte varint
  EXPECT_EQ(i, -7);
  ASSERT_TRUE(r.NextField(&done).ok());
  ASSERT_TRUE(r.ReadBool("c", &b).ok());
  EXPECT_TRUE(b);
  ASSERT_TRUE(r.NextField(&done).ok());
  EXPECT_EQ(r.wire_type(), WireType::kFixed32);
  ASSERT_TRUE(r.ReadFloat("d", &f).ok());
  EXPECT_EQ(f, -2.5f);
  ASSERT_TRUE(r.NextField(&done).ok());
  ASSERT_TRUE(r.ReadBytes("e", &s).ok());
  EXPECT_EQ(s, "hi");
  ASSERT_TRUE(r.NextField(&done).ok());
  EXPECT_EQ(r.field_number(), 536870911u);
  ASSERT_TRUE(r.ReadVarint("f", &u).ok());
  EXPECT_EQ(u, ~uint64_t{0});
  ASSERT_TRUE(r.NextField(&done).ok());
  EXPECT_TRUE(done);
}

TEST(TokenizerWireReaderTest, NestedMessagesNameTheirPathAndFileOffset) {
  const std::string inner = VarintField(1, 5) + Key(2, 5) + "ab";  // truncated fixed32
  const std::string bytes = VarintField(9, 1) + BytesField(3, inner);
  WireReader r(bytes, "x.bin");
  bool done = false;
  ASSERT_TRUE(r.NextField(&done).ok());
  ASSERT_TRUE(r.SkipField().ok());
  ASSERT_TRUE(r.NextField(&done).ok());
  absl::StatusOr<WireReader> sub = r.ReadMessage("outer");
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(sub->NextField(&done).ok());
  ASSERT_TRUE(sub->SkipField().ok());
  ASSERT_TRUE(sub->NextField(&done).ok());
  float f = 0;
  const absl::Status s = sub->ReadFloat("score", &f);
  ExpectError(s, "outer.score: truncated fixed32 value");
  // The fixed32 field's key is at byte 2 (key+varint) + 2 (key+length) + 2.
  EXPECT_NE(std::string(s.message()).find("(at byte 6)"), std::string::npos) << s;
}

TEST(TokenizerWireReaderTest, WrongWireTypeForAKnownFieldNamesIt) {
  const std::string bytes = BytesField(2, "abcd");
  WireReader r(bytes, "x.bin", "pieces[4]");
  bool done = false;
  ASSERT_TRUE(r.NextField(&done).ok());
  float f = 0;
  ExpectError(r.ReadFloat("score", &f),
              "pieces[4].score: field 2 has wire type length-delimited (2), expected fixed32 (5)");
  uint64_t u = 0;
  ExpectError(r.ReadVarint("n", &u), "pieces[4].n: field 2 has wire type length-delimited");
}

TEST(TokenizerWireReaderTest, SkipsEveryWireTypeAndNestedGroups) {
  const std::string group = Key(7, 3) + VarintField(1, 1) + Key(8, 3) + FloatField(2, 1.0f) +
                            Key(8, 4) + BytesField(3, "zz") + Key(7, 4);
  const std::string bytes = VarintField(1, 123456789) + Key(2, 1) + std::string(8, '\x01') +
                            BytesField(3, std::string(300, 'q')) + FloatField(4, 1.0f) + group +
                            VarintField(5, 0);
  EXPECT_TRUE(SkipAll(bytes).ok()) << SkipAll(bytes);
  EXPECT_TRUE(SkipAll("").ok());
}

TEST(TokenizerWireReaderTest, RejectsMalformedInput) {
  const struct {
    std::string bytes;
    std::string what;
  } cases[] = {
      {"\x08", "truncated varint"},
      {"\x08\x80\x80", "truncated varint"},
      {"\x80", "truncated varint"},  // in the key
      {"\x08" + std::string(9, '\xFF') + "\x02", "varint does not fit in 64 bits"},
      {"\x08" + std::string(10, '\xFF') + "\x01", "varint does not fit in 64 bits"},
      {std::string("\x00\x01", 2), "invalid field number 0"},
      {Varint(uint64_t{1} << 32 | 0), "invalid field number"},
      {"\x0E\x01", "invalid wire type 6"},
      {"\x0F\x01", "invalid wire type 7"},
      {"\x0C", "end-group without a start-group"},
      {"\x0B\x08\x01", "group of field 1 is not closed"},
      {"\x0B\x14", "end-group of field 2 closes the group of field 1"},
      {Key(1, 2) + Varint(5) + "abc", "length 5 runs past the end of the message (3 bytes left)"},
      {Key(1, 2) + Varint(~uint64_t{0} >> 1), "runs past the end"},
      {Key(1, 1) + "1234567", "truncated fixed64 (1) value"},
      {Key(1, 5) + "123", "truncated fixed32 (5) value"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ExpectError(SkipAll(c.bytes), c.what);
  }
}

TEST(TokenizerWireReaderTest, BoundsGroupNesting) {
  std::string deep;
  for (int i = 0; i < WireReader::kMaxGroupDepth; ++i) deep += Key(1, 3);
  std::string closed = deep;
  for (int i = 0; i < WireReader::kMaxGroupDepth; ++i) closed += Key(1, 4);
  EXPECT_TRUE(SkipAll(closed).ok()) << SkipAll(closed);
  ExpectError(SkipAll(deep + Key(1, 3)), "groups nested deeper than 64");
  // A long run of start-groups is rejected quickly, not by exhausting memory.
  ExpectError(SkipAll(std::string(1 << 20, '\x0B')), "groups nested deeper than 64");
}

}  // namespace
}  // namespace inferd::engine
