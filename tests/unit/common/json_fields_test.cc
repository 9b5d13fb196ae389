// tests/unit/common/json_fields_test.cc — the JSON helpers: files read within
// a bound, parse errors naming the origin, and both message styles of the
// typed field reads (JsonFields: "<origin>: field `<path>`: ...", Get*:
// "<where>.<key> is not a ...") exactly as callers and their tests see them.
#include "common/json_fields.h"

#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace inferd {
namespace {

std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

TEST(JsonFieldsTest, ReadTextFileReadsWithinTheBound) {
  const std::string path = WriteTemp("json_fields_small.json", "{\"a\": 1}");
  absl::StatusOr<std::string> text = ReadTextFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "{\"a\": 1}");

  absl::StatusOr<std::string> too_big = ReadTextFile(path, 4);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.status().message().find(path), absl::string_view::npos);

  absl::StatusOr<std::string> missing = ReadTextFile(path + ".absent");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(JsonFieldsTest, ParseJsonNamesTheOrigin) {
  absl::StatusOr<Json> ok = ParseJson("{\"a\": [1, 2]}", "x.json");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)["a"][1], 2);

  absl::StatusOr<Json> bad = ParseJson("{\"a\": ", "x.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().rfind("x.json: invalid JSON: ", 0), 0u) << bad.status();
}

TEST(JsonFieldsTest, JsonTypeNames) {
  EXPECT_STREQ(JsonTypeName(Json()), "null");
  EXPECT_STREQ(JsonTypeName(Json::object()), "an object");
  EXPECT_STREQ(JsonTypeName(Json::array()), "an array");
  EXPECT_STREQ(JsonTypeName(Json("s")), "a string");
  EXPECT_STREQ(JsonTypeName(Json(true)), "a boolean");
  EXPECT_STREQ(JsonTypeName(Json(-3)), "an integer");
  EXPECT_STREQ(JsonTypeName(Json(3u)), "an integer");
  EXPECT_STREQ(JsonTypeName(Json(1.5)), "a floating-point number");
}

TEST(JsonFieldsTest, FindFieldTreatsNullAndNonObjectsAsAbsent) {
  const Json j = Json::parse(R"({"a": 1, "n": null})");
  ASSERT_NE(FindField(j, "a"), nullptr);
  EXPECT_EQ(*FindField(j, "a"), 1);
  EXPECT_EQ(FindField(j, "n"), nullptr);
  EXPECT_EQ(FindField(j, "zz"), nullptr);
  EXPECT_EQ(FindField(Json::array({1}), "a"), nullptr);
  EXPECT_EQ(FindField(Json("a"), "a"), nullptr);

  const JsonFields f(j, "c.json");
  EXPECT_TRUE(f.Has("a"));
  EXPECT_FALSE(f.Has("n"));
  EXPECT_FALSE(f.Has("zz"));
}

TEST(JsonFieldsTest, JsonFieldsReadsTypedValues) {
  const Json j =
      Json::parse(R"({"i": 7, "d": 0.5, "di": 2, "b": true, "s": "x", "one": 3, "ids": [1, 2]})");
  const JsonFields f(j, "c.json");
  EXPECT_EQ(*f.Int("i"), 7);
  EXPECT_EQ(*f.OptionalInt("i"), std::optional<int64_t>(7));
  EXPECT_EQ(*f.OptionalInt("zz"), std::nullopt);
  EXPECT_EQ(*f.OptionalDouble("d"), std::optional<double>(0.5));
  EXPECT_EQ(*f.OptionalDouble("di"), std::optional<double>(2.0));
  EXPECT_EQ(*f.OptionalBool("b"), std::optional<bool>(true));
  EXPECT_EQ(*f.OptionalString("s"), std::optional<std::string>("x"));
  EXPECT_EQ(*f.TokenIds("one"), std::vector<int32_t>({3}));
  EXPECT_EQ(*f.TokenIds("ids"), std::vector<int32_t>({1, 2}));
  EXPECT_TRUE(f.TokenIds("zz")->empty());

  bool flag = true;
  ASSERT_TRUE(f.ReadBool("zz", &flag).ok());
  EXPECT_TRUE(flag);
  flag = false;
  ASSERT_TRUE(f.ReadBool("b", &flag).ok());
  EXPECT_TRUE(flag);
}

TEST(JsonFieldsTest, JsonFieldsMessages) {
  const Json j = Json::parse(R"({"s": "x", "i": 7, "big": 9223372036854775808, "neg": [1, -1]})");
  const JsonFields f(j, "c.json", "rope_scaling.");
  auto message = [](const absl::Status& s) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  EXPECT_EQ(message(f.Int("zz").status()),
            "c.json: field `rope_scaling.zz`: required field is missing");
  EXPECT_EQ(message(f.Int("s").status()),
            "c.json: field `rope_scaling.s`: expected an integer, got a string (\"x\")");
  EXPECT_EQ(message(f.OptionalInt("big").status()),
            "c.json: field `rope_scaling.big`: expected an integer, got an integer "
            "(9223372036854775808)");
  EXPECT_EQ(message(f.OptionalDouble("s").status()),
            "c.json: field `rope_scaling.s`: expected a number, got a string");
  EXPECT_EQ(message(f.OptionalBool("i").status()),
            "c.json: field `rope_scaling.i`: expected true or false, got an integer");
  bool flag = false;
  EXPECT_EQ(message(f.ReadBool("s", &flag)),
            "c.json: field `rope_scaling.s`: expected true or false, got a string");
  EXPECT_EQ(message(f.OptionalString("i").status()),
            "c.json: field `rope_scaling.i`: expected a string, got an integer");
  EXPECT_EQ(message(f.TokenIds("neg").status()),
            "c.json: field `rope_scaling.neg`: expected a token id (an integer in [0, 2^31)) or a "
            "list of them, got -1");
  EXPECT_EQ(message(f.Error("k", "what")), "c.json: field `rope_scaling.k`: what");
  EXPECT_EQ(f.origin(), "c.json");
}

TEST(JsonFieldsTest, GetReadsFallBackWhenAbsentOrNull) {
  const Json j = Json::parse(R"({"b": false, "s": "x", "i": -4, "n": null})");
  EXPECT_EQ(*GetBool(j, "b", true, "m"), false);
  EXPECT_EQ(*GetBool(j, "n", true, "m"), true);
  EXPECT_EQ(*GetBool(j, "zz", true, "m"), true);
  EXPECT_EQ(*GetString(j, "s", "f", "m"), "x");
  EXPECT_EQ(*GetString(j, "zz", "f", "m"), "f");
  EXPECT_EQ(*GetOptionalString(j, "s", "m"), std::optional<std::string>("x"));
  EXPECT_EQ(*GetOptionalString(j, "n", "m"), std::nullopt);
  EXPECT_EQ(*GetInt(j, "i", 9, "m"), -4);
  EXPECT_EQ(*GetInt(j, "zz", 9, "m"), 9);
  // Not an object: every field is absent.
  EXPECT_EQ(*GetInt(Json::array(), "i", 9, "m"), 9);
}

TEST(JsonFieldsTest, GetMessages) {
  const Json j =
      Json::parse(R"({"b": 1, "s": 2, "i": "x", "f": 1.5, "big": 18446744073709551615})");
  auto message = [](const absl::Status& s) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  EXPECT_EQ(message(GetBool(j, "b", false, "model").status()), "model.b is not a boolean");
  EXPECT_EQ(message(GetString(j, "s", "", "model").status()), "model.s is not a string");
  EXPECT_EQ(message(GetOptionalString(j, "s", "model").status()), "model.s is not a string");
  EXPECT_EQ(message(GetInt(j, "i", 0, "decoder").status()), "decoder.i is not an integer");
  EXPECT_EQ(message(GetInt(j, "f", 0, "decoder").status()), "decoder.f is not an integer");
  // Beyond int64: refused rather than wrapped.
  EXPECT_EQ(message(GetInt(j, "big", 0, "decoder").status()), "decoder.big is not an integer");
}

TEST(JsonFieldsTest, GetType) {
  EXPECT_EQ(*GetType(Json::parse(R"({"type": "Sequence"})"), "normalizer"), "Sequence");
  auto message = [](const absl::StatusOr<std::string>& s) {
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.status().message());
  };
  EXPECT_EQ(message(GetType(Json(3), "normalizer")), "normalizer is not an object");
  EXPECT_EQ(message(GetType(Json::object(), "normalizer")), "normalizer has no string \"type\"");
  EXPECT_EQ(message(GetType(Json::parse(R"({"type": 1})"), "decoder")),
            "decoder has no string \"type\"");
}

}  // namespace
}  // namespace inferd
