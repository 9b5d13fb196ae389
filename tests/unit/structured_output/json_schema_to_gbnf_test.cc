// tests/unit/structured_output/json_schema_to_gbnf_test.cc — JsonSchemaToGbnf
// as a language: valid and invalid instances per keyword (compact and
// whitespace modes), the integer/number range grammars against plain
// comparisons on random values, and the refused or unsatisfiable schemas
// with their messages.
#include <random>
#include <string>
#include <vector>

#include "engine/structured_output/constraint_to_gbnf.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/structured_output/byte_language.h"

namespace inferd::engine {
namespace {

ByteLanguage Lang(const std::string& schema, bool ws) {
  absl::StatusOr<std::string> g = JsonSchemaToGbnf(schema, ws);
  EXPECT_TRUE(g.ok()) << schema << ": " << g.status();
  absl::StatusOr<ByteLanguage> l = ByteLanguage::Compile(g.ok() ? *g : "root ::= \"x\"");
  EXPECT_TRUE(l.ok()) << schema << "\n" << (g.ok() ? *g : "") << "\n" << l.status();
  return *std::move(l);
}

struct Case {
  std::string schema;
  std::vector<std::string> accept;
  std::vector<std::string> reject;
  bool ws = true;
};

void Check(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    ByteLanguage l = Lang(c.schema, c.ws);
    for (const std::string& s : c.accept)
      EXPECT_TRUE(l.Accepts(s)) << c.schema << "\nshould accept: " << s;
    for (const std::string& s : c.reject)
      EXPECT_FALSE(l.Accepts(s)) << c.schema << "\nshould reject: " << s;
  }
}

TEST(JsonSchemaToGbnf, ScalarsAndWhitespaceModes) {
  Check({
      {R"({"type":"integer"})",
       {"0", "-12", "123456789012345678901234"},
       {"01", "1.0", "+1", " 1", "-"}},
      {R"({"type":"number"})",
       {"0", "-1.5", "1e10", "2.5E-3", "1.0"},
       {".5", "1.", "1e", "--1", "NaN"}},
      {R"({"type":"boolean"})", {"true", "false"}, {"True", "1"}},
      {R"({"type":"null"})", {"null"}, {"nul", ""}},
      {R"({"type":"string"})",
       {R"("")", R"("a\"b\\c\/\n\u00e9")", "\"\xC3\xA9\xF0\x9F\x98\x80\""},
       {R"("a)", "\"a\nb\"", R"("\x")", R"("\u12")"}},
      {R"({"type":["string","null"]})", {"null", R"("x")"}, {"1"}},
      {R"({})", {"1", "null", R"({"a": [1, {"b": "c"}]})", "[]"}, {"", "{", "[1,]"}},
      {R"(true)", {"1", R"("x")"}, {"x"}},
      {R"({"type":"object","properties":{"a":{"type":"integer"}}})",
       {R"({"a":1})"},
       {R"({"a": 1})", R"({ "a":1})"},
       /*ws=*/false},
      {R"({"type":"object","properties":{"a":{"type":"integer"}}})",
       {R"({"a":1})", R"({"a": 1})", "{ \"a\" :\n\t1 }", R"({ })"},
       {R"({"a": 1,})"}},
  });
}

TEST(JsonSchemaToGbnf, ObjectsPropertyOrderRequiredAndAdditional) {
  Check({
      {R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"]})",
       {R"({"a": 1})", R"({"a": 1, "b": "x"})", R"({"a": 1, "c": [2]})",
        R"({"a": 1, "b": "x", "zz": null})"},
       {R"({"b": "x"})", R"({"b": "x", "a": 1})", R"({"a": 1, "a": 2})",
        R"({"a": 1, "b": "x", "b": "y"})", R"({"a": "1"})", R"({})"}},
      {R"({"type":"object","properties":{"a":{},"b":{},"c":{}},"additionalProperties":false})",
       {"{}", R"({"a": 1})", R"({"b": 1})", R"({"a": 1, "c": 3})", R"({"a": 1, "b": 2, "c": 3})"},
       {R"({"d": 1})", R"({"a": 1,})", R"({, "a": 1})", R"({"a": 1 "b": 2})",
        R"({"c": 1, "a": 2})"}},
      // Additional keys exclude the listed names (prefixes of each other too).
      {R"({"type":"object","properties":{"ab":{},"a":{}}})",
       {R"({"a": 1})", R"({"ab": 1})", R"({"abc": 1})", R"({"ab": 1, "a": 2})",
        R"({"b": 1, "c": 2})", R"({"ab": 1, "x": 2})", R"({"": 1})"},
       {R"({"a": 1, "ab": 2})", R"({"ab": 1, "a": 2, "a": 3})", R"({"ab": 1, "ab": 2})",
        R"({"x": 1, "a": 2})"}},
      {R"({"type":"object","additionalProperties":{"type":"integer"}})",
       {"{}", R"({"x": 1, "y": 2})"},
       {R"({"x": "1"})"}},
      {R"({"type":"object","properties":{"a":false,"b":{"type":"integer"}}})",
       {R"({"b": 1})", R"({"c": 1})"},
       {R"({"a": 1})"}},
      {R"({"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"minProperties":1})",
       {R"({"x": 1})"},
       {"{}"}},
  });
}

TEST(JsonSchemaToGbnf, RequiredUnlistedAndUnsatisfiableOptionalProperties) {
  Check({
      // A required name outside `properties` is an additional key that must
      // appear; it takes its place after the listed ones.
      {R"({"type":"object","properties":{"a":{}},"required":["x"],"additionalProperties":{"type":"integer"}})",
       {R"({"x": 1})", R"({"a": [], "x": 1})", R"({"x": 1, "y": 2})"},
       {"{}", R"({"y": 2})", R"({"x": "1"})", R"({"x": 1, "x": 2})"}},
      // An optional property no value can satisfy may not appear.
      {R"({"type":"object","properties":{"a":{"type":"integer","enum":["s"]}}})",
       {"{}", R"({"b": 1})"},
       {R"({"a": 1})", R"({"a": "s"})"}},
      // minLength/maxLength fold into ^C{m,n}$ patterns.
      {R"({"type":"string","pattern":"^[a-z]+$","maxLength":3})",
       {R"("ab")", R"("abc")"},
       {R"("abcd")", R"("")"}},
      {R"({"type":"string","pattern":"^[0-9]{5}$","minLength":5})", {R"("12345")"}, {R"("1234")"}},
  });
}

TEST(JsonSchemaToGbnf, Arrays) {
  Check({
      {R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})",
       {"[1]", "[1, 2, 3]", "[1,2]"},
       {"[]", "[1, 2, 3, 4]", "[1,]", R"(["a"])"}},
      {R"({"type":"array","prefixItems":[{"type":"integer"},{"type":"string"}],"items":false,"minItems":1})",
       {"[1]", R"([1, "a"])"},
       {"[]", R"([1, "a", 2])", R"(["a"])"}},
      {R"({"type":"array","items":[{"type":"integer"}],"additionalItems":{"type":"string"}})",
       {"[]", "[1]", R"([1, "a", "b"])"},
       {R"([1, 2])", R"(["a"])"}},
      {R"({"type":"array","prefixItems":[{"const":1},{"const":2},{"const":3}],"minItems":2,"maxItems":4})",
       {"[1, 2]", "[1, 2, 3]", "[1, 2, 3, {}]"},
       {"[1]", "[1, 3]", "[1, 2, 3, 4, 5]"}},
      {R"({"type":"array","maxItems":0})", {"[]", "[ ]"}, {"[1]"}},
      {R"({"type":"array","uniqueItems":true,"maxItems":1})", {"[]", "[1]"}, {"[1, 1]"}},
  });
}

TEST(JsonSchemaToGbnf, StringsLengthPatternFormat) {
  Check({
      {R"({"type":"string","minLength":2,"maxLength":3})",
       {R"("ab")", R"("abc")", R"("\u00e9\n")", "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\""},
       {R"("a")", R"("abcd")", R"("\ud83d\ude00")"}},
      {R"({"type":"string","pattern":"^[a-z]+\\d$"})",
       {R"("abc1")"},
       {R"("abc")", R"("1")", R"("abc12")"}},
      {R"({"type":"string","pattern":"o\"o"})", {R"("fo\"o")", R"("xo\"oy")"}, {R"("foo")"}},
      {R"({"type":"string","pattern":"\\d"})", {R"("a1b")", R"("1")"}, {R"("ab")"}},
      {R"({"type":"string","pattern":"^a\\nb$"})", {R"("a\nb")", R"("a\u000ab")"}, {R"("anb")"}},
      {R"({"type":"string","format":"date"})",
       {R"("2024-02-29")", R"("2000-02-29")", R"("1999-12-31")", R"("0001-01-01")"},
       {R"("2023-02-29")", R"("1900-02-29")", R"("2024-04-31")", R"("2024-13-01")",
        R"("0000-01-01")", R"("24-01-01")"}},
      {R"({"type":"string","format":"date-time"})",
       {R"("2024-01-31T23:59:59Z")", R"("2024-01-31T00:00:00.123+05:30")"},
       {R"("2024-01-31T24:00:00Z")", R"("2024-01-31 00:00:00Z")", R"("2024-01-31T00:00:00")"}},
      {R"({"type":"string","format":"time"})", {R"("12:30:00Z")"}, {R"("12:30")"}},
      {R"({"type":"string","format":"email"})",
       {R"("a.b+c@example.co.uk")", R"("x@y.z")"},
       {R"("a@b")", R"("@b.c")", R"("a@@b.c")", R"("a b@c.d")", R"("a@-b.c")", R"("a..b@c.d")"}},
      {R"({"type":"string","format":"uri","minLength":1})",
       {R"("https://example.com/a/b?q=1&r=%20#frag")", R"("ftp://h:21")"},
       {R"("example.com")", R"("http://")", R"("http://a b")", R"("/relative")"}},
      {R"({"type":"string","format":"ipv4"})",
       {R"("0.0.0.0")", R"("255.255.255.255")", R"("10.1.20.199")"},
       {R"("256.1.1.1")", R"("01.1.1.1")", R"("1.1.1")", R"("1.1.1.1.1")"}},
      {R"({"type":"string","format":"uuid"})",
       {R"("123e4567-e89b-12d3-a456-426614174000")"},
       {R"("123e4567e89b12d3a456426614174000")", R"("123e4567-e89b-12d3-a456-42661417400g")"}},
  });
}

TEST(JsonSchemaToGbnf, EnumConstAndCombinators) {
  Check({
      {R"({"enum":["a",1,null,{"k":[true]}]})",
       {R"("a")", "1", "null", R"({"k": [true]})", R"({"k":[true]})"},
       {R"("b")", "1.0", R"({"k": [false]})"}},
      {R"({"type":"string","enum":["a","bb",3]})", {R"("a")", R"("bb")"}, {"3"}},
      {R"({"const":"x\ny"})", {R"("x\ny")"}, {R"("x\u000ay")", R"("xy")"}},
      {R"({"type":"string","enum":["a","bbb"],"maxLength":2})", {R"("a")"}, {R"("bbb")"}},
      {R"({"anyOf":[{"type":"integer","minimum":5},{"type":"string"}]})",
       {"5", R"("x")"},
       {"4", "null"}},
      {R"({"oneOf":[{"type":"string"},{"type":"null"}]})", {R"("x")", "null"}, {"1"}},
      {R"({"oneOf":[{"type":"object","properties":{"k":{"const":"a"},"v":{"type":"integer"}},"required":["k"]},
                    {"type":"object","properties":{"k":{"const":"b"},"v":{"type":"string"}},"required":["k"]}]})",
       {R"({"k": "a", "v": 1})", R"({"k": "b", "v": "x"})"},
       {R"({"k": "a", "v": "x"})", R"({"k": "c"})"}},
      // oneOf of required lists: exactly one branch's names present.
      {R"({"type":"object","properties":{"a":{},"b":{},"c":{}},"oneOf":[{"required":["a"]},{"required":["b"]}]})",
       {R"({"a": 1})", R"({"b": 1, "c": 2})", R"({"a": 1, "c": 2})"},
       {R"({"a": 1, "b": 2})", R"({"c": 1})", "{}", "1"}},
      {R"({"oneOf":[{"required":["a","b"]},{"required":["a"]}]})",
       {R"({"a": 1})", R"({"a": 1, "c": 2})"},
       {R"({"a": 1, "b": 2})", R"({"b": 2})", R"("x")"}},
      {R"({"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                    {"properties":{"b":{"type":"string"}},"required":["b"]}]})",
       {R"({"a": 1, "b": "x"})"},
       {R"({"a": 1})", R"({"b": "x"})"}},
      {R"({"$defs":{"n":{"type":"object","properties":{"v":{"type":"integer"},"next":{"$ref":"#/$defs/n"}},
           "required":["v"],"additionalProperties":false}},"$ref":"#/$defs/n"})",
       {R"({"v": 1})", R"({"v": 1, "next": {"v": 2, "next": {"v": 3}}})"},
       {R"({"next": {"v": 2}})", R"({"v": 1, "next": {}})"}},
      {R"({"type":"object","properties":{"child":{"$ref":"#"}}})",
       {R"({"child": {"child": {}}})"},
       {R"({"child": 1})"}},
      {R"({"definitions":{"s":{"type":"string"}},"properties":{"x":{"$ref":"#/definitions/s"}}})",
       {R"({"x": "a"})", "1", "null"},
       {R"({"x": 1})"}},
  });
}

TEST(JsonSchemaToGbnf, NumericBoundsAreExact) {
  Check({
      {R"({"type":"integer","minimum":-5,"maximum":123})",
       {"-5", "0", "123"},
       {"-6", "124", "1000", "-0"}},
      {R"({"type":"integer","exclusiveMinimum":0})", {"1", "99999999999"}, {"0", "-1", "-0"}},
      {R"({"type":"integer","minimum":1.5,"exclusiveMaximum":10})", {"2", "9"}, {"1", "10"}},
      {R"({"type":"integer","minimum":0,"exclusiveMinimum":true})", {"1"}, {"0"}},
      {R"({"type":"number","minimum":-1,"maximum":2})",
       {"-1", "-1.0", "2.0", "0.5", "-0", "-0.25", "1.999"},
       {"-1.5", "2.01", "3", "-1.0001", "1e0"}},
  });
}

// IntegerRangeGbnf / NumberRangeGbnf through the schema, against plain
// comparisons on random bounds and values.
TEST(JsonSchemaToGbnf, RandomIntegerRangesMatchComparison) {
  std::mt19937_64 rng(77);
  const auto random_bound = [&]() -> int64_t {
    switch (rng() % 4) {
      case 0:
        return static_cast<int64_t>(rng() % 21) - 10;
      case 1:
        return static_cast<int64_t>(rng() % 2001) - 1000;
      case 2:
        return static_cast<int64_t>(rng() % 2000001) - 1000000;
      default:
        return static_cast<int64_t>(rng() % 2000000000001ULL) - 1000000000000LL;
    }
  };
  for (int iter = 0; iter < 60; ++iter) {
    int64_t lo = random_bound();
    int64_t hi = random_bound();
    if (lo > hi) std::swap(lo, hi);
    const int shape = static_cast<int>(rng() % 3);  // both, min only, max only
    nlohmann::json schema = {{"type", "integer"}};
    if (shape != 2) schema["minimum"] = lo;
    if (shape != 1) schema["maximum"] = hi;
    ByteLanguage l = Lang(schema.dump(), true);
    for (int k = 0; k < 60; ++k) {
      int64_t v = 0;
      switch (rng() % 3) {
        case 0:
          v = random_bound();
          break;
        case 1:
          v = lo + static_cast<int64_t>(rng() % 5) - 2;
          break;
        default:
          v = hi + static_cast<int64_t>(rng() % 5) - 2;
          break;
      }
      const bool in = (shape == 2 || v >= lo) && (shape == 1 || v <= hi);
      EXPECT_EQ(l.Accepts(std::to_string(v)), in) << schema.dump() << " on " << v;
    }
  }
}

TEST(JsonSchemaToGbnf, RandomNumberRangesMatchComparison) {
  // Bounds in hundredths (0.07, -2.5, 3, ...), values with 0-3 fraction
  // digits: compared exactly as integers in thousandths.
  std::mt19937_64 rng(78);
  for (int iter = 0; iter < 80; ++iter) {
    int64_t lo = static_cast<int64_t>(rng() % 801) - 400;
    int64_t hi = static_cast<int64_t>(rng() % 801) - 400;
    if (iter % 4 == 0) lo = lo / 100 * 100;  // integral bounds too
    if (lo > hi) std::swap(lo, hi);
    const int shape = static_cast<int>(rng() % 3);  // both, min only, max only
    nlohmann::json schema = {{"type", "number"}};
    if (shape != 2) schema["minimum"] = static_cast<double>(lo) / 100;
    if (shape != 1) schema["maximum"] = static_cast<double>(hi) / 100;
    ByteLanguage l = Lang(schema.dump(), false);
    for (int k = 0; k < 80; ++k) {
      const int64_t whole = static_cast<int64_t>(rng() % 6);
      const int digits = static_cast<int>(rng() % 4);
      int64_t milli = whole * 1000;
      std::string frac;
      for (int d = 0; d < digits; ++d) {
        const int digit = static_cast<int>(rng() % 10);
        frac.push_back(static_cast<char>('0' + digit));
        milli += digit * (d == 0 ? 100 : d == 1 ? 10 : 1);
      }
      const bool neg = rng() % 2 == 0;
      if (neg) milli = -milli;
      const std::string text =
          (neg ? "-" : "") + std::to_string(whole) + (digits ? "." + frac : "");
      bool in = (shape == 2 || milli >= lo * 10) && (shape == 1 || milli <= hi * 10);
      if (neg && milli == 0 && shape != 2 && lo >= 0)
        in = false;  // "-0" only where negatives are allowed
      EXPECT_EQ(l.Accepts(text), in) << schema.dump() << " on " << text;
    }
  }
}

TEST(JsonSchemaToGbnf, BadSchemasAreInvalidArgumentNamingTheProblem) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"type":"array","uniqueItems":true})",
       "unsupported JSON Schema keyword 'uniqueItems' at the root"},
      {R"({"properties":{"tags":{"type":"array","uniqueItems":true}}})",
       "'uniqueItems' at /properties/tags"},
      {R"({"properties":{"a/b~":{"not":{}}}})", "'not' at /properties/a~1b~0"},
      {R"({"if":{},"then":{}})", "'if'"},
      {R"({"type":"array","minItems":3,"maxItems":2})", "unsatisfiable"},
      {R"({"type":"integer","minimum":5,"maximum":4})", "minimum > maximum"},
      {R"({"type":"string","minLength":5,"maxLength":4})", "maxLength < minLength"},
      {R"({"enum":[]})", "unsatisfiable"},
      {R"({"type":"integer","enum":["a"]})", "unsatisfiable"},
      {R"({"type":"object","properties":{"a":false},"required":["a"]})",
       "required property 'a' is not allowed"},
      {R"({"type":"object","additionalProperties":false,"required":["a"]})", "not allowed"},
      {R"(false)", "admits no value"},
      {R"({"type":[]})", "empty"},
      {R"({"$ref":"#"})", "cycle"},
      {R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"anyOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"})",
       "cycle"},
      {R"({"$ref":"#/$defs/missing"})", "points nowhere"},
      {R"({"$ref":"http://example.com/s.json"})", "only local references"},
      {R"({"type":"string","pattern":"(a)\\1"})", "'pattern' at the root: regex: backreferences"},
      {R"({"type":"string","format":"hostname"})", "format 'hostname' is not enforced"},
      {R"({"type":"string","format":"email","maxLength":40})", "'format' at the root"},
      {R"({"type":"string","format":"date","minLength":11})", "unsatisfiable"},
      {R"({"type":"number","multipleOf":0.5})", "'multipleOf'"},
      {R"({"type":"number","minimum":1e-7})", "exponent form"},
      {R"({"type":"number","exclusiveMinimum":0.5})", "exclusive bounds"},
      {R"({"type":"number","minimum":2.5,"maximum":2.25})", "minimum > maximum"},
      {R"({"oneOf":[{"type":"integer"},{"type":"number"}]})", "'oneOf'"},
      {R"({"type":"object","patternProperties":{"^x":{}}})", "'patternProperties'"},
      {R"({"type":"strin"})", "unknown type"},
      {R"({"type":"string","maxLength":1000000})", "maxLength"},
      {R"({"type":"string","pattern":"^a.*$","maxLength":3})", "'maxLength' at the root"},
      {R"({"type":"array","minItems":1000000})", "minItems"},
      {"{\"type\":", "not valid JSON"},
      {"[1,2]", "must be an object or a boolean"},
      {std::string(300, '[') + std::string(300, ']'), "nested deeper"},
  };
  for (const auto& [schema, what] : bad) {
    absl::StatusOr<std::string> g = JsonSchemaToGbnf(schema, false);
    ASSERT_FALSE(g.ok()) << schema;
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument) << schema;
    EXPECT_NE(std::string(g.status().message()).find(what), std::string::npos)
        << schema << "\n  message: " << g.status().message() << "\n  expected: " << what;
  }
}

TEST(JsonSchemaToGbnf, HugeSchemasAreBoundedOrRefused) {
  // A 1 MB schema: an enum of 60,000 strings compiles to a linear grammar.
  nlohmann::json values = nlohmann::json::array();
  for (int i = 0; i < 60000; ++i) values.push_back("value-" + std::to_string(i) + "-xxxx");
  const std::string big = nlohmann::json{{"enum", values}}.dump();
  ASSERT_GT(big.size(), 1000000u);
  absl::StatusOr<std::string> g = JsonSchemaToGbnf(big, false);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_LT(g->size(), 4u << 20);
  // Deeply nested properties: refused, not a stack overflow.
  std::string deep = "{}";
  for (int i = 0; i < 150; ++i) deep = R"({"type":"object","properties":{"a":)" + deep + "}}";
  absl::StatusOr<std::string> d = JsonSchemaToGbnf(deep, false);
  EXPECT_FALSE(d.ok());
  // Nested anyOf of nested arrays of properties stays linear (shared rules).
  std::string wide = R"({"type":"integer"})";
  for (int i = 0; i < 20; ++i) {
    wide = R"({"anyOf":[{"type":"array","items":)" + wide +
           R"(},{"type":"object","properties":{"x":)" + wide + R"(,"y":)" + wide + "}}]}";
    if (wide.size() > 1000000) break;
  }
  absl::StatusOr<std::string> w =
      JsonSchemaToGbnf(wide.substr(0, std::min<size_t>(wide.size(), 4000000)), false);
  if (w.ok()) {
    EXPECT_LT(w->size(), 4u << 20);
  }
}

}  // namespace
}  // namespace inferd::engine
