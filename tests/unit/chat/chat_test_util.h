// tests/unit/chat/chat_test_util.h — a model directory in a temporary
// folder, for the chat template tests.
#ifndef INFERD_TESTS_UNIT_CHAT_CHAT_TEST_UTIL_H_
#define INFERD_TESTS_UNIT_CHAT_CHAT_TEST_UTIL_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace inferd::testing {

// A fresh folder named after the running test, removed at the end.
class ChatModelDir {
 public:
  ChatModelDir() {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (std::string("inferd_chat_") + info->test_suite_name() + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ChatModelDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ChatModelDir(const ChatModelDir&) = delete;
  ChatModelDir& operator=(const ChatModelDir&) = delete;

  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `text` to <dir>/<name>; returns its path.
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream out(file(name), std::ios::binary);
    out << text;
    EXPECT_TRUE(out.good()) << "cannot write " << file(name);
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace inferd::testing

#endif  // INFERD_TESTS_UNIT_CHAT_CHAT_TEST_UTIL_H_
