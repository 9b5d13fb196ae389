// tests/fuzz/regex_fuzz.cc — RegexToGbnf on arbitrary bytes, and the same
// bytes as a JSON Schema `pattern`: an error Status, never a crash, and
// every grammar it returns compiles (a byte vocabulary).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/constraint_to_gbnf.h"
#include "engine/structured_output/token_vocabulary.h"
#include "nlohmann/json.hpp"

namespace {

std::shared_ptr<const inferd::engine::TokenVocabulary> ByteVocab() {
  static const auto vocab = [] {
    std::vector<std::string> bytes;
    std::vector<bool> special;
    for (int i = 0; i < 256; ++i) {
      bytes.emplace_back(1, static_cast<char>(i));
      special.push_back(false);
    }
    bytes.emplace_back("");
    special.push_back(true);
    return inferd::engine::TokenVocabulary::FromBytes(bytes, special, {256});
  }();
  return vocab;
}

void MustCompile(const std::string& gbnf) {
  auto compiled = inferd::engine::CompileGbnf(gbnf, ByteVocab());
  const std::string message(compiled.ok() ? "" : std::string(compiled.status().message()));
  if (!compiled.ok() && message.find("limit") == std::string::npos &&
      message.find("bound") == std::string::npos && message.find("exceed") == std::string::npos &&
      message.find("too ") == std::string::npos) {
    std::fprintf(stderr, "converted grammar does not compile: %s\n%s\n", message.c_str(),
                 gbnf.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string regex(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::string> gbnf = inferd::engine::RegexToGbnf(regex);
  if (gbnf.ok()) MustCompile(*gbnf);
  // As a JSON Schema pattern (JSON-escaped content, unanchored search).
  std::string schema;
  try {
    schema = nlohmann::json{{"type", "string"}, {"pattern", regex}}.dump();
  } catch (const std::exception&) {
    return 0;  // not UTF-8
  }
  absl::StatusOr<std::string> pattern = inferd::engine::JsonSchemaToGbnf(schema, false);
  if (pattern.ok()) MustCompile(*pattern);
  return 0;
}
