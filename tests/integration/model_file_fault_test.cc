// tests/integration/model_file_fault_test.cc — model files changed under a
// running server (docs/reliability.md). Weights are copied out of the
// safetensors mapping at load and the mapping is released (DESIGN §4), and
// config.json, generation_config.json and the tokenizer files are read into
// memory at load: so truncating or overwriting any of them in place, or
// replacing them, cannot fault the daemon (a truncated mapping would raise
// SIGBUS) and does not change what it generates. A server started on the
// damaged directory refuses it with an error naming the file.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/fault_test_util.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/lifecycle_util.h"
#include "tests/integration/process_stats.h"
#include "tests/integration/subprocess.h"
#include "tests/integration/test_client.h"

namespace inferd::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kPrompts = {"Once upon a time", "The little dog",
                                           "Lily and Ben went to the park", "One day"};

struct Outputs {
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::string> texts;
  std::vector<int32_t> tokenized;  // Tokenize(kPrompts[2])
};

// Greedy continuations of every prompt (text: the tokenizer is exercised).
Outputs Generate(v1::Inference::Stub& stub) {
  Outputs out;
  for (const std::string& prompt : kPrompts) {
    v1::GenerateRequest request;
    request.set_text(prompt);
    request.set_max_tokens(48);
    request.set_temperature(0);
    request.set_ignore_eos(true);
    const StreamResult r = RunGenerate(stub, request, std::chrono::seconds(30));
    EXPECT_TRUE(r.status.ok()) << prompt << ": " << r.status.error_message();
    out.ids.push_back(r.ids);
    out.texts.push_back(r.text);
  }
  out.tokenized = Tokenize(stub, kPrompts[2]);
  return out;
}

// Overwrites `path` in place (same inode, same size) with random bytes.
void OverwriteInPlace(const fs::path& path, std::mt19937& rng) {
  const uintmax_t size = fs::file_size(path);
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  std::vector<char> junk(size);
  for (char& c : junk) c = static_cast<char>(rng());
  ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
  ::close(fd);
}

void ExpectSameOutputs(const Outputs& before, const Outputs& now, const std::string& after) {
  EXPECT_EQ(now.ids, before.ids) << "after " << after;
  EXPECT_EQ(now.texts, before.texts) << "after " << after;
  EXPECT_EQ(now.tokenized, before.tokenized) << "after " << after;
}

TEST(ModelFileFaultTest, ChangingTheModelFilesUnderARunningServerIsHarmless) {
  const fs::path dir = fs::path(::testing::TempDir()) / "model_file_fault" / "stories260K";
  fs::remove_all(dir.parent_path());
  fs::create_directories(dir);
  fs::copy(EmbeddedModelDir(), dir, fs::copy_options::recursive);
  const fs::path weights = dir / "model.safetensors";
  const uintmax_t weights_size = fs::file_size(weights);

  std::string error;
  auto server = InferdServer::Start(dir.string(), {}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  // Loaded, and nothing of the weight file is mapped any more (the daemon's
  // own executable is: the check sees mappings).
  ASSERT_TRUE(MapsFile(server->pid(), InferdPath())) << "/proc/PID/maps unreadable?";
  EXPECT_FALSE(MapsFile(server->pid(), weights.string()))
      << weights << " is still mapped after loading";
  const Outputs before = Generate(*stub);
  const std::optional<ProcessStats> stats = ReadProcessStats(server->pid());
  ASSERT_TRUE(stats.has_value());
  std::printf("[model-files] served %s (%llu bytes of weights); RSS %s\n", dir.c_str(),
              static_cast<unsigned long long>(weights_size), MiB(stats->rss_bytes).c_str());

  std::mt19937 rng(4);
  int changes = 0;
  // 1. Truncated in place to half, then to nothing.
  fs::resize_file(weights, weights_size / 2);
  ExpectSameOutputs(before, Generate(*stub), "truncating model.safetensors to half");
  ++changes;
  {
    // A server started now refuses the truncated file, naming it.
    const CommandResult refused =
        RunCommand({InferdPath(), "serve", "--model", dir.string(), "--host", "127.0.0.1", "--port",
                    "0", "--metrics-port", "-1", "--http-port", "-1"},
                   std::chrono::seconds(30));
    EXPECT_EQ(refused.exit_code, 1) << refused.err;
    EXPECT_NE(refused.err.find("model.safetensors"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("truncated"), std::string::npos) << refused.err;
    std::printf("[model-files] a new server on the truncated file: exit %d, %s\n",
                refused.exit_code, LastLine(refused.err).c_str());
  }
  fs::resize_file(weights, 0);
  ExpectSameOutputs(before, Generate(*stub), "truncating model.safetensors to 0 bytes");
  ++changes;
  // 2. Its old size back, overwritten in place with random bytes.
  fs::resize_file(weights, weights_size);
  OverwriteInPlace(weights, rng);
  ExpectSameOutputs(before, Generate(*stub), "overwriting model.safetensors in place");
  ++changes;
  // 3. Every other file overwritten in place, then removed and replaced by a
  //    different file (a new inode), as a deploy that swaps files would.
  for (const char* name : {"config.json", "generation_config.json", "tokenizer.json",
                           "tokenizer.model", "tokenizer_config.json"}) {
    if (!fs::exists(dir / name)) continue;
    OverwriteInPlace(dir / name, rng);
    ++changes;
  }
  ExpectSameOutputs(before, Generate(*stub), "overwriting config and tokenizer files in place");
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  for (const fs::path& file : files) {
    const fs::path replacement = file.string() + ".new";
    { std::ofstream(replacement) << "{\"replaced\": true}\n"; }
    fs::rename(replacement, file);
    ++changes;
  }
  ExpectSameOutputs(before, Generate(*stub), "replacing every file of the model directory");
  // 4. The directory itself removed.
  fs::remove_all(dir);
  ++changes;
  ExpectSameOutputs(before, Generate(*stub), "removing the model directory");

  // No crash, still ready, nothing left behind.
  EXPECT_EQ(CheckHealth(server->channel(), ""), kServing);
  EXPECT_TRUE(WaitUntilTablesEmpty(*stub));
  const std::optional<ProcessStats> after = ReadProcessStats(server->pid());
  ASSERT_TRUE(after.has_value()) << "the daemon died";
  std::printf(
      "[model-files] %d changes to the files under the running server (truncate to half, to "
      "0, overwrite in place, other files overwritten, every file replaced, directory "
      "removed): outputs unchanged, health SERVING, RSS %s\n",
      changes, MiB(after->rss_bytes).c_str());
  std::fflush(stdout);
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace inferd::testing
