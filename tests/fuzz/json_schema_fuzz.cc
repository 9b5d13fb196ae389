// tests/fuzz/json_schema_fuzz.cc — JsonSchemaToGbnf on arbitrary bytes (the
// first byte picks the whitespace mode): an error Status, never a crash,
// and every grammar it returns is within the size bound and compiles
// (a byte vocabulary), so the converter never emits broken GBNF.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool ws = (data[0] & 1) != 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<std::string> gbnf = inferd::engine::JsonSchemaToGbnf(text, ws);
  if (!gbnf.ok()) return 0;
  if (gbnf->size() > (4u << 20)) {
    std::fprintf(stderr, "grammar of %zu bytes over the bound\n", gbnf->size());
    std::abort();
  }
  auto compiled = inferd::engine::CompileGbnf(*gbnf, ByteVocab());
  // Only the engine's bounds may refuse a converted grammar.
  if (!compiled.ok() && compiled.status().code() != absl::StatusCode::kResourceExhausted &&
      std::string(compiled.status().message()).find("limit") == std::string::npos &&
      std::string(compiled.status().message()).find("bound") == std::string::npos &&
      std::string(compiled.status().message()).find("exceed") == std::string::npos &&
      std::string(compiled.status().message()).find("too ") == std::string::npos) {
    std::fprintf(stderr, "converted grammar does not compile: %s\n%s\n",
                 std::string(compiled.status().message()).c_str(), gbnf->c_str());
    std::abort();
  }
  return 0;
}
