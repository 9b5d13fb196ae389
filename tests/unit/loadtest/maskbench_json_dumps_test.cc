// tests/unit/loadtest/maskbench_json_dumps_test.cc — loadtest/maskbench_json_dumps
// against Python itself: thousands of random JSON documents (random doubles
// from bit patterns and from short decimals, integers past 64 bits, every
// spelling of numbers, escapes, surrogate pairs, raw UTF-8, control
// characters, duplicate keys, nesting) go through python3's
// json.dumps(json.loads(line), ensure_ascii=False) and through ours; every
// line must be byte-identical. Fixed cases pin the rules without python3.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "loadtest/maskbench_json_dumps.h"

namespace inferd::loadtest {
namespace {

std::string Dumps(const std::string& text) {
  absl::StatusOr<PyJson> v = ParsePyJson(text);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status();
  return v.ok() ? PyJsonDumps(*v) : "";
}

TEST(MaskbenchJsonDumps, FixedCases) {
  EXPECT_EQ(Dumps("1e-05"), "1e-05");
  EXPECT_EQ(Dumps("0.00001"), "1e-05");
  EXPECT_EQ(Dumps("0.0001"), "0.0001");
  EXPECT_EQ(Dumps("1.0"), "1.0");
  EXPECT_EQ(Dumps("1E2"), "100.0");
  EXPECT_EQ(Dumps("1e16"), "1e+16");
  EXPECT_EQ(Dumps("1e15"), "1000000000000000.0");
  EXPECT_EQ(Dumps("123456789012345678901234567890"), "123456789012345678901234567890");
  EXPECT_EQ(Dumps("-0"), "0");
  EXPECT_EQ(Dumps("-0.0"), "-0.0");
  EXPECT_EQ(Dumps("0.1"), "0.1");
  EXPECT_EQ(Dumps("1.5e300"), "1.5e+300");
  EXPECT_EQ(Dumps("1e400"), "Infinity");
  EXPECT_EQ(Dumps("-1e400"), "-Infinity");
  EXPECT_EQ(Dumps("NaN"), "NaN");
  EXPECT_EQ(Dumps("[1,2 , {\"a\":null,\"b\":true}]"), "[1, 2, {\"a\": null, \"b\": true}]");
  EXPECT_EQ(Dumps("{\"a\":1,\"b\":2,\"a\":3}"), "{\"a\": 3, \"b\": 2}");
  EXPECT_EQ(Dumps("\"\\u00e9\\/\\n\\u001f\\u007f\""), "\"\xC3\xA9/\\n\\u001f\x7F\"");
  EXPECT_EQ(Dumps("\"\\ud83d\\ude00\""), "\"\xF0\x9F\x98\x80\"");
  EXPECT_EQ(Dumps("{}"), "{}");
  EXPECT_EQ(Dumps("[]"), "[]");
}

TEST(MaskbenchJsonDumps, BadInputIsAnErrorNotACrash) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "01", "\"\\x\"", "\"a\nb\"", "tru", "1 2",
                          "\"\\u12\"", "[", "{\"a\":}", "-"}) {
    EXPECT_FALSE(ParsePyJson(bad).ok()) << bad;
  }
  std::string deep(5000, '[');
  EXPECT_FALSE(ParsePyJson(deep).ok());
}

// A random JSON document as text, spelled in many of the ways JSON allows.
class RandomJson {
 public:
  explicit RandomJson(uint64_t seed) : rng_(seed) {}

  std::string Value(int depth) {
    const int kind = Pick(depth > 3 ? 6 : 8);
    switch (kind) {
      case 0:
        return "null";
      case 1:
        return Pick(2) ? "true" : "false";
      case 2:
        return Integer();
      case 3:
      case 4:
        return Float();
      case 5:
        return String();
      case 6: {
        std::string s = "[";
        const int n = Pick(5);
        for (int i = 0; i < n; ++i) s += (i ? Space() + "," + Space() : "") + Value(depth + 1);
        return s + "]";
      }
      default: {
        std::string s = "{" + Space();
        const int n = Pick(5);
        for (int i = 0; i < n; ++i) {
          // Short keys repeat now and then: duplicate keys.
          s += (i ? "," + Space() : "") + (Pick(3) == 0 ? "\"k\"" : String()) + Space() + ":" +
               Space() + Value(depth + 1);
        }
        return s + Space() + "}";
      }
    }
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  std::string Space() {
    static const char* kSpaces[] = {"", "", "", " ", "\n", "\t ", "\r\n  "};
    return kSpaces[Pick(7)];
  }
  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + Pick(10)));
    return s;
  }
  std::string Integer() {
    const std::string sign = Pick(3) == 0 ? "-" : "";
    switch (Pick(4)) {
      case 0:
        return sign + "0";
      case 1:
        return sign + std::to_string(1 + Pick(1000));
      case 2:
        return sign + std::to_string(rng_());
      default:
        return sign + std::to_string(1 + Pick(9)) + Digits(15 + Pick(30));  // past 64 bits
    }
  }
  std::string Float() {
    char buf[64];
    switch (Pick(6)) {
      case 0: {  // any finite double, from its bits, printed exactly enough
        double d;
        do {
          const uint64_t bits = rng_();
          std::memcpy(&d, &bits, sizeof(d));
        } while (!std::isfinite(d));
        std::snprintf(buf, sizeof(buf), "%.17g", d);
        std::string s = buf;
        if (s.find_first_of(".eE") == std::string::npos) s += ".0";
        return s;
      }
      case 1: {  // a short decimal
        std::snprintf(buf, sizeof(buf), "%d.%s", Pick(100000) - 50000, Digits(1 + Pick(6)).c_str());
        return buf;
      }
      case 2: {  // exponent spellings, near the repr switch points
        static const char* kExp[] = {"e", "E", "e+", "e-", "E-"};
        return std::to_string(1 + Pick(99)) + (Pick(2) ? "." + Digits(1 + Pick(3)) : "") +
               kExp[Pick(5)] + std::to_string(Pick(25));
      }
      case 3: {  // powers of ten around 1e-5 and 1e16
        std::snprintf(buf, sizeof(buf), "%s1e%d", Pick(2) ? "-" : "", Pick(45) - 22);
        return buf;
      }
      case 4: {  // a random double in a human range, %.{1..17}g
        std::uniform_real_distribution<double> u(-1e6, 1e6);
        std::snprintf(buf, sizeof(buf), "%.*g", 1 + Pick(17), u(rng_));
        std::string s = buf;
        if (s.find_first_of(".eE") == std::string::npos) s += ".5";
        return s;
      }
      default:  // whole floats and negative zero
        return Pick(4) == 0 ? "-0.0" : std::to_string(Pick(100000)) + ".0";
    }
  }
  std::string String() {
    std::string s = "\"";
    const int n = Pick(12);
    for (int i = 0; i < n; ++i) {
      switch (Pick(10)) {
        case 0: {  // a short escape
          static const char* kEsc[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"};
          s += kEsc[Pick(8)];
          break;
        }
        case 1: {  // \u escape of a BMP non-surrogate
          uint32_t cp;
          do {
            cp = static_cast<uint32_t>(Pick(0x10000));
          } while (cp >= 0xD800 && cp <= 0xDFFF);
          char buf[8];
          std::snprintf(buf, sizeof(buf), Pick(2) ? "\\u%04x" : "\\u%04X", cp);
          s += buf;
          break;
        }
        case 2: {  // a surrogate pair
          const uint32_t cp = 0x10000 + static_cast<uint32_t>(Pick(0x100000));
          char buf[16];
          std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
                        0xDC00 + ((cp - 0x10000) & 0x3FF));
          s += buf;
          break;
        }
        case 3:
          s += "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
          break;  // raw UTF-8: é € 😀
        case 4:
          s += "\x7F";
          break;
        default:
          s.push_back(static_cast<char>(' ' + Pick(95)));
          if (s.back() == '"' || s.back() == '\\') s.back() = 'x';
      }
    }
    return s + "\"";
  }

  std::mt19937_64 rng_;
};

TEST(MaskbenchJsonDumps, EqualsPython3OnRandomDocuments) {
  if (std::system("python3 -c 'import json' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 not available";
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("maskbench_dumps_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string in_path = (dir / "in.jsonl").string();
  const std::string out_path = (dir / "out.txt").string();
  std::vector<std::string> docs;
  RandomJson gen(20261206);
  for (int i = 0; i < 6000; ++i) docs.push_back(gen.Value(0));
  {
    std::ofstream in(in_path, std::ios::binary);
    // One document per line: newlines inside documents become spaces
    // (outside strings they are whitespace; inside strings none are raw).
    for (std::string d : docs) {
      for (char& c : d) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      in << d << "\n";
    }
  }
  const std::string cmd =
      "python3 -c \"import json,sys\n"
      "out = open(sys.argv[2], 'w', encoding='utf-8', errors='surrogatepass', newline='')\n"
      "for line in open(sys.argv[1], encoding='utf-8'):\n"
      "    out.write(json.dumps(json.loads(line), indent=None, ensure_ascii=False) + '\\n')\n\" " +
      in_path + " " + out_path;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream out(out_path, std::ios::binary);
  std::ifstream in(in_path, std::ios::binary);
  std::string want;
  std::string line;
  int compared = 0;
  int mismatches = 0;
  while (std::getline(in, line)) {
    ASSERT_TRUE(std::getline(out, want)) << "python3 wrote fewer lines";
    const std::string got = Dumps(line);
    if (got != want && ++mismatches <= 20) {
      ADD_FAILURE() << "input: " << line << "\n python: " << want << "\n    ours: " << got;
    }
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(docs.size()));
  EXPECT_EQ(mismatches, 0);
  std::filesystem::remove_all(dir);
}

// float.__repr__ over random bit patterns, in one python3 call.
TEST(MaskbenchJsonDumps, FloatReprEqualsPython3OnRandomBits) {
  if (std::system("python3 -c 'import json' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 not available";
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("maskbench_repr_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string in_path = (dir / "bits.txt").string();
  const std::string out_path = (dir / "repr.txt").string();
  std::mt19937_64 rng(7);
  std::vector<double> values;
  for (int i = 0; i < 20000; ++i) {
    double d;
    uint64_t bits = rng();
    if (i % 4 == 1) bits &= 0x800FFFFFFFFFFFFFull | (uint64_t{0x3B0 + (rng() % 0xA0)} << 52);
    std::memcpy(&d, &bits, sizeof(d));
    if (i % 4 == 2)
      d = std::ldexp(static_cast<double>(rng() % 100000), static_cast<int>(rng() % 80) - 40);
    if (i % 4 == 3)
      d = static_cast<double>(rng() % 1000000) / std::pow(10.0, static_cast<double>(rng() % 22));
    values.push_back(d);
  }
  {
    std::ofstream in(in_path);
    for (double d : values) {
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof(bits));
      in << bits << "\n";
    }
  }
  const std::string cmd =
      "python3 -c \"import json,struct,sys\n"
      "out = open(sys.argv[2], 'w')\n"
      "for line in open(sys.argv[1]):\n"
      "    out.write(json.dumps(struct.unpack('<d', struct.pack('<Q', int(line)))[0]) + "
      "'\\n')\n\" " +
      in_path + " " + out_path;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream out(out_path);
  std::string want;
  int mismatches = 0;
  for (double d : values) {
    ASSERT_TRUE(std::getline(out, want));
    const std::string got = PythonFloatRepr(d);
    if (got != want && ++mismatches <= 20) ADD_FAILURE() << "python: " << want << " ours: " << got;
  }
  EXPECT_EQ(mismatches, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace inferd::loadtest
