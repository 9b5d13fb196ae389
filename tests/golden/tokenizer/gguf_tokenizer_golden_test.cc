// tests/golden/tokenizer/gguf_tokenizer_golden_test.cc — byte-level BPE
// ("gpt2") tokenizers read from GGUF metadata (engine/gguf_tokenizer.cc)
// against HF's outputs in ../shared/golden/tokenizer-{llama3,qwen3}.json.
//
// The GGUF files are written here the way llama.cpp's converter writes them
// (convert_hf_to_gguf.py's gpt2 vocabulary): tokenizer.ggml.tokens by id
// ("[PADn]" for ids the vocabulary lacks), token_type 1 normal, 3 control
// (added special tokens), 4 user-defined (other added tokens), 5 unused,
// merges as "a b" strings, tokenizer.ggml.pre "llama-bpe" / "qwen2". (The
// converter itself needs HF transformers for these vocabularies, which
// Debian does not package.)
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf_tokenizer.h"
#include "engine/model/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/golden/tokenizer/golden_util.h"
#include "tests/test_util.h"
#include "tests/unit/model/gguf_writer.h"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::GgufWriter;
using ::inferd::testing::Ids;
using ::inferd::testing::LoadGolden;
using ::inferd::testing::Name;
using ::inferd::testing::SharedPath;
using ::inferd::testing::Show;

struct Options {
  std::string pre;
  bool add_bos = false;
  std::string model = "gpt2";
};

// The GGUF tokenizer metadata of ../shared/tokenizers/<name>.
std::string GgufOf(const std::string& name, const Options& o) {
  std::ifstream in(SharedPath("tokenizers/" + name + "/tokenizer.json"));
  const nlohmann::json tj = nlohmann::json::parse(in);
  std::ifstream cin(SharedPath("tokenizers/" + name + "/tokenizer_config.json"));
  const nlohmann::json tc = nlohmann::json::parse(cin);
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;  // id -> (text, type)
  for (const auto& [text, id] : tj["model"]["vocab"].items()) by_id[id.get<int64_t>()] = {text, 1};
  for (const auto& a : tj["added_tokens"]) {
    by_id[a["id"].get<int64_t>()] = {a["content"].get<std::string>(),
                                     a["special"].get<bool>() ? 3 : 4};
  }
  const int64_t n = by_id.rbegin()->first + 1;
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::map<std::string, int64_t> id_of;
  for (int64_t i = 0; i < n; ++i) {
    auto it = by_id.find(i);
    tokens.push_back(it != by_id.end() ? it->second.first : "[PAD" + std::to_string(i) + "]");
    types.push_back(it != by_id.end() ? it->second.second : 5);
    id_of[tokens.back()] = i;
  }
  std::vector<std::string> merges;
  for (const auto& m : tj["model"]["merges"]) {
    merges.push_back(m.is_string() ? m.get<std::string>()
                                   : m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  GgufWriter w;
  w.KvStr("general.architecture", "llama");
  w.KvStr("tokenizer.ggml.model", o.model);
  if (!o.pre.empty()) w.KvStr("tokenizer.ggml.pre", o.pre);
  w.KvStrArray("tokenizer.ggml.tokens", tokens);
  w.KvI32Array("tokenizer.ggml.token_type", types);
  w.KvStrArray("tokenizer.ggml.merges", merges);
  for (const char* key : {"bos_token", "eos_token"}) {
    if (tc.contains(key) && tc[key].is_string()) {
      w.KvU32(std::string("tokenizer.ggml.") + key + "_id",
              static_cast<uint32_t>(id_of.at(tc[key].get<std::string>())));
    }
  }
  w.KvBool("tokenizer.ggml.add_bos_token", o.add_bos);
  return w.Finish();
}

class GgufTokenizerGoldenTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& name, const Options& o) {
    const std::string path = (dir_.path() / (name + ".gguf")).string();
    ::inferd::testing::WriteFile(path, GgufOf(name, o));
    absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(path);
    if (!f.ok()) return f.status();
    return TokenizerFromGguf(**f);
  }
  void CheckGolden(const std::string& name, const std::string& pre) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Load(name, {.pre = pre});
    ASSERT_TRUE(tok.ok()) << tok.status();
    const nlohmann::json golden = LoadGolden("golden/tokenizer-" + name + ".json");
    ASSERT_EQ(golden["records"].size(), 61u);
    for (const nlohmann::json& r : golden["records"]) {
      const std::string text = r["text"].get<std::string>();
      const std::vector<int32_t> want = Ids(r["ids_no_special"]);
      EXPECT_EQ(Show((*tok)->Encode(text, false)), Show(want)) << name << " ids of " << Name(r);
      EXPECT_EQ((*tok)->Decode(Ids(r["ids"]), false), r["decoded"].get<std::string>())
          << name << " decoded text of " << Name(r);
      EXPECT_EQ((*tok)->Decode(Ids(r["ids"]), true), r["decoded_skip_special"].get<std::string>())
          << name << " decoded text without special tokens of " << Name(r);
    }
  }
  ::inferd::testing::TempDir dir_;
};

TEST_F(GgufTokenizerGoldenTest, Llama3FromMetadataMatchesEveryCase) {
  INFERD_REQUIRE_SHARED("golden/tokenizer-llama3.json");
  INFERD_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  CheckGolden("llama3", "llama-bpe");
}

TEST_F(GgufTokenizerGoldenTest, Qwen3FromMetadataMatchesEveryCase) {
  INFERD_REQUIRE_SHARED("golden/tokenizer-qwen3.json");
  INFERD_REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  CheckGolden("qwen3", "qwen2");
}

// add_bos_token puts the BOS id first; an unknown pre-tokenizer or tokenizer
// model is refused naming the key and the way out (--tokenizer DIR).
TEST_F(GgufTokenizerGoldenTest, BosAndRefusals) {
  INFERD_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok =
      Load("llama3", {.pre = "llama-bpe", .add_bos = true});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->bos_id(), 128000);
  EXPECT_EQ((*tok)->eos_id(), 128001);
  const std::vector<int32_t> ids = (*tok)->Encode("Hello world", true);
  EXPECT_EQ(Show(ids), "[128000, 9906, 1917]");

  for (const Options& bad :
       {Options{.pre = "deepseek-coder"}, Options{.pre = "llama-bpe", .model = "t5"}}) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> t = Load("llama3", bad);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().message().find(bad.model == "t5" ? "tokenizer.ggml.model"
                                                          : "tokenizer.ggml.pre"),
              std::string::npos)
        << t.status();
    EXPECT_NE(t.status().message().find("--tokenizer DIR"), std::string::npos) << t.status();
  }
}

}  // namespace
}  // namespace inferd::engine
