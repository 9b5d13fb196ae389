// tests/unit/server/outside_input_test.cc — the helpers that check what comes
// from outside before it is used: files that are not regular files
// (common/regular_file.h), client addresses (tools/cli/server_address.h),
// the memory limit sizes are checked against (common/memory_limit.h).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/memory_limit.h"
#include "common/regular_file.h"
#include "gtest/gtest.h"
#include "tools/cli/server_address.h"

namespace inferd {
namespace {

class RegularFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("inferd-regular-file-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(RegularFileTest, ReadsARegularFileWithinItsBound) {
  std::ofstream(Path("f")) << "hello";
  absl::StatusOr<std::string> text = ReadRegularFile(Path("f"), 5);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "hello");
  absl::StatusOr<std::string> over = ReadRegularFile(Path("f"), 4);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("5 bytes, more than the 4"), std::string::npos)
      << over.status();
}

TEST_F(RegularFileTest, AFifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> text = ReadRegularFile(Path("fifo"), 1 << 20);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(text.status().message().find("is a FIFO (named pipe), not a regular file"),
            std::string::npos)
      << text.status();
}

TEST_F(RegularFileTest, DirectoriesDevicesLoopsAndMissingFilesAreNamed) {
  std::filesystem::create_directory(Path("d"));
  std::filesystem::create_symlink(Path("loop"), Path("loop"));
  for (const auto& [path, expected] :
       {std::pair<std::string, std::string>{Path("d"), "is a directory"},
        {"/dev/zero", "is a character device"},
        {Path("loop"), "a symlink loop"},
        {Path("absent"), "file not found"}}) {
    absl::StatusOr<std::string> text = ReadRegularFile(path, 1 << 20);
    ASSERT_FALSE(text.ok()) << path;
    EXPECT_NE(text.status().message().find(expected), std::string::npos) << text.status();
    EXPECT_NE(text.status().message().find(path), std::string::npos) << text.status();
  }
  EXPECT_EQ(DescribePathKind(Path("d")), "a directory");
  EXPECT_EQ(DescribePathKind(Path("loop")), "a symlink loop");
  EXPECT_EQ(DescribePathKind(Path("absent")), "missing");
}

TEST(ServerAddressTest, PortsOutside1To65535AreRefused) {
  for (const char* good : {"127.0.0.1:50051", "localhost:1", "[::1]:65535", "unix:/tmp/s",
                           "dns:///localhost:50051", "ipv4:127.0.0.1:1,127.0.0.1:2"}) {
    EXPECT_TRUE(cli::CheckServerAddress("--addr", good).ok()) << good;
  }
  for (const auto& [bad, expected] :
       {std::pair<const char*, const char*>{"127.0.0.1:99999", "port 99999 is outside 1..65535"},
        {"127.0.0.1:0", "port 0 is outside 1..65535"},
        {"127.0.0.1:-1", "is not a number"},
        {"127.0.0.1:", "is not a number"},
        {"127.0.0.1", "expected HOST:PORT"},
        {"::1:50051", "needs brackets"},
        {"[::1", "unclosed"},
        {"", "empty"},
        {"dns:///localhost:70000", "outside 1..65535"}}) {
    const absl::Status s = cli::CheckServerAddress("--addr", bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find(expected), std::string::npos) << s;
    EXPECT_NE(s.message().find("--addr"), std::string::npos) << s;
  }
}

TEST(MemoryLimitTest, IsPositiveAndFormatted) {
  EXPECT_GT(MemoryLimitBytes(), int64_t{1} << 20);
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(100.0 * (int64_t{1} << 40)), "100.0 TiB");
}

}  // namespace
}  // namespace inferd
