// tests/unit/model/gguf_file_test.cc — ParseGguf / GgufFile: a small valid
// file built in code parses to what was written, and corrupt variants of it
// (truncated, lying counts, bad offsets, unknown types, ...) are each
// rejected with a message naming the field at fault.
#include "engine/model/gguf_file.h"

#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/model/gguf_writer.h"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::GgufWriter;
using ::inferd::testing::Patch;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr uint32_t kTypeF32 = 0;
constexpr uint32_t kTypeQ8_0 = 8;

absl::StatusOr<GgufContents> Parse(const std::string& bytes) {
  return ParseGguf(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem.gguf");
}

std::vector<float> Iota(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * scale - 1.0f;
  return v;
}

// The valid file the corrupt ones start from: every metadata value kind
// (scalars, a string array, an array of arrays, a bool), an F32 matrix, a
// Q8_0 matrix and an F32 vector.
struct Valid {
  GgufWriter w;
  std::string bytes;
  Valid() {
    w.KvStr("general.architecture", "llama");
    w.KvU32("llama.block_count", 1);
    w.KvF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.KvStrArray("tokenizer.ggml.tokens", {"<unk>", "a", "bc"});
    w.Key("test.nested", 9);  // array of 2 arrays of uint32
    w.U32(9);
    w.U64(2);
    for (uint32_t k = 0; k < 2; ++k) {
      w.U32(4);
      w.U64(k + 1);
      for (uint32_t j = 0; j <= k; ++j) w.U32(10 * k + j);
    }
    w.Key("test.flag", 7);
    w.U8(1);
    w.Tensor("token_embd.weight", kTypeF32, {8, 3}, GgufWriter::F32Data(Iota(24, 0.25f)));
    std::vector<uint8_t> q8(2 * 34);
    for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<uint8_t>(i * 7);
    w.Tensor("blk.0.attn_q.weight", kTypeQ8_0, {32, 2}, q8);
    w.Tensor("output_norm.weight", kTypeF32, {8}, GgufWriter::F32Data(Iota(8, 1.0f)));
    bytes = w.Finish();
  }
  size_t at(const std::string& field) { return w.at.at(field); }
};

TEST(GgufFileTest, ParsesValidFile) {
  Valid v;
  absl::StatusOr<GgufContents> c = Parse(v.bytes);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version, 3u);
  EXPECT_EQ(c->alignment, 32u);
  EXPECT_EQ(c->data_offset, v.at("data"));
  EXPECT_EQ(c->metadata.at("general.architecture").str, "llama");
  EXPECT_EQ(c->metadata.at("llama.block_count").AsInt(), 1);
  EXPECT_FLOAT_EQ(*c->metadata.at("llama.attention.layer_norm_rms_epsilon").AsDouble(), 1e-5f);
  const GgufValue& tokens = c->metadata.at("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.type, GgufValueType::kArray);
  ASSERT_EQ(tokens.array.size(), 3u);
  EXPECT_EQ(tokens.array[2].str, "bc");
  const GgufValue& nested = c->metadata.at("test.nested");
  ASSERT_EQ(nested.elem_type, GgufValueType::kArray);
  ASSERT_EQ(nested.array.size(), 2u);
  ASSERT_EQ(nested.array[1].array.size(), 2u);
  EXPECT_EQ(nested.array[1].array[1].AsInt(), 11);
  EXPECT_EQ(c->metadata.at("test.flag").type, GgufValueType::kBool);
  EXPECT_EQ(c->metadata.at("test.flag").i, 1);
  ASSERT_EQ(c->tensors.size(), 3u);
  EXPECT_EQ(c->tensors[0].name, "token_embd.weight");
  EXPECT_EQ(c->tensors[0].dims, (std::vector<int64_t>{8, 3}));
  EXPECT_EQ(c->tensors[0].nbytes, 96u);
  EXPECT_EQ(c->tensors[1].type, GgmlType::kQ8_0);
  EXPECT_EQ(c->tensors[1].numel, 64);
  EXPECT_EQ(c->tensors[1].nbytes, 68u);
  EXPECT_EQ(c->tensors[1].offset, 96u);
  EXPECT_EQ(c->tensors[2].offset, 192u);  // 96 + 68 aligned up to 32
}

TEST(GgufFileTest, OpenMapsTensorDataWithoutCopy) {
  Valid v;
  ::inferd::testing::TempDir dir;
  ::inferd::testing::WriteFile(dir.file("m.gguf"), v.bytes);
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(dir.file("m.gguf"));
  ASSERT_TRUE(f.ok()) << f.status();
  const GgufTensorInfo* t = (*f)->FindTensor("output_norm.weight");
  ASSERT_NE(t, nullptr);
  std::vector<float> got(8);
  std::memcpy(got.data(), (*f)->TensorData(*t), 32);
  EXPECT_EQ(got, Iota(8, 1.0f));
  EXPECT_EQ((*f)->FindTensor("nope"), nullptr);
  ASSERT_NE((*f)->Find("general.architecture"), nullptr);
  // The data points into the mapping, not into a copy.
  const auto* base = static_cast<const uint8_t*>((*f)->mapping().get());
  EXPECT_EQ((*f)->TensorData(*t), base + v.at("data") + 192);
}

TEST(GgufFileTest, HonoursGeneralAlignment) {
  GgufWriter w;
  w.KvU32("general.alignment", 64);
  w.Tensor("a", kTypeF32, {3}, GgufWriter::F32Data({1, 2, 3}), 0);
  w.Tensor("b", kTypeF32, {2}, GgufWriter::F32Data({4, 5}), 64);
  absl::StatusOr<GgufContents> c = Parse(w.Finish(64));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->alignment, 64u);
  EXPECT_EQ(c->data_offset % 64, 0u);
}

TEST(GgufFileTest, AcceptsVersion2) {
  GgufWriter w(2);
  w.Tensor("a", kTypeF32, {3}, GgufWriter::F32Data({1, 2, 3}));
  EXPECT_TRUE(Parse(w.Finish()).ok());
}

// Every strict prefix of the valid file is an error naming a truncation or
// the tensor whose bytes are cut; none crashes.
TEST(GgufFileTest, EveryTruncationIsRejected) {
  Valid v;
  for (size_t n = 0; n < v.bytes.size(); ++n) {
    absl::StatusOr<GgufContents> c = Parse(v.bytes.substr(0, n));
    ASSERT_FALSE(c.ok()) << "prefix of " << n << " bytes";
    EXPECT_THAT(
        std::string(c.status().message()),
        ::testing::AnyOf(HasSubstr("truncated"), HasSubstr("exceeds"), HasSubstr("cannot fit")))
        << n;
  }
}

struct Corruption {
  const char* name;
  std::string (*make)(Valid&);
  std::vector<const char*> expect;  // substrings of the error
};

std::string Cut(Valid& v, size_t n) { return v.bytes.substr(0, n); }

const Corruption kCorruptions[] = {
    {"bad magic",
     [](Valid& v) {
       v.bytes[0] = 'g';
       return v.bytes;
     },
     {"header field `magic`", "not \"GGUF\""}},
    {"version 1",
     [](Valid& v) {
       Patch<uint32_t>(&v.bytes, v.at("header.version"), 1);
       return v.bytes;
     },
     {"header field `version`", "version 1"}},
    {"version 4",
     [](Valid& v) {
       Patch<uint32_t>(&v.bytes, v.at("header.version"), 4);
       return v.bytes;
     },
     {"header field `version`: 4"}},
    {"big-endian version",
     [](Valid& v) {
       Patch<uint32_t>(&v.bytes, v.at("header.version"), 0x03000000u);
       return v.bytes;
     },
     {"big-endian"}},
    {"truncated header",
     [](Valid& v) { return Cut(v, 10); },
     {"header field `tensor_count`", "truncated"}},
    {"truncated metadata value",
     [](Valid& v) { return Cut(v, v.at("kv.test.flag.type") + 4); },
     {"metadata `test.flag`", "truncated"}},
    {"truncated tensor info",
     [](Valid& v) { return Cut(v, v.at("tensor.blk.0.attn_q.weight.offset") + 3); },
     {"tensor `blk.0.attn_q.weight` field `offset`", "truncated"}},
    {"truncated data section",
     [](Valid& v) { return Cut(v, v.bytes.size() - 4); },
     {"tensor `output_norm.weight`", "past the end"}},
    {"lying metadata count",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("header.kv_count"), uint64_t{1} << 60);
       return v.bytes;
     },
     {"header field `metadata_kv_count`", "cannot fit"}},
    {"lying tensor count",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("header.tensor_count"), ~uint64_t{0});
       return v.bytes;
     },
     {"header field `tensor_count`", "cannot fit"}},
    {"huge key string",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("kv.llama.block_count"), uint64_t{1} << 62);
       return v.bytes;
     },
     {"metadata #1 field `key`", "string length 4611686018427387904 exceeds"}},
    {"huge value string",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("kv.general.architecture.type") + 4, ~uint64_t{0} - 3);
       return v.bytes;
     },
     {"metadata `general.architecture`", "string length"}},
    {"huge tensor name",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("tensor.output_norm.weight.name_len"), uint64_t{1} << 40);
       return v.bytes;
     },
     {"tensor #2 field `name`", "string length"}},
    {"lying array length",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("kv.tokenizer.ggml.tokens.len"), uint64_t{1} << 50);
       return v.bytes;
     },
     {"metadata `tokenizer.ggml.tokens`", "array length 1125899906842624 of string"}},
    {"unknown value type",
     [](Valid& v) {
       Patch<uint32_t>(&v.bytes, v.at("kv.llama.block_count.type"), 13);
       return v.bytes;
     },
     {"metadata `llama.block_count`", "field `value_type`: unknown type id 13"}},
    {"unknown array element type",
     [](Valid& v) {
       Patch<uint32_t>(&v.bytes, v.at("kv.tokenizer.ggml.tokens.type") + 4, 99);
       return v.bytes;
     },
     {"metadata `tokenizer.ggml.tokens`", "unknown array element type 99"}},
    {"bool neither 0 nor 1",
     [](Valid& v) {
       Patch<uint8_t>(&v.bytes, v.at("kv.test.flag.type") + 4, 2);
       return v.bytes;
     },
     {"metadata `test.flag`", "bool value 2"}},
    {"unknown tensor type",
     [](Valid& v) {
       Patch<uint32_t>(&v.bytes, v.at("tensor.token_embd.weight.type"), 11);  // Q3_K
       return v.bytes;
     },
     {"tensor `token_embd.weight`", "field `type`: ggml type id 11 is not supported"}},
    {"five dims",
     [](Valid& v) {
       Patch<uint32_t>(&v.bytes, v.at("tensor.output_norm.weight.n_dims"), 5);
       return v.bytes;
     },
     {"tensor `output_norm.weight`", "field `n_dims`: 5"}},
    {"zero dim",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("tensor.token_embd.weight.dims") + 8, 0);
       return v.bytes;
     },
     {"tensor `token_embd.weight`", "field `dims[1]`: 0"}},
    {"element count overflow",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("tensor.token_embd.weight.dims"), uint64_t{1} << 62);
       return v.bytes;
     },
     {"tensor `token_embd.weight`", "field `dims`: the element count overflows"}},
    {"byte size overflow (wrong shape for the data)",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("tensor.token_embd.weight.dims"), uint64_t{1} << 62);
       Patch<uint64_t>(&v.bytes, v.at("tensor.token_embd.weight.dims") + 8, 1);
       return v.bytes;
     },
     {"tensor `token_embd.weight`", "overflows the byte size"}},
    {"wrong shape: more bytes than the file holds",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("tensor.output_norm.weight.dims"), 1000);
       return v.bytes;
     },
     {"tensor `output_norm.weight`", "field `offset`", "past the end"}},
    {"row not a whole number of Q8_0 blocks",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("tensor.blk.0.attn_q.weight.dims"), 48);
       return v.bytes;
     },
     {"tensor `blk.0.attn_q.weight`", "dims[0] = 48 of Q8_0 is not a multiple of its block"}},
    {"misaligned offset",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("tensor.output_norm.weight.offset"), 196);
       return v.bytes;
     },
     {"tensor `output_norm.weight`", "field `offset`: 196 is not a multiple of the alignment 32"}},
    {"offset past the end of the file",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("tensor.output_norm.weight.offset"), uint64_t{1} << 40);
       return v.bytes;
     },
     {"tensor `output_norm.weight`", "past the end"}},
    {"offset near 2^64",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("tensor.output_norm.weight.offset"), ~uint64_t{31});
       return v.bytes;
     },
     {"tensor `output_norm.weight`", "past the end"}},
    {"overlapping tensors",
     [](Valid& v) {
       Patch<uint64_t>(&v.bytes, v.at("tensor.output_norm.weight.offset"), 64);
       return v.bytes;
     },
     {"tensor `output_norm.weight`", "overlaps the bytes of tensor `token_embd.weight`"}},
    {"duplicate tensor name",
     [](Valid& v) {
       GgufWriter w;
       w.Tensor("x", kTypeF32, {2}, GgufWriter::F32Data({1, 2}));
       w.Tensor("x", kTypeF32, {2}, GgufWriter::F32Data({3, 4}));
       return w.Finish();
     },
     {"tensor `x`", "field `name`: tensors #0 and #1 have the same name"}},
    {"duplicate key",
     [](Valid&) {
       GgufWriter w;
       w.KvU32("a.b", 1);
       w.KvU32("a.b", 2);
       return w.Finish();
     },
     {"metadata `a.b`", "listed twice"}},
    {"alignment not a power of two",
     [](Valid&) {
       GgufWriter w;
       w.KvU32("general.alignment", 24);
       w.Tensor("a", kTypeF32, {2}, GgufWriter::F32Data({1, 2}));
       return w.Finish();
     },
     {"metadata `general.alignment`", "24 is not a power of two"}},
    {"alignment of the wrong type",
     [](Valid&) {
       GgufWriter w;
       w.KvF32("general.alignment", 32);
       return w.Finish();
     },
     {"metadata `general.alignment`", "expected uint32, got float32"}},
    {"tensor name over 64 bytes",
     [](Valid&) {
       GgufWriter w;
       w.Tensor(std::string(65, 'n'), kTypeF32, {2}, GgufWriter::F32Data({1, 2}));
       return w.Finish();
     },
     {"tensor #0 field `name`", "exceeds the limit of 64"}},
    {"arrays nested too deep",
     [](Valid&) {
       GgufWriter w;
       w.Key("deep", 9);
       for (int k = 0; k < 9; ++k) {
         w.U32(9);
         w.U64(1);
       }
       w.U32(4);
       w.U64(0);
       return w.Finish();
     },
     {"metadata `deep`[0][0]", "nest deeper than 8"}},
};

class GgufCorruptionTest : public ::testing::TestWithParam<Corruption> {};

TEST_P(GgufCorruptionTest, RejectedNamingTheProblem) {
  Valid v;
  ASSERT_TRUE(Parse(v.bytes).ok());
  const std::string bad = GetParam().make(v);
  absl::StatusOr<GgufContents> c = Parse(bad);
  ASSERT_FALSE(c.ok()) << GetParam().name;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("mem.gguf: "));
  for (const char* want : GetParam().expect) {
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(want)) << GetParam().name;
  }
  // The same bytes on disk: GgufFile::Open says the same.
  ::inferd::testing::TempDir dir;
  ::inferd::testing::WriteFile(dir.file("bad.gguf"), bad);
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(dir.file("bad.gguf"));
  ASSERT_FALSE(f.ok());
  if (!bad.empty()) {
    EXPECT_THAT(std::string(f.status().message()), HasSubstr(GetParam().expect[0]));
  }
}

std::string CaseName(const ::testing::TestParamInfo<Corruption>& info) {
  std::string n;
  for (const char* p = info.param.name; *p != '\0'; ++p) {
    n += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Corrupt, GgufCorruptionTest, ::testing::ValuesIn(kCorruptions), CaseName);

}  // namespace
}  // namespace inferd::engine
