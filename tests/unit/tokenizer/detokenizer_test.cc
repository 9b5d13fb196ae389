// tests/unit/tokenizer/detokenizer_test.cc — IncrementalDetokenizer against
// full Decode, for both tokenizer kinds: the deltas, concatenated, equal
// Decode(prompt + output) minus Decode(prompt); no delta is broken UTF-8;
// byte-fallback / byte-level pieces of a character are held until it
// completes; Flush releases an incomplete tail as U+FFFD. Runs on small
// tokenizers built here and, when ../shared is present, on stories260K,
// llama2 (tokenizer.json and tokenizer.model), qwen3 and llama3 with random
// ids and the goldens' texts (emoji, CJK, ZWJ sequences, ...).
#include "engine/tokenizer/detokenizer.h"

#include <map>
#include <ostream>
#include <random>
#include <string>

#include "engine/tokenizer/utf8.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"
#include "tests/unit/tokenizer/tokenizer_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::LoadJson;
using ::inferd::testing::MetaspaceTokenizerJson;
using ::inferd::testing::SharedPath;
using Ids = std::vector<int32_t>;

const std::string kFffd(kReplacementChar);

// Streams `out` after `prompt`; checks every delta and the total against
// Decode. Returns the streamed text.
std::string StreamAndCheck(const Tokenizer& tok, const Ids& prompt, const Ids& out, bool skip,
                           const std::string& label) {
  IncrementalDetokenizer detok(&tok, prompt, skip);
  Ids all = prompt;
  all.insert(all.end(), out.begin(), out.end());
  const std::string prompt_text = tok.Decode(prompt, skip);
  const std::string full = tok.Decode(all, skip);
  EXPECT_EQ(full.compare(0, prompt_text.size(), prompt_text), 0) << label;
  std::string streamed;
  for (int32_t id : out) {
    const std::string delta = detok.Push(id);
    EXPECT_TRUE(IsValidUtf8(delta)) << label << " delta after id " << id;
    streamed += delta;
    EXPECT_EQ(full.compare(0, prompt_text.size() + streamed.size(), prompt_text + streamed), 0)
        << label << ": the text so far is not a prefix of Decode";
  }
  const std::string tail = detok.Flush();
  EXPECT_TRUE(IsValidUtf8(tail)) << label;
  streamed += tail;
  EXPECT_EQ(prompt_text + streamed, full) << label;
  return streamed;
}

// ▁=259 a=260 b=261 "▁a"=262; bytes <0xXX> are 3 + XX.
std::unique_ptr<Tokenizer> SmallMetaspace() {
  return LoadJson(MetaspaceTokenizerJson({"\xE2\x96\x81", "a", "b",
                                          "\xE2\x96\x81"
                                          "a"},
                                         {}),
                  "detok_small.json");
}

TEST(IncrementalDetokenizerTest, LeadingSpaceKeptAfterPromptTextStrippedAtStart) {
  auto tok = SmallMetaspace();
  ASSERT_NE(tok, nullptr);
  {
    IncrementalDetokenizer d(tok.get(), {1, 262});  // "<s> a" -> "a"
    EXPECT_EQ(d.Push(262), " a");
  }
  {
    IncrementalDetokenizer d(tok.get(), {1});  // BOS only: stripped as Decode does
    EXPECT_EQ(d.Push(262), "a");
    EXPECT_EQ(d.Push(262), " a");
  }
  {
    IncrementalDetokenizer d(tok.get(), {});
    EXPECT_EQ(d.Push(1), "");  // special, skipped
    EXPECT_EQ(d.Push(262), "a");
  }
  {
    IncrementalDetokenizer d(tok.get(), {1}, /*skip_special_tokens=*/false);
    EXPECT_EQ(d.Push(262), " a");  // "<s>" is text now: nothing to strip
    EXPECT_EQ(d.Push(2), "</s>");
  }
}

TEST(IncrementalDetokenizerTest, ByteFallbackHeldUntilTheCharacterCompletes) {
  auto tok = SmallMetaspace();
  ASSERT_NE(tok, nullptr);
  IncrementalDetokenizer d(tok.get(), {1, 262});
  EXPECT_EQ(d.Push(3 + 0xE2), "");
  EXPECT_EQ(d.Push(3 + 0x80), "");
  EXPECT_EQ(d.Push(3 + 0x99), "\xE2\x80\x99");  // ’
  EXPECT_EQ(d.Push(3 + 0xFF), kFffd);           // invalid at once
  EXPECT_EQ(d.Push(3 + 0xF0), "");
  EXPECT_EQ(d.Push(3 + 0x9F), "");
  EXPECT_EQ(d.Flush(), kFffd + kFffd);  // per byte, as Decode
  EXPECT_EQ(d.Push(260), "a");
  EXPECT_EQ(d.Push(999999), "");  // out of range: skipped like Decode
}

TEST(IncrementalDetokenizerTest, RandomIdsOnSmallTokenizer) {
  auto tok = SmallMetaspace();
  ASSERT_NE(tok, nullptr);
  std::mt19937 rng(3);
  for (int trial = 0; trial < 500; ++trial) {
    Ids prompt;
    const int np = static_cast<int>(rng() % 4);
    for (int i = 0; i < np; ++i) prompt.push_back(static_cast<int32_t>(rng() % 263));
    if (!IsValidUtf8(tok->Decode(prompt, true)) ||
        tok->Decode(prompt, true).find(kFffd) != std::string::npos) {
      prompt = {1};
    }
    Ids out;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) out.push_back(static_cast<int32_t>(rng() % 263));
    StreamAndCheck(*tok, prompt, out, trial % 2 == 0, "trial " + std::to_string(trial));
  }
}

// ---- ../shared tokenizers ----

struct Shared {
  const char* name;
  const char* path;    // directory, or file
  const char* golden;  // golden file with "records"[].text
};
const Shared kShared[] = {
    {"stories260K", "models/stories260K", "golden/tokenizer-stories260K-tok512.json"},
    {"stories260K.model", "models/stories260K/tokenizer.model",
     "golden/tokenizer-stories260K-tok512.json"},
    {"llama2", "tokenizers/llama2", "golden/tokenizer-llama2.json"},
    {"llama2.model", "tokenizers/llama2/tokenizer.model", "golden/tokenizer-llama2.json"},
    {"qwen3", "tokenizers/qwen3", "golden/tokenizer-qwen3.json"},
    {"llama3", "tokenizers/llama3", "golden/tokenizer-llama3.json"},
};

// Names the parameter in test listings (instead of its bytes).
void PrintTo(const Shared& s, std::ostream* os) { *os << s.name; }

class SharedTokenizerDetokenizerTest : public ::testing::TestWithParam<Shared> {
 protected:
  // Loaded once per tokenizer (the byte-level files take a moment).
  static const Tokenizer* Get(const Shared& s) {
    static auto* cache = new std::map<std::string, std::unique_ptr<Tokenizer>>();
    auto it = cache->find(s.name);
    if (it != cache->end()) return it->second.get();
    const std::string path = SharedPath(s.path);
    auto tok = std::string(s.path).ends_with(".model") ? Tokenizer::FromFile(path)
                                                       : Tokenizer::FromDirectory(path);
    if (!tok.ok()) {
      ADD_FAILURE() << tok.status();
      return nullptr;
    }
    std::unique_ptr<Tokenizer>& slot = (*cache)[s.name];
    slot = *std::move(tok);
    return slot.get();
  }
  static std::vector<std::string> Texts(const Shared& s) {
    std::vector<std::string> texts;
    auto j = nlohmann::json::parse(::inferd::testing::ReadFileOrDie(SharedPath(s.golden)), nullptr,
                                   false);
    if (j.is_discarded()) return texts;
    for (const auto& r : j["records"]) texts.push_back(r["text"].get<std::string>());
    return texts;
  }
};

TEST_P(SharedTokenizerDetokenizerTest, GoldenTextsStreamedFromEverySplitPoint) {
  INFERD_REQUIRE_SHARED(GetParam().golden);
  const Tokenizer* tok = Get(GetParam());
  ASSERT_NE(tok, nullptr);
  int cases = 0;
  for (const std::string& text : Texts(GetParam())) {
    const Ids ids = tok->Encode(text, true);
    // Split points: every one for short texts, a few for long ones.
    for (size_t k = 0; k <= ids.size(); k += ids.size() > 24 ? ids.size() / 5 : 1) {
      const Ids prompt(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(k));
      const Ids out(ids.begin() + static_cast<ptrdiff_t>(k), ids.end());
      // A prompt ending inside a character is covered separately.
      const std::string pt = tok->Decode(prompt, true);
      if (pt.size() >= 3 && pt.compare(pt.size() - 3, 3, kFffd) == 0) continue;
      StreamAndCheck(*tok, prompt, out, true, std::string(GetParam().name) + " " + text);
      ++cases;
    }
  }
  EXPECT_GT(cases, 60);
}

TEST_P(SharedTokenizerDetokenizerTest, RandomIds) {
  INFERD_REQUIRE_SHARED(GetParam().golden);
  const Tokenizer* tok = Get(GetParam());
  ASSERT_NE(tok, nullptr);
  std::mt19937 rng(11);
  const auto vocab = static_cast<uint32_t>(tok->vocab_size());
  const std::vector<Ids> prompts = {{},
                                    tok->Encode("", true),
                                    tok->Encode("Once upon a time", true),
                                    tok->Encode("\xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x99\x82", true)};
  for (int trial = 0; trial < 300; ++trial) {
    Ids out;
    const int n = 1 + static_cast<int>(rng() % 16);
    for (int i = 0; i < n; ++i) {
      // Byte-ish ids often: the low ids are bytes (byte fallback) or single
      // byte-level characters.
      out.push_back(static_cast<int32_t>(rng() % 2 ? rng() % 300 : rng() % vocab));
    }
    StreamAndCheck(*tok, prompts[trial % prompts.size()], out, trial % 3 != 0,
                   std::string(GetParam().name) + " trial " + std::to_string(trial));
  }
}

TEST_P(SharedTokenizerDetokenizerTest, OnceUponATimeThere) {
  INFERD_REQUIRE_SHARED(GetParam().golden);
  const Tokenizer* tok = Get(GetParam());
  ASSERT_NE(tok, nullptr);
  const Ids prompt = tok->Encode("Once upon a time", true);
  const Ids both = tok->Encode("Once upon a time there", true);
  ASSERT_GT(both.size(), prompt.size());
  ASSERT_TRUE(std::equal(prompt.begin(), prompt.end(), both.begin()));
  const Ids out(both.begin() + static_cast<ptrdiff_t>(prompt.size()), both.end());
  EXPECT_EQ(StreamAndCheck(*tok, prompt, out, true, GetParam().name), " there");
  // With an empty prompt (BOS only, or nothing) the first space is stripped
  // for sentencepiece-style tokenizers, as their Decode does.
  const Ids alone = tok->Encode("Once", true);
  const Ids start(alone.begin(), alone.begin() + (tok->adds_bos() ? 1 : 0));
  const Ids word(alone.begin() + (tok->adds_bos() ? 1 : 0), alone.end());
  EXPECT_EQ(StreamAndCheck(*tok, start, word, true, GetParam().name), "Once");
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, SharedTokenizerDetokenizerTest, ::testing::ValuesIn(kShared),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& c : n)
                             c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

TEST(IncrementalDetokenizerTest, ByteLevelEmojiSplitAcrossTokens) {
  INFERD_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  auto tok = Tokenizer::FromDirectory(SharedPath("tokenizers/llama3"));
  ASSERT_TRUE(tok.ok()) << tok.status();
  const Ids ids = (*tok)->Encode("\xF0\x9F\x98\x80", false);  // 😀 = ["ðŁĺ", "Ģ"]
  ASSERT_EQ(ids.size(), 2u);
  IncrementalDetokenizer d(tok->get(), {});
  EXPECT_EQ(d.Push(ids[0]), "");
  EXPECT_EQ(d.Push(ids[1]), "\xF0\x9F\x98\x80");
  // A prompt ending inside the character: the output completes it.
  IncrementalDetokenizer mid(tok->get(), {ids[0]});
  EXPECT_EQ(mid.Push(ids[1]), "\xF0\x9F\x98\x80");
  // Flushed while incomplete: one U+FFFD (maximal subpart, as Decode).
  IncrementalDetokenizer cut(tok->get(), {});
  EXPECT_EQ(cut.Push(ids[0]), "");
  EXPECT_EQ(cut.Flush(), kFffd);
  EXPECT_EQ((*tok)->Decode({ids[0]}, true), kFffd);
}

}  // namespace
}  // namespace inferd::engine
