// loadtest/maskbench_json_dumps.cc — json.loads / json.dumps as Python does
// them (see the header for the rules).
#include "loadtest/maskbench_json_dumps.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::loadtest {
namespace {

// Python's json.loads stops near 1,000 levels (its recursion limit); no
// MaskBench instance nests past a few dozen. 512 keeps the recursive parser
// well inside an 8 MiB stack even with a sanitizer's larger frames.
constexpr int kMaxDepth = 512;

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  absl::StatusOr<PyJson> ParseDocument() {
    PyJson v;
    if (absl::Status st = Value(&v, 0); !st.ok()) return st;
    SkipSpace();
    if (pos_ != s_.size()) return Error("extra data after the value");
    return v;
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("JSON: ", std::string(what), " at byte ", pos_));
  }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  absl::Status Value(PyJson* v, int depth) {
    if (depth > kMaxDepth) return Error("nesting too deep");
    SkipSpace();
    if (pos_ >= s_.size()) return Error("unexpected end of input");
    const char c = s_[pos_];
    if (c == '{') return Object(v, depth);
    if (c == '[') return Array(v, depth);
    if (c == '"') {
      v->kind = PyJson::Kind::kString;
      return String(&v->text);
    }
    if (Consume("null")) {
      v->kind = PyJson::Kind::kNull;
      return absl::OkStatus();
    }
    if (Consume("true") || Consume("false")) {
      v->kind = PyJson::Kind::kBool;
      v->boolean = c == 't';
      return absl::OkStatus();
    }
    if (Consume("NaN")) {
      v->kind = PyJson::Kind::kFloat;
      v->number = std::nan("");
      return absl::OkStatus();
    }
    if (Consume("Infinity")) {
      v->kind = PyJson::Kind::kFloat;
      v->number = HUGE_VAL;
      return absl::OkStatus();
    }
    if (Consume("-Infinity")) {
      v->kind = PyJson::Kind::kFloat;
      v->number = -HUGE_VAL;
      return absl::OkStatus();
    }
    return Number(v);
  }

  absl::Status Number(PyJson* v) {
    const size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    const size_t int_start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
    } else if (pos_ < s_.size() && s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    } else {
      pos_ = start;
      return Error("expected a value");
    }
    const size_t int_end = pos_;
    bool is_float = false;
    // Python's pattern: (-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)? — a '.'
    // or 'e' without digits after it is not part of the number.
    if (pos_ + 1 < s_.size() && s_[pos_] == '.' && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9') {
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      is_float = true;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) ++p;
      if (p < s_.size() && s_[p] >= '0' && s_[p] <= '9') {
        while (p < s_.size() && s_[p] >= '0' && s_[p] <= '9') ++p;
        pos_ = p;
        is_float = true;
      }
    }
    if (!is_float) {
      v->kind = PyJson::Kind::kInt;
      const std::string_view digits = s_.substr(int_start, int_end - int_start);
      v->text = (digits == "0" || int_start == start) ? std::string(digits)
                                                      : absl::StrCat("-", std::string(digits));
      return absl::OkStatus();
    }
    // float(text): correctly rounded; overflow gives +-inf, underflow 0.
    const std::string copy(s_.substr(start, pos_ - start));
    v->kind = PyJson::Kind::kFloat;
    v->number = std::strtod(copy.c_str(), nullptr);
    return absl::OkStatus();
  }

  absl::Status Hex4(uint32_t* out) {
    if (pos_ + 4 > s_.size()) return Error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_ + static_cast<size_t>(i)];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return Error("bad \\u escape");
      }
    }
    pos_ += 4;
    *out = v;
    return absl::OkStatus();
  }

  absl::Status String(std::string* out) {
    ++pos_;  // the opening quote
    out->clear();
    while (true) {
      if (pos_ >= s_.size()) return Error("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      if (c < 0x20) return Error("control character in a string");
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) return Error("unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (absl::Status st = Hex4(&cp); !st.ok()) return st;
          // A high surrogate followed by an escaped low one is one character.
          if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
            const size_t save = pos_;
            pos_ += 2;
            uint32_t low = 0;
            if (absl::Status st = Hex4(&low); !st.ok()) return st;
            if (low >= 0xDC00 && low <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              pos_ = save;
            }
          }
          engine::AppendUtf8(cp, out);
          break;
        }
        default:
          --pos_;
          return Error("bad escape in a string");
      }
    }
  }

  absl::Status Array(PyJson* v, int depth) {
    v->kind = PyJson::Kind::kArray;
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return absl::OkStatus();
    }
    while (true) {
      v->items.emplace_back();
      if (absl::Status st = Value(&v->items.back(), depth + 1); !st.ok()) return st;
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return absl::OkStatus();
      }
      return Error("expected ',' or ']'");
    }
  }

  absl::Status Object(PyJson* v, int depth) {
    v->kind = PyJson::Kind::kObject;
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return absl::OkStatus();
    }
    std::unordered_map<std::string, size_t> index;
    while (true) {
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') return Error("expected a property name");
      std::string key;
      if (absl::Status st = String(&key); !st.ok()) return st;
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Error("expected ':'");
      ++pos_;
      PyJson value;
      if (absl::Status st = Value(&value, depth + 1); !st.ok()) return st;
      auto [it, inserted] = index.emplace(key, v->members.size());
      if (inserted) {
        v->members.emplace_back(std::move(key), std::move(value));
      } else {
        v->members[it->second].second = std::move(value);  // a dict: last value, first place
      }
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return absl::OkStatus();
      }
      return Error("expected ',' or '}'");
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

void AppendString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

const PyJson* PyJson::Find(std::string_view key) const {
  if (kind != Kind::kObject) return nullptr;
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

absl::StatusOr<PyJson> ParsePyJson(std::string_view text) { return Parser(text).ParseDocument(); }

std::string PythonFloatRepr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  // The shortest round-trip digits, as "[-]d[.ddd]e[+-]XX".
  char buf[64];
  const std::to_chars_result r =
      std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    i = 1;
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t k = i; k < e_pos; ++k) {
    if (sci[k] != '.') digits.push_back(sci[k]);
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  if (digits == "0") return out + "0.0";
  // Python's float_repr_style 'short': the decimal point sits `decpt`
  // digits into the digit string; fixed notation for -4 < decpt <= 16.
  const int decpt = exponent + 1;
  const int n = static_cast<int>(digits.size());
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0.";
      out.append(static_cast<size_t>(-decpt), '0');
      out += digits;
    } else if (decpt >= n) {
      out += digits;
      out.append(static_cast<size_t>(decpt - n), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt));
      out.push_back('.');
      out += digits.substr(static_cast<size_t>(decpt));
    }
    return out;
  }
  out.push_back(digits[0]);
  if (n > 1) {
    out.push_back('.');
    out += digits.substr(1);
  }
  out.push_back('e');
  out.push_back(exponent < 0 ? '-' : '+');
  const int mag = exponent < 0 ? -exponent : exponent;
  if (mag < 10) out.push_back('0');
  out += std::to_string(mag);
  return out;
}

void AppendPyJsonDumps(const PyJson& value, std::string* out) {
  switch (value.kind) {
    case PyJson::Kind::kNull:
      out->append("null");
      return;
    case PyJson::Kind::kBool:
      out->append(value.boolean ? "true" : "false");
      return;
    case PyJson::Kind::kInt:
      out->append(value.text);
      return;
    case PyJson::Kind::kFloat:
      out->append(PythonFloatRepr(value.number));
      return;
    case PyJson::Kind::kString:
      AppendString(value.text, out);
      return;
    case PyJson::Kind::kArray: {
      out->push_back('[');
      for (size_t i = 0; i < value.items.size(); ++i) {
        if (i > 0) out->append(", ");
        AppendPyJsonDumps(value.items[i], out);
      }
      out->push_back(']');
      return;
    }
    case PyJson::Kind::kObject: {
      out->push_back('{');
      for (size_t i = 0; i < value.members.size(); ++i) {
        if (i > 0) out->append(", ");
        AppendString(value.members[i].first, out);
        out->append(": ");
        AppendPyJsonDumps(value.members[i].second, out);
      }
      out->push_back('}');
      return;
    }
  }
}

std::string PyJsonDumps(const PyJson& value) {
  std::string out;
  AppendPyJsonDumps(value, &out);
  return out;
}

}  // namespace inferd::loadtest
