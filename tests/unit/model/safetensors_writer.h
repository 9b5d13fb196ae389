// tests/unit/model/safetensors_writer.h — builds .safetensors bytes in tests
// (valid ones from tensors, or corrupt ones from a hand-written header).
#ifndef INFERD_TESTS_UNIT_MODEL_SAFETENSORS_WRITER_H_
#define INFERD_TESTS_UNIT_MODEL_SAFETENSORS_WRITER_H_

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace inferd::testing {

struct RawTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", or anything (for bad files)
  std::vector<int64_t> shape;
  std::string bytes;  // little-endian element data
};

inline std::string F32Bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

inline std::string U16Bytes(const std::vector<uint16_t>& v) {
  std::string s(v.size() * 2, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// [u64 LE length][header][data]; `header` is used verbatim.
inline std::string SafetensorsBytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

// A valid file holding `tensors` back to back, with optional metadata.
inline std::string SafetensorsBytes(const std::vector<RawTensor>& tensors,
                                    bool with_metadata = true) {
  nlohmann::json header = nlohmann::json::object();
  if (with_metadata) header["__metadata__"] = {{"format", "pt"}};
  std::string data;
  for (const RawTensor& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the reference writer pads to 8
  return SafetensorsBytes(text, data);
}

inline void WriteFile(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// A fresh empty directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (std::string("inferd_") + info->test_suite_name() + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace inferd::testing

#endif  // INFERD_TESTS_UNIT_MODEL_SAFETENSORS_WRITER_H_
