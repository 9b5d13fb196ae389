// tests/golden/tokenizer/golden_util.h — loading ../shared/golden files and
// printing ids for the tokenizer golden tests.
#ifndef INFERD_TESTS_GOLDEN_TOKENIZER_GOLDEN_UTIL_H_
#define INFERD_TESTS_GOLDEN_TOKENIZER_GOLDEN_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace inferd::testing {

// Parses ../shared/<rel>; a null value (and a test failure) on error.
inline nlohmann::json LoadGolden(const std::string& rel) {
  const std::string text = ReadFileOrDie(SharedPath(rel));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    ADD_FAILURE() << "cannot parse ../shared/" << rel;
    return nlohmann::json();
  }
  return j;
}

inline std::vector<int32_t> Ids(const nlohmann::json& j) {
  std::vector<int32_t> ids;
  for (const auto& v : j) ids.push_back(v.get<int32_t>());
  return ids;
}

inline std::string Show(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

// A golden text as it appears in failure messages (escapes shown as JSON).
inline std::string Name(const nlohmann::json& record, const char* key = "text") {
  return record[key].dump();
}

// The tokenizer, or null after failing the test with the load error.
inline std::unique_ptr<engine::Tokenizer> Must(
    absl::StatusOr<std::unique_ptr<engine::Tokenizer>> tok) {
  if (!tok.ok()) {
    ADD_FAILURE() << tok.status();
    return nullptr;
  }
  return *std::move(tok);
}

}  // namespace inferd::testing

#endif  // INFERD_TESTS_GOLDEN_TOKENIZER_GOLDEN_UTIL_H_
