// tests/unit/tokenizer/tokenizer_test_util.h — small tokenizer.json files
// built in the test (no ../shared needed) and written to a temp dir.
#ifndef INFERD_TESTS_UNIT_TOKENIZER_TOKENIZER_TEST_UTIL_H_
#define INFERD_TESTS_UNIT_TOKENIZER_TOKENIZER_TEST_UTIL_H_

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace inferd::testing {

using Json = nlohmann::json;

// Writes `content` to <gtest temp dir>/<name> and returns the path.
inline std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

// A sentencepiece-style tokenizer.json: <unk> <s> </s>, the 256 byte pieces
// <0x00>..<0xFF> (ids 3..258), then `pieces` from id 259, with `merges`
// ("a b" strings), metaspace normaliser / decoder and a BOS template.
inline Json MetaspaceTokenizerJson(const std::vector<std::string>& pieces,
                                   const std::vector<std::string>& merges) {
  Json vocab = Json::object();
  vocab["<unk>"] = 0;
  vocab["<s>"] = 1;
  vocab["</s>"] = 2;
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    vocab[buf] = 3 + b;
  }
  for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = static_cast<int>(259 + i);
  auto special = [](int id, const char* content) {
    return Json{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", false}, {"special", true}};
  };
  return Json{
      {"version", "1.0"},
      {"added_tokens", {special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", merges}}}};
}

// A GPT-2 style byte-level tokenizer.json: the 256 byte-level characters
// (ids 0..255 in byte order), then `pieces`, with `merges`, the given split
// regex, and added tokens `added` (ids after the pieces, special).
// Pieces and merges are written in byte-level characters ("Ġa").
inline Json ByteLevelTokenizerJson(const std::vector<std::string>& pieces,
                                   const std::vector<std::string>& merges, const std::string& regex,
                                   const std::vector<std::string>& added = {}) {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    engine::BytesToByteLevel(std::string(1, static_cast<char>(b)), &ch);
    vocab[ch] = b;
  }
  for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = static_cast<int>(256 + i);
  Json added_tokens = Json::array();
  for (size_t i = 0; i < added.size(); ++i) {
    added_tokens.push_back({{"id", static_cast<int>(256 + pieces.size() + i)},
                            {"content", added[i]},
                            {"normalized", false},
                            {"special", true}});
  }
  const Json byte_level = {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"trim_offsets", false},
                           {"use_regex", false}};
  return Json{{"added_tokens", added_tokens},
              {"normalizer", {{"type", "NFC"}}},
              {"pre_tokenizer",
               {{"type", "Sequence"},
                {"pretokenizers",
                 {{{"type", "Split"},
                   {"pattern", {{"Regex", regex}}},
                   {"behavior", "Isolated"},
                   {"invert", false}},
                  byte_level}}}},
              {"post_processor", byte_level},
              {"decoder", byte_level},
              {"model",
               {{"type", "BPE"},
                {"unk_token", nullptr},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", vocab},
                {"merges", merges}}}};
}

inline std::unique_ptr<engine::Tokenizer> LoadJson(const Json& j, const std::string& name) {
  auto tok = engine::Tokenizer::FromFile(WriteTemp(name, j.dump()));
  if (!tok.ok()) {
    ADD_FAILURE() << tok.status();
    return nullptr;
  }
  return *std::move(tok);
}

}  // namespace inferd::testing

#endif  // INFERD_TESTS_UNIT_TOKENIZER_TOKENIZER_TEST_UTIL_H_
