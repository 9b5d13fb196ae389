// tests/unit/tokenizer/utf8_test.cc — UTF-8 helpers, above all RepairUtf8:
// both replacement policies, and that repairing a stream piece by piece
// gives exactly what repairing it at once gives.
#include "engine/tokenizer/utf8.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

const std::string kFffd(kReplacementChar);

std::string Repair(std::string_view in, InvalidUtf8 policy) {
  std::string out;
  EXPECT_EQ(RepairUtf8(in, policy, /*final=*/true, &out), in.size());
  return out;
}

TEST(TokenizerUtf8Test, CharLenAndDecode) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x99\x82";  // a é € 🙂
  EXPECT_EQ(Utf8CharLen(s, 0), 1u);
  EXPECT_EQ(Utf8CharLen(s, 1), 2u);
  EXPECT_EQ(Utf8CharLen(s, 3), 3u);
  EXPECT_EQ(Utf8CharLen(s, 6), 4u);
  size_t len = 0;
  EXPECT_EQ(DecodeUtf8(s, 6, &len), 0x1F642);
  EXPECT_EQ(len, 4u);
  // Overlong, surrogate, beyond U+10FFFF, lone continuation, truncated.
  for (const std::string bad :
       {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "\xE2\x82"}) {
    EXPECT_EQ(Utf8CharLen(bad, 0), 1u) << bad;
    EXPECT_EQ(DecodeUtf8(bad, 0, &len), -1) << bad;
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
  EXPECT_TRUE(IsValidUtf8(s));
}

TEST(TokenizerUtf8Test, AppendUtf8RoundTrips) {
  for (uint32_t cp : {0x0u, 0x41u, 0x7FFu, 0x800u, 0xFFFDu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    AppendUtf8(cp, &s);
    size_t len = 0;
    EXPECT_EQ(DecodeUtf8(s, 0, &len), static_cast<int32_t>(cp));
    EXPECT_EQ(len, s.size());
  }
}

TEST(TokenizerUtf8Test, WhitespaceIsUnicodeWhiteSpace) {
  for (int32_t cp : {0x09, 0x0A, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x3000}) {
    EXPECT_TRUE(IsUnicodeWhitespace(cp)) << cp;
  }
  for (int32_t cp : {0x41, 0x200B, 0x1C, 0xFEFF, -1}) EXPECT_FALSE(IsUnicodeWhitespace(cp)) << cp;
}

TEST(TokenizerUtf8Test, PerBytePolicyReplacesEachInvalidByte) {
  const InvalidUtf8 p = InvalidUtf8::kReplacePerByte;
  EXPECT_EQ(Repair("ok", p), "ok");
  EXPECT_EQ(Repair("\xE2\x80 x", p), kFffd + kFffd + " x");  // truncated, then text
  EXPECT_EQ(Repair("\xFF\xFE", p), kFffd + kFffd);
  EXPECT_EQ(Repair("\xE2\x80\x99", p), "\xE2\x80\x99");
  EXPECT_EQ(Repair("\xE2\x80", p), kFffd + kFffd);  // incomplete at the end
}

TEST(TokenizerUtf8Test, MaximalSubpartPolicyMatchesFromUtf8Lossy) {
  const InvalidUtf8 p = InvalidUtf8::kReplaceMaximalSubpart;
  EXPECT_EQ(Repair("\xE2\x80 x", p), kFffd + " x");  // one U+FFFD for E2 80
  EXPECT_EQ(Repair("\xFF\xFE", p), kFffd + kFffd);
  EXPECT_EQ(Repair("\xF0\x9F\x99", p), kFffd);                  // incomplete 4-byte tail
  EXPECT_EQ(Repair("\xED\xA0\x80", p), kFffd + kFffd + kFffd);  // surrogate: 3 subparts
  EXPECT_EQ(Repair("a\xC3", p), "a" + kFffd);
}

TEST(TokenizerUtf8Test, NotFinalHoldsAnIncompleteTail) {
  std::string out;
  EXPECT_EQ(RepairUtf8("ab\xF0\x9F", InvalidUtf8::kReplacePerByte, false, &out), 2u);
  EXPECT_EQ(out, "ab");
  out.clear();
  // An invalid byte is decided at once even when not final.
  EXPECT_EQ(RepairUtf8("\xE2\x41", InvalidUtf8::kReplacePerByte, false, &out), 2u);
  EXPECT_EQ(out, kFffd + "A");
}

TEST(TokenizerUtf8Test, StreamingEqualsBatchOnRandomBytes) {
  std::mt19937 rng(7);
  const std::string pool[] = {"a",    " ",    "\xC3", "\xA9", "\xE2", "\x80", "\x99", "\xF0",
                              "\x9F", "\x98", "\x80", "\xFF", "\xED", "\xA0", "\xC0"};
  for (InvalidUtf8 policy : {InvalidUtf8::kReplacePerByte, InvalidUtf8::kReplaceMaximalSubpart}) {
    for (int trial = 0; trial < 2000; ++trial) {
      std::string bytes;
      const int n = 1 + static_cast<int>(rng() % 12);
      for (int i = 0; i < n; ++i) bytes += pool[rng() % std::size(pool)];
      std::string streamed;
      std::string pending;
      for (size_t i = 0; i < bytes.size();) {
        const size_t take = 1 + rng() % 3;
        pending += bytes.substr(i, take);
        i += take;
        std::string out;
        pending.erase(0, RepairUtf8(pending, policy, false, &out));
        EXPECT_TRUE(IsValidUtf8(out));
        streamed += out;
        EXPECT_LE(pending.size(), 3u);
      }
      RepairUtf8(pending, policy, true, &streamed);
      EXPECT_EQ(streamed, Repair(bytes, policy)) << "trial " << trial;
    }
  }
}

}  // namespace
}  // namespace inferd::engine
