// tests/unit/model/safetensors_test.cc — SafetensorsFile: parsing, dtype
// conversion, and rejection of corrupt headers.
#include "engine/model/safetensors.h"

#include <bit>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::F32Bytes;
using ::inferd::testing::RawTensor;
using ::inferd::testing::SafetensorsBytes;
using ::inferd::testing::TempDir;
using ::inferd::testing::U16Bytes;
using ::inferd::testing::WriteFile;
using ::testing::HasSubstr;

absl::StatusOr<std::map<std::string, TensorInfo>> Parse(const std::string& bytes) {
  return SafetensorsFile::ParseHeader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                      "mem.safetensors");
}

std::unique_ptr<SafetensorsFile> OpenOrDie(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> f = SafetensorsFile::Open(path);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *std::move(f) : nullptr;
}

std::vector<float> LoadOrDie(const SafetensorsFile& f, const std::string& name) {
  std::vector<float> out;
  absl::Status s = f.LoadF32(name, &out);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST(SafetensorsTest, ParsesF32TensorsAndMetadata) {
  TempDir dir;
  const std::vector<float> a = {1.5f, -2.25f, 3.0f, 0.0f, 1e-30f, -7.0f};
  const std::vector<float> b = {42.0f};
  WriteFile(dir.file("m.safetensors"), SafetensorsBytes({{"a", "F32", {2, 3}, F32Bytes(a)},
                                                         {"b.scalar", "F32", {}, F32Bytes(b)}}));
  std::unique_ptr<SafetensorsFile> f = OpenOrDie(dir.file("m.safetensors"));
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->tensors().size(), 2u);  // __metadata__ is not a tensor
  const TensorInfo& info = f->tensors().at("a");
  EXPECT_EQ(info.dtype, DType::kF32);
  EXPECT_EQ(info.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(info.begin, 0u);
  EXPECT_EQ(info.end, 24u);
  EXPECT_EQ(LoadOrDie(*f, "a"), a);
  EXPECT_EQ(f->tensors().at("b.scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(LoadOrDie(*f, "b.scalar"), b);
  EXPECT_EQ(f->path(), dir.file("m.safetensors"));
}

TEST(SafetensorsTest, ZeroSizedTensorIsAccepted) {
  TempDir dir;
  WriteFile(dir.file("z.safetensors"),
            SafetensorsBytes({{"empty", "F16", {0, 4}, ""}, {"x", "F32", {1}, F32Bytes({2.0f})}},
                             /*with_metadata=*/false));
  std::unique_ptr<SafetensorsFile> f = OpenOrDie(dir.file("z.safetensors"));
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(LoadOrDie(*f, "empty").empty());
  EXPECT_EQ(LoadOrDie(*f, "x"), std::vector<float>{2.0f});
}

TEST(SafetensorsTest, ConvertsF16IncludingSubnormalsInfAndNaN) {
  TempDir dir;
  const std::vector<uint16_t> bits = {0x0000, 0x8000, 0x3C00, 0xC000, 0x7BFF, 0x3555, 0x0001,
                                      0x8001, 0x03FF, 0x0400, 0x7C00, 0xFC00, 0x7E00, 0xFE01};
  WriteFile(dir.file("h.safetensors"), SafetensorsBytes({{"h", "F16", {2, 7}, U16Bytes(bits)}}));
  std::unique_ptr<SafetensorsFile> f = OpenOrDie(dir.file("h.safetensors"));
  ASSERT_NE(f, nullptr);
  const std::vector<float> v = LoadOrDie(*f, "h");
  ASSERT_EQ(v.size(), bits.size());
  EXPECT_EQ(std::bit_cast<uint32_t>(v[0]), 0x00000000u);  // +0
  EXPECT_EQ(std::bit_cast<uint32_t>(v[1]), 0x80000000u);  // -0
  EXPECT_EQ(v[2], 1.0f);
  EXPECT_EQ(v[3], -2.0f);
  EXPECT_EQ(v[4], 65504.0f);               // largest finite
  EXPECT_EQ(v[5], 0.333251953125f);        // 1/3 rounded to f16
  EXPECT_EQ(v[6], std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(v[7], -std::ldexp(1.0f, -24));
  EXPECT_EQ(v[8], std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(v[9], std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_EQ(v[10], std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[11], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(v[12]));
  EXPECT_TRUE(std::isnan(v[13]));
  EXPECT_TRUE(std::signbit(v[13]));
}

TEST(SafetensorsTest, ConvertsBF16IncludingSubnormalsInfAndNaN) {
  TempDir dir;
  const std::vector<uint16_t> bits = {0x0000, 0x8000, 0x3F80, 0xC000, 0x3EAB, 0x7F7F,
                                      0x0001, 0x007F, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1};
  WriteFile(dir.file("b.safetensors"), SafetensorsBytes({{"b", "BF16", {12}, U16Bytes(bits)}}));
  std::unique_ptr<SafetensorsFile> f = OpenOrDie(dir.file("b.safetensors"));
  ASSERT_NE(f, nullptr);
  const std::vector<float> v = LoadOrDie(*f, "b");
  ASSERT_EQ(v.size(), bits.size());
  EXPECT_EQ(std::bit_cast<uint32_t>(v[0]), 0x00000000u);
  EXPECT_EQ(std::bit_cast<uint32_t>(v[1]), 0x80000000u);
  EXPECT_EQ(v[2], 1.0f);
  EXPECT_EQ(v[3], -2.0f);
  EXPECT_EQ(v[4], 0.333984375f);
  EXPECT_EQ(v[5], std::ldexp(255.0f, 120));   // largest finite: (2 - 2^-7) * 2^127
  EXPECT_EQ(v[6], std::ldexp(1.0f, -133));    // smallest subnormal
  EXPECT_EQ(v[7], std::ldexp(127.0f, -133));  // largest subnormal
  EXPECT_EQ(v[8], std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[9], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(v[10]));
  EXPECT_TRUE(std::isnan(v[11]));
  EXPECT_TRUE(std::signbit(v[11]));
}

TEST(SafetensorsTest, MixedDtypesAtUnalignedOffsets) {
  TempDir dir;
  // An F16 tensor of odd length puts the following F32 data off 4-byte alignment.
  WriteFile(dir.file("mix.safetensors"),
            SafetensorsBytes({{"h", "F16", {3}, U16Bytes({0x3C00, 0x4000, 0x4200})},
                              {"f", "F32", {2}, F32Bytes({0.5f, -0.25f})},
                              {"b", "BF16", {1}, U16Bytes({0x4040})}}));
  std::unique_ptr<SafetensorsFile> f = OpenOrDie(dir.file("mix.safetensors"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tensors().at("f").begin, 6u);
  EXPECT_EQ(LoadOrDie(*f, "h"), (std::vector<float>{1.0f, 2.0f, 3.0f}));
  EXPECT_EQ(LoadOrDie(*f, "f"), (std::vector<float>{0.5f, -0.25f}));
  EXPECT_EQ(LoadOrDie(*f, "b"), (std::vector<float>{3.0f}));
}

TEST(SafetensorsTest, UnknownTensorIsNotFoundNamingFileAndTensor) {
  TempDir dir;
  WriteFile(dir.file("m.safetensors"), SafetensorsBytes({{"a", "F32", {1}, F32Bytes({1.0f})}}));
  std::unique_ptr<SafetensorsFile> f = OpenOrDie(dir.file("m.safetensors"));
  ASSERT_NE(f, nullptr);
  std::vector<float> out;
  absl::Status s = f->LoadF32("nope", &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("m.safetensors"));
  EXPECT_THAT(s.message(), HasSubstr("`nope`"));
}

TEST(SafetensorsTest, MissingFileIsNotFound) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> f =
      SafetensorsFile::Open("/nonexistent/dir/model.safetensors");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(f.status().message(), HasSubstr("/nonexistent/dir/model.safetensors"));
}

TEST(SafetensorsTest, EmptyFileIsTruncated) {
  TempDir dir;
  WriteFile(dir.file("empty.safetensors"), "");
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> f =
      SafetensorsFile::Open(dir.file("empty.safetensors"));
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("empty.safetensors"));
  EXPECT_THAT(f.status().message(), HasSubstr("truncated"));
}

TEST(SafetensorsTest, TruncatedDataIsRejectedNamingTensor) {
  TempDir dir;
  std::string bytes = SafetensorsBytes(
      {{"a", "F32", {4}, F32Bytes({1, 2, 3, 4})}, {"tail", "F32", {4}, F32Bytes({5, 6, 7, 8})}});
  bytes.resize(bytes.size() - 3);
  WriteFile(dir.file("cut.safetensors"), bytes);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> f =
      SafetensorsFile::Open(dir.file("cut.safetensors"));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(f.status().message(), HasSubstr("cut.safetensors"));
  EXPECT_THAT(f.status().message(), HasSubstr("`tail`"));
  EXPECT_THAT(f.status().message(), HasSubstr("outside the data section"));
}

struct CorruptCase {
  const char* label;
  std::string bytes;
  std::vector<std::string> expected;  // substrings of the error message
};

std::string Header(const std::string& json, size_t data_bytes = 16) {
  return SafetensorsBytes(json, std::string(data_bytes, '\0'));
}

std::vector<CorruptCase> CorruptCases() {
  std::string huge_len(8, '\0');
  huge_len[4] = 0x10;  // 2^36 bytes
  std::string too_long = SafetensorsBytes("{}", "");
  too_long[0] = 100;  // claims 100 header bytes, has 2
  return {
      {"short", std::string("\x01\x00\x00", 3), {"truncated", "shorter than the 8-byte"}},
      {"header_past_end", too_long, {"truncated", "header length 100 exceeds the file size"}},
      {"header_over_cap", huge_len + "{}", {"exceeds the limit"}},
      {"not_json", Header("{\"a\": [1, 2"), {"invalid JSON header"}},
      {"bad_utf8", Header("{\"\xff\xfe\": {}}"), {"invalid JSON header"}},
      {"not_object", Header("[1, 2, 3]"), {"header must be a JSON object", "an array"}},
      {"entry_not_object", Header(R"({"w": 3})"), {"tensor `w`", "expected an object"}},
      {"unsupported_dtype",
       Header(R"({"w": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}})"),
       {"tensor `w`", "dtype I64 is not supported"}},
      {"missing_dtype",
       Header(R"({"w": {"shape": [2], "data_offsets": [0, 8]}})"),
       {"tensor `w`", "`dtype`"}},
      {"negative_dim",
       Header(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})"),
       {"tensor `w`", "shape [-1]"}},
      {"float_dim",
       Header(R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})"),
       {"tensor `w`", "not a non-negative integer"}},
      {"shape_overflow",
       Header(
           R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})"),
       {"tensor `w`", "overflows"}},
      {"missing_offsets",
       Header(R"({"w": {"dtype": "F32", "shape": [2]}})"),
       {"tensor `w`", "`data_offsets`"}},
      {"three_offsets",
       Header(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}})"),
       {"tensor `w`", "`data_offsets`"}},
      {"begin_after_end",
       Header(R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})"),
       {"tensor `w`", "begin > end"}},
      {"offsets_out_of_range",
       Header(R"({"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}})"),
       {"tensor `w`", "outside the data section of 16 bytes"}},
      {"size_mismatch",
       Header(R"({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 8]}})"),
       {"tensor `w`", "needs 6"}},
      {"overlap",
       Header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})"),
       {"tensor `b`", "overlap", "`a`"}},
      {"metadata_not_strings",
       Header(R"({"__metadata__": {"format": 1}})"),
       {"`__metadata__`", "`format`"}},
      {"duplicate_tensor",
       Header(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                  "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})"),
       {"tensor `w`", "listed twice"}},
  };
}

TEST(SafetensorsTest, CorruptHeadersAreRejectedWithPreciseMessages) {
  for (const CorruptCase& c : CorruptCases()) {
    SCOPED_TRACE(c.label);
    absl::StatusOr<std::map<std::string, TensorInfo>> r = Parse(c.bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("mem.safetensors"));
    for (const std::string& e : c.expected) EXPECT_THAT(r.status().message(), HasSubstr(e));
  }
}

TEST(SafetensorsTest, CorruptFilesAreRejectedByOpen) {
  TempDir dir;
  for (const CorruptCase& c : CorruptCases()) {
    SCOPED_TRACE(c.label);
    const std::string path = dir.file(std::string(c.label) + ".safetensors");
    WriteFile(path, c.bytes);
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> f = SafetensorsFile::Open(path);
    ASSERT_FALSE(f.ok());
    EXPECT_THAT(f.status().message(), HasSubstr(path));
  }
}

TEST(SafetensorsTest, EmptyHeaderHasNoTensors) {
  absl::StatusOr<std::map<std::string, TensorInfo>> r = Parse(SafetensorsBytes("{}   ", ""));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->empty());
}

TEST(SafetensorsTest, TruncatedPrefixesNeverCrash) {
  // Every prefix of a valid file parses or fails cleanly.
  const std::string bytes = SafetensorsBytes(
      {{"a", "F16", {2, 2}, U16Bytes({1, 2, 3, 4})}, {"b", "F32", {1}, F32Bytes({1.0f})}});
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<std::map<std::string, TensorInfo>> r = Parse(bytes.substr(0, n));
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes";
  }
  EXPECT_TRUE(Parse(bytes).ok());
}

TEST(SafetensorsTest, RandomByteFlipsNeverCrash) {
  // A poor man's fuzzer (tests/fuzz holds the real one): flip bytes of a
  // valid file; whatever parses must still describe tensors inside the data.
  const std::string good = SafetensorsBytes({{"a", "F16", {2, 3}, U16Bytes({1, 2, 3, 4, 5, 6})},
                                             {"b", "BF16", {2}, U16Bytes({7, 8})},
                                             {"c", "F32", {1}, F32Bytes({1.0f})}});
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  int accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(next() % 3);
    for (int f = 0; f < flips; ++f) {
      bytes[next() % bytes.size()] = static_cast<char>(next() & 0xFF);
    }
    absl::StatusOr<std::map<std::string, TensorInfo>> r = Parse(bytes);
    if (!r.ok()) continue;
    ++accepted;
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(bytes[i]);
    for (const auto& [name, info] : *r) {
      ASSERT_LE(info.begin, info.end) << name;
      ASSERT_LE(info.end, bytes.size() - 8 - header_len) << name;
    }
  }
  EXPECT_GT(accepted, 0);  // some flips land in padding or values and stay valid
}

}  // namespace
}  // namespace inferd::engine
