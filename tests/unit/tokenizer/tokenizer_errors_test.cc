// tests/unit/tokenizer/tokenizer_errors_test.cc — garbage in: malformed
// tokenizer.json files (bad JSON, missing model, unknown model type, merges
// naming unknown tokens, wrong types, ...), corrupt tokenizer.model files and
// bad directories give an error naming the file and the problem, never a
// crash.
#include <functional>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/unit/tokenizer/tokenizer_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::Json;
using ::inferd::testing::MetaspaceTokenizerJson;
using ::inferd::testing::WriteTemp;

Json Base() { return MetaspaceTokenizerJson({"\xE2\x96\x81", "a", "b", "ab"}, {"a b"}); }

// Loads `content` as <name>; expects an error mentioning the path and `what`.
void ExpectError(const std::string& name, const std::string& content, const std::string& what) {
  const std::string path = WriteTemp(name, content);
  auto tok = Tokenizer::FromFile(path);
  ASSERT_FALSE(tok.ok()) << name << " loaded, expected an error about " << what;
  const std::string message(tok.status().message());
  EXPECT_NE(message.find(path), std::string::npos) << name << ": " << message;
  EXPECT_NE(message.find(what), std::string::npos) << name << ": " << message;
}

struct JsonCase {
  const char* name;
  std::function<void(Json&)> mutate;
  const char* what;
};

TEST(TokenizerErrorsTest, MalformedTokenizerJson) {
  const JsonCase cases[] = {
      {"no_model", [](Json& j) { j.erase("model"); }, "no \"model\""},
      {"model_not_object", [](Json& j) { j["model"] = 3; }, "\"model\" is not an object"},
      {"unigram", [](Json& j) { j["model"]["type"] = "Unigram"; }, "\"Unigram\" is not supported"},
      {"wordpiece", [](Json& j) { j["model"]["type"] = "WordPiece"; }, "not supported"},
      {"merge_unknown_token", [](Json& j) { j["model"]["merges"] = {"a zz"}; },
       "token \"zz\" is not in the vocabulary"},
      {"merge_unknown_result", [](Json& j) { j["model"]["merges"] = {"b a"}; },
       "merged token \"ba\" is not in the vocabulary"},
      {"merge_three_parts", [](Json& j) { j["model"]["merges"] = {"a b c"}; }, "model.merges[0]"},
      {"merge_number",
       [](Json& j) {
         j["model"]["merges"] = {"a b", 7};
       },
       "model.merges[1]"},
      {"merge_triple",
       [](Json& j) {
         j["model"]["merges"] = {{"a", "b", "c"}};
       },
       "model.merges[0]"},
      {"merges_not_list", [](Json& j) { j["model"]["merges"] = "a b"; }, "merges is not a list"},
      {"vocab_string_id", [](Json& j) { j["model"]["vocab"]["a"] = "one"; }, "model.vocab[\"a\"]"},
      {"vocab_negative_id", [](Json& j) { j["model"]["vocab"]["a"] = -5; }, "model.vocab[\"a\"]"},
      {"vocab_huge_id", [](Json& j) { j["model"]["vocab"]["a"] = 1LL << 40; },
       "model.vocab[\"a\"]"},
      {"vocab_list",
       [](Json& j) {
         j["model"]["vocab"] = Json::array({Json::array({"a", 0.5})});
       },
       "vocab is not an object"},
      {"vocab_missing", [](Json& j) { j["model"].erase("vocab"); }, "no \"vocab\""},
      {"vocab_empty", [](Json& j) { j["model"]["vocab"] = Json::object(); }, "vocab is empty"},
      {"unk_unknown", [](Json& j) { j["model"]["unk_token"] = "<nope>"; },
       "unk_token \"<nope>\" is not in the vocabulary"},
      {"byte_fallback_string", [](Json& j) { j["model"]["byte_fallback"] = "yes"; },
       "byte_fallback is not a boolean"},
      {"added_not_list", [](Json& j) { j["added_tokens"] = 1; }, "\"added_tokens\" is not a list"},
      {"added_no_id", [](Json& j) { j["added_tokens"][0].erase("id"); }, "added_tokens[0].id"},
      {"added_content_number", [](Json& j) { j["added_tokens"][1]["content"] = 5; },
       "added_tokens[1].content is not a string"},
      {"normalizer_unknown",
       [](Json& j) {
         j["normalizer"] = {{"type", "Precompiled"}};
       },
       "normalizer type \"Precompiled\" is not supported"},
      {"normalizer_not_object", [](Json& j) { j["normalizer"] = 5; },
       "normalizer is not an object"},
      {"normalizer_no_list", [](Json& j) { j["normalizer"].erase("normalizers"); },
       "\"normalizers\" is not a list"},
      {"pre_tokenizer_bad_regex",
       [](Json& j) {
         j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(["}}}};
       },
       "regex '(['"},
      {"pre_tokenizer_behavior",
       [](Json& j) {
         j["pre_tokenizer"] = {
             {"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Sideways"}};
       },
       "unknown split behavior \"Sideways\""},
      {"decoder_unknown",
       [](Json& j) {
         j["decoder"] = {{"type", "CTC"}};
       },
       "decoder type \"CTC\" is not supported"},
      {"post_processor_unknown_special",
       [](Json& j) { j["post_processor"]["special_tokens"] = Json::object(); },
       "special token \"<s>\" has no ids"},
      {"post_processor_id_out_of_range",
       [](Json& j) { j["post_processor"]["special_tokens"]["<s>"]["ids"] = {999999}; },
       "beyond the vocabulary"},
      {"post_processor_unknown",
       [](Json& j) {
         j["post_processor"] = {{"type", "Wat"}};
       },
       "post_processor type \"Wat\" is not supported"},
  };
  for (const JsonCase& c : cases) {
    Json j = Base();
    c.mutate(j);
    ExpectError(std::string(c.name) + ".json", j.dump(), c.what);
  }
}

TEST(TokenizerErrorsTest, NotJsonAtAll) {
  ExpectError("garbage.json", "{ this is not json", "invalid JSON");
  ExpectError("empty.json", "", "invalid JSON");
  ExpectError("array.json", "[1, 2, 3]", "not a JSON object");
  const std::string text = Base().dump();
  ExpectError("truncated.json", text.substr(0, text.size() / 2), "invalid JSON");
}

TEST(TokenizerErrorsTest, RandomCorruptionNeverCrashes) {
  const std::string text = Base().dump();
  std::mt19937 rng(1234);
  int loaded = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string bad = text;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % bad.size();
      switch (rng() % 3) {
        case 0:
          bad[pos] = static_cast<char>(rng() % 256);
          break;
        case 1:
          bad.erase(pos, 1 + rng() % 8);
          break;
        default:
          bad.insert(pos, 1, "{}[]\",:0a "[rng() % 11]);
          break;
      }
      if (bad.empty()) bad = "x";
    }
    auto tok = Tokenizer::FromFile(WriteTemp("fuzz.json", bad));
    if (tok.ok()) {
      ++loaded;  // a harmless edit: it must still work
      (*tok)->Decode((*tok)->Encode("ab a\xFF", true), true);
    }
  }
  SUCCEED() << loaded << " of 300 corrupted files still loaded";
}

TEST(TokenizerErrorsTest, CorruptSentencePieceModel) {
  ExpectError("garbage.model", "this is not a protobuf \x01\x02\xFF", "sentencepiece");
  ExpectError("empty.model", "", "empty file");
  ExpectError("json_as.model", Base().dump(), "sentencepiece");
  const std::string real = ::inferd::testing::SharedPath("tokenizers/llama2/tokenizer.model");
  if (std::filesystem::exists(real)) {
    const std::string bytes = ::inferd::testing::ReadFileOrDie(real);
    for (size_t keep : {size_t{1}, size_t{100}, bytes.size() / 3, bytes.size() - 7}) {
      const std::string path = WriteTemp("truncated.model", bytes.substr(0, keep));
      auto tok = Tokenizer::FromFile(path);
      if (!tok.ok()) {
        EXPECT_NE(tok.status().message().find(path), std::string::npos) << tok.status();
      }
    }
  }
}

TEST(TokenizerErrorsTest, MissingFilesAndDirectories) {
  auto missing = Tokenizer::FromFile("/nonexistent/dir/tokenizer.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/dir/tokenizer.json"), std::string::npos);

  auto no_dir = Tokenizer::FromDirectory("/nonexistent/dir");
  ASSERT_FALSE(no_dir.ok());
  EXPECT_NE(no_dir.status().message().find("/nonexistent/dir"), std::string::npos);

  const std::string empty_dir = ::testing::TempDir() + "/empty_model_dir";
  std::filesystem::create_directories(empty_dir);
  auto nothing = Tokenizer::FromDirectory(empty_dir);
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.status().message().find("no tokenizer.json or tokenizer.model"),
            std::string::npos);
}

TEST(TokenizerErrorsTest, BadTokenizerConfig) {
  const std::string json = WriteTemp("ok.json", Base().dump());
  for (const auto& [name, content, what] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"cfg_garbage.json", "{nope", "invalid JSON"},
           {"cfg_type.json", R"({"add_bos_token": "yes"})", "add_bos_token is not a boolean"},
           {"cfg_bos.json", R"({"bos_token": 5})", "bos_token is neither"}}) {
    const std::string config = WriteTemp(name, content);
    auto tok = Tokenizer::FromFile(json, config);
    ASSERT_FALSE(tok.ok()) << name;
    EXPECT_NE(tok.status().message().find(config), std::string::npos) << tok.status();
    EXPECT_NE(tok.status().message().find(what), std::string::npos) << tok.status();
  }
}

}  // namespace
}  // namespace inferd::engine
