// tests/unit/tokenizer/tokenizer_scale_test.cc — the 9-11 MB tokenizer.json
// files load, large texts (800 KB) and pathological single-piece inputs encode
// and decode back, and any byte string encodes without failing (../shared
// needed). Speed is not asserted here (STYLE: benchmarks measure speed).
#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::SharedPath;

std::unique_ptr<Tokenizer> Load(const std::string& rel) {
  auto tok = Tokenizer::FromDirectory(SharedPath(rel));
  if (!tok.ok()) {
    ADD_FAILURE() << tok.status();
    return nullptr;
  }
  return *std::move(tok);
}

std::string Story(size_t bytes) {
  const std::string para =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
      "park 1234567 times! \xE6\x9D\xB1\xE4\xBA\xAC is in \xE6\x97\xA5\xE6\x9C\xAC "
      "\xF0\x9F\x99\x82 don't\n";
  std::string text;
  while (text.size() < bytes) text += para;
  return text;
}

class TokenizerScaleTest : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenizerScaleTest, LargeAndPathologicalInputsEncodeAndDecodeBack) {
  INFERD_REQUIRE_SHARED(GetParam());
  const std::unique_ptr<Tokenizer> tok = Load(GetParam());
  ASSERT_NE(tok, nullptr);

  const std::string large = Story(800 * 1000);
  const std::vector<int32_t> ids = tok->Encode(large, false);
  EXPECT_GT(ids.size(), large.size() / 16);
  EXPECT_EQ(tok->Decode(ids, true), large) << GetParam();

  // One huge pre-token (no spaces), a huge whitespace run, a digit run.
  for (const std::string& text :
       {std::string(1000 * 1000, 'a'), std::string(1000 * 1000, ' ') + "x",
        std::string(300 * 1000, '7'), Story(300 * 1000) + std::string(300 * 1000, '!')}) {
    EXPECT_FALSE(tok->Encode(text, false).empty()) << GetParam() << " on " << text.substr(0, 8);
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, TokenizerScaleTest,
                         ::testing::Values("tokenizers/llama3", "tokenizers/qwen3",
                                           "tokenizers/llama2", "models/stories260K"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n = n.substr(n.find('/') + 1);
                           return n;
                         });

// Any byte string encodes; decoding gives it back (invalid bytes as U+FFFD)
// where the tokenizer has no normaliser that changes text. ("<s>" is left
// out: in a sentencepiece-style tokenizer.json the text after a special
// token gets its own "▁" prefix, as in HF.)
TEST(TokenizerRobustnessTest, RandomBytesRoundTrip) {
  INFERD_REQUIRE_SHARED("tokenizers/llama3");
  INFERD_REQUIRE_SHARED("models/stories260K");
  const std::unique_ptr<Tokenizer> llama3 = Load("tokenizers/llama3");
  const std::unique_ptr<Tokenizer> stories = Load("models/stories260K");
  auto sp_or = Tokenizer::FromFile(SharedPath("models/stories260K/tokenizer.model"));
  ASSERT_NE(llama3, nullptr);
  ASSERT_NE(stories, nullptr);
  ASSERT_TRUE(sp_or.ok()) << sp_or.status();
  const Tokenizer* sp = sp_or->get();
  std::mt19937 rng(5);
  const std::string pool[] = {"a",
                              " ",
                              "  ",
                              "\n",
                              "\r\n",
                              "1",
                              "\xC3\xA9",
                              "\xE6\x9D\xB1",
                              "\xF0\x9F\x99\x82",
                              "\xFF",
                              "\xC3",
                              "\x80",
                              "'s",
                              "<|eot_id|>"};
  for (int trial = 0; trial < 500; ++trial) {
    std::string text;
    const int n = static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) text += pool[rng() % std::size(pool)];
    for (const Tokenizer* tok : {llama3.get(), stories.get()}) {
      const std::vector<int32_t> ids = tok->Encode(text, false);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->vocab_size());
      std::string want;
      RepairUtf8(text, tok->invalid_utf8(), /*final=*/true, &want);
      EXPECT_EQ(tok->Decode(ids, false), want) << "trial " << trial;
    }
    // sentencepiece normalises (whitespace, invalid bytes): only sanity here.
    const std::vector<int32_t> ids = sp->Encode(text, true);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < sp->vocab_size());
    EXPECT_TRUE(IsValidUtf8(sp->Decode(ids, true)));
  }
}

// The Tokenizer is immutable after loading: Encode / Decode from several
// threads at once give what they give serially.
TEST(TokenizerRobustnessTest, ConcurrentUseMatchesSerial) {
  INFERD_REQUIRE_SHARED("tokenizers/qwen3");
  INFERD_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
  const std::unique_ptr<Tokenizer> qwen = Load("tokenizers/qwen3");
  auto sp = Tokenizer::FromFile(SharedPath("tokenizers/llama2/tokenizer.model"));
  ASSERT_NE(qwen, nullptr);
  ASSERT_TRUE(sp.ok()) << sp.status();
  for (const Tokenizer* tok : {qwen.get(), sp->get()}) {
    std::vector<std::string> texts;
    for (int i = 0; i < 64; ++i) texts.push_back(Story(500 + 97 * i) + std::to_string(i));
    std::vector<std::vector<int32_t>> serial;
    for (const std::string& t : texts) serial.push_back(tok->Encode(t, true));
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int w = 0; w < 4; ++w) {
      threads.emplace_back([&, w] {
        for (int rep = 0; rep < 4; ++rep) {
          for (size_t i = w; i < texts.size(); i += 2) {
            const std::vector<int32_t> ids = tok->Encode(texts[i], true);
            if (ids != serial[i] || tok->Decode(ids, true) != tok->Decode(serial[i], true)) {
              ++mismatches;
            }
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(mismatches.load(), 0);
  }
}

}  // namespace
}  // namespace inferd::engine
