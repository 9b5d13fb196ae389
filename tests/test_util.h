// tests/test_util.h — locating ../shared (models, tokenizers, goldens) from tests.
//
// Tests that need ../shared skip with a clear message when it is absent.
// INFERD_SHARED_DIR overrides the default location (<repo>/../shared).
#ifndef INFERD_TESTS_TEST_UTIL_H_
#define INFERD_TESTS_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace inferd::testing {

inline std::string SharedDir() {
  if (const char* env = std::getenv("INFERD_SHARED_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::string(INFERD_SOURCE_DIR) + "/../shared";
}

// SHARED_PATH("models/stories260K"): absolute path under ../shared.
inline std::string SharedPath(const std::string& rel) { return SharedDir() + "/" + rel; }

// How much slower than a plain build this test binary (and the daemon it
// starts, from the same build) runs: 1, or more in the sanitizer builds of
// scripts/test.sh --sanitize=address|thread. Tests with wall-clock bounds
// (a drain timeout, "finishes within N s") multiply them by this; tests that
// bound memory skip the bound under a sanitizer (SanitizerBuild()), whose
// shadow memory and quarantine inflate it.
inline int SanitizerTimeScale() {
#if defined(__SANITIZE_THREAD__)
  return 8;
#elif defined(__SANITIZE_ADDRESS__)
  return 3;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  return 8;
#elif __has_feature(address_sanitizer)
  return 3;
#else
  return 1;
#endif
#else
  return 1;
#endif
}
inline bool SanitizerBuild() { return SanitizerTimeScale() > 1; }

inline std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace inferd::testing

// Skips the current test when ../shared/<rel> does not exist.
#define INFERD_REQUIRE_SHARED(rel)                                                     \
  do {                                                                                 \
    if (!std::filesystem::exists(::inferd::testing::SharedPath(rel))) {                \
      GTEST_SKIP() << "../shared/" << (rel) << " not found (set INFERD_SHARED_DIR to " \
                   << "the shared folder with models, tokenizers and goldens)";        \
    }                                                                                  \
  } while (0)

#endif  // INFERD_TESTS_TEST_UTIL_H_
