// tests/unit/model/mmap_load_test.cc — WeightStore with LoadFormat::kMmap:
// mapped tensors are bit for bit the copied ones, live in a read-only mapping
// of the file that outlives the store, and only tensors needing no fusing or
// conversion (at an element-aligned offset) are mapped; the byte counters
// and the process's anonymous resident memory agree.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/model/config.h"
#include "engine/model/weight_store.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::F32Bytes;
using ::inferd::testing::SafetensorsBytes;
using ::inferd::testing::SharedPath;
using ::inferd::testing::TempDir;
using ::inferd::testing::U16Bytes;
using ::inferd::testing::WriteFile;

std::unique_ptr<WeightStore> OpenOrDie(const std::string& dir, LoadFormat format) {
  absl::StatusOr<std::unique_ptr<WeightStore>> s = WeightStore::Open(dir, format);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

// The /proc/self/maps line of the mapping holding `p` ("" when none).
std::string MappingOf(const void* p) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::vector<std::string> range = absl::StrSplit(line.substr(0, line.find(' ')), '-');
    uint64_t lo = 0, hi = 0;
    if (range.size() == 2 && absl::SimpleHexAtoi(range[0], &lo) &&
        absl::SimpleHexAtoi(range[1], &hi) && addr >= lo && addr < hi) {
      return line;
    }
  }
  return "";
}

// RssAnon of /proc/self/status, in bytes.
int64_t AnonResidentBytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("RssAnon:", 0) == 0) {
      int64_t kib = 0;
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib * 1024;
    }
  }
  return -1;
}

bool SameBits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), static_cast<size_t>(a.bytes())) == 0;
}

TEST(MmapLoadTest, MappedTensorsAreTheCopiedOnesAndOutliveTheStore) {
  TempDir dir;
  WriteFile(dir.file("model.safetensors"),
            SafetensorsBytes({{"a", "F32", {2, 2}, F32Bytes({1, -2, 3.5f, 4})},
                              {"b", "BF16", {3}, U16Bytes({0x3F80, 0x4000, 0xC040})},
                              {"c", "BF16", {1, 3}, U16Bytes({0x3F00, 0x4100, 0xC100})}}));
  std::unique_ptr<WeightStore> copy = OpenOrDie(dir.path().string(), LoadFormat::kCopy);
  std::unique_ptr<WeightStore> mmap = OpenOrDie(dir.path().string(), LoadFormat::kMmap);
  ASSERT_NE(copy, nullptr);
  ASSERT_NE(mmap, nullptr);
  EXPECT_EQ(mmap->format(), LoadFormat::kMmap);

  absl::StatusOr<Tensor> a_copy = copy->Load("a", {2, 2}, DType::kF32);
  absl::StatusOr<Tensor> a_map = mmap->Load("a", {2, 2}, DType::kF32);
  absl::StatusOr<Tensor> b_copy = copy->Load("b", {3}, DType::kBF16);
  absl::StatusOr<Tensor> b_map = mmap->Load("b", {3}, DType::kBF16);
  ASSERT_TRUE(a_copy.ok() && a_map.ok() && b_copy.ok() && b_map.ok());
  EXPECT_TRUE(SameBits(*a_copy, *a_map));
  EXPECT_TRUE(SameBits(*b_copy, *b_map));
  EXPECT_EQ(a_map->device(), Device::kCpu);
  // The mapped ones point into the file; the copies do not.
  EXPECT_NE(MappingOf(a_map->data()).find("model.safetensors"), std::string::npos)
      << MappingOf(a_map->data());
  EXPECT_NE(MappingOf(b_map->data()).find("model.safetensors"), std::string::npos);
  EXPECT_EQ(MappingOf(a_copy->data()).find("model.safetensors"), std::string::npos);
  EXPECT_EQ(mmap->BytesMapped(), 16 + 6);
  EXPECT_EQ(mmap->BytesLoaded(), copy->BytesLoaded());
  EXPECT_EQ(copy->BytesMapped(), 0);

  // A converted tensor and a stacked one are copied even with kMmap.
  absl::StatusOr<Tensor> b_f32 = mmap->Load("b", {3}, DType::kF32);
  absl::StatusOr<Tensor> bc = mmap->LoadStacked({{"b", {3}}}, DType::kBF16);
  absl::StatusOr<Tensor> stacked = mmap->LoadStacked({{"c", {1, 3}}, {"c", {1, 3}}}, DType::kBF16);
  ASSERT_TRUE(b_f32.ok() && bc.ok() && stacked.ok());
  EXPECT_EQ(MappingOf(b_f32->data()).find("model.safetensors"), std::string::npos);
  EXPECT_EQ(MappingOf(stacked->data()).find("model.safetensors"), std::string::npos);
  EXPECT_EQ(mmap->BytesMapped(), 16 + 6);
  EXPECT_EQ(mmap->BytesLoaded(), 16 + 6 + 12 + 6 + 12);

  // The mapping lives as long as a tensor does: the store (and its file
  // descriptors) may go first.
  mmap.reset();
  EXPECT_TRUE(SameBits(*a_copy, *a_map));
  EXPECT_EQ(static_cast<const float*>(a_map->data())[2], 3.5f);
}

TEST(MmapLoadTest, MisalignedTensorFallsBackToTheCopy) {
  // An fp16 [1] then an fp32 [2] at data offset 2: not 4-byte aligned in a
  // mapping whose data section starts at a multiple of 8.
  std::string header = R"({"p": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]},)"
                       R"( "w": {"dtype": "F32", "shape": [2], "data_offsets": [2, 10]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  TempDir dir;
  WriteFile(dir.file("model.safetensors"),
            SafetensorsBytes(header, U16Bytes({0x3C00}) + F32Bytes({1.5f, -7})));
  std::unique_ptr<WeightStore> mmap = OpenOrDie(dir.path().string(), LoadFormat::kMmap);
  ASSERT_NE(mmap, nullptr);
  absl::StatusOr<Tensor> w = mmap->Load("w", {2}, DType::kF32);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w->data()) % 4, 0u);
  EXPECT_EQ(static_cast<const float*>(w->data())[0], 1.5f);
  EXPECT_EQ(static_cast<const float*>(w->data())[1], -7.0f);
  EXPECT_EQ(mmap->BytesMapped(), 0);
  absl::StatusOr<Tensor> p = mmap->Load("p", {1}, DType::kF16);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(mmap->BytesMapped(), 2);
}

TEST(MmapLoadTest, FileTruncatedBeforeTheMappingIsDataLoss) {
  TempDir dir;
  const std::string bytes =
      SafetensorsBytes({{"w", "F32", {1024}, F32Bytes(std::vector<float>(1024, 1))}});
  WriteFile(dir.file("model.safetensors"), bytes);
  std::unique_ptr<WeightStore> mmap = OpenOrDie(dir.path().string(), LoadFormat::kMmap);
  ASSERT_NE(mmap, nullptr);
  std::filesystem::resize_file(dir.file("model.safetensors"), bytes.size() / 2);
  absl::StatusOr<Tensor> w = mmap->Load("w", {1024}, DType::kF32);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(w.status().message().find("model.safetensors"), std::string::npos) << w.status();
}

// Every tensor of tiny-llama (fp32, 37 MB) loaded in its stored dtype: mapped
// bit for bit the copy, counted, and not in anonymous resident memory.
TEST(MmapLoadTest, SharedTinyLlamaMapsBitForBit) {
  INFERD_REQUIRE_SHARED("models/tiny-llama");
  const std::string dir = SharedPath("models/tiny-llama");
  std::unique_ptr<WeightStore> mmap = OpenOrDie(dir, LoadFormat::kMmap);
  std::unique_ptr<WeightStore> copy = OpenOrDie(dir, LoadFormat::kCopy);
  ASSERT_NE(mmap, nullptr);
  ASSERT_NE(copy, nullptr);
  const DType dtype = mmap->StorageDType();
  std::vector<Tensor> mapped;
  uint64_t touched = 0;
  const int64_t anon_before = AnonResidentBytes();
  for (const std::string& name : mmap->Names()) {
    absl::StatusOr<std::vector<int64_t>> shape = mmap->Shape(name);
    ASSERT_TRUE(shape.ok());
    absl::StatusOr<Tensor> t = mmap->Load(name, *shape, dtype);
    ASSERT_TRUE(t.ok()) << t.status();
    // Touch every byte, as serving would.
    uint64_t sum = 0;
    const auto* p = static_cast<const uint8_t*>(t->data());
    for (int64_t i = 0; i < t->bytes(); ++i) sum += p[i];
    touched += sum;
    mapped.push_back(*std::move(t));
  }
  const int64_t anon_growth = AnonResidentBytes() - anon_before;
  EXPECT_GT(touched, 0u);
  EXPECT_EQ(mmap->BytesMapped(), mmap->BytesLoaded());
  EXPECT_EQ(mmap->BytesMapped(),
            static_cast<int64_t>(mmap->NumElements()) * kernels::DTypeSize(dtype));
  EXPECT_GT(mmap->BytesMapped(), 30 << 20);
  // The weights are the file's pages, not anonymous memory.
  EXPECT_LT(anon_growth, mmap->BytesMapped() / 4) << anon_growth;
  size_t i = 0;
  for (const std::string& name : copy->Names()) {
    SCOPED_TRACE(name);
    absl::StatusOr<Tensor> t = copy->Load(name, mapped[i].shape(), dtype);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_TRUE(SameBits(*t, mapped[i]));
    ++i;
  }
  EXPECT_EQ(copy->BytesLoaded(), mmap->BytesLoaded());
  EXPECT_EQ(copy->BytesMapped(), 0);
}

}  // namespace
}  // namespace inferd::engine
