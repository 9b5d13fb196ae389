// engine/structured_output/gbnf_writer.cc — see gbnf_writer.h.
#include "engine/structured_output/gbnf_writer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace inferd::engine::gbnf {

bool DecodeUtf8(std::string_view s, size_t* pos, uint32_t* cp) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  size_t i = *pos;
  if (i >= s.size()) return false;
  const uint8_t b0 = byte(i);
  int len = 0;
  uint32_t v = 0;
  if (b0 < 0x80) {
    len = 1;
    v = b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    v = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    v = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    v = b0 & 0x07;
  } else {
    return false;
  }
  if (i + static_cast<size_t>(len) > s.size()) return false;
  for (int k = 1; k < len; ++k) {
    const uint8_t b = byte(i + static_cast<size_t>(k));
    if ((b & 0xC0) != 0x80) return false;
    v = (v << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[len] || v > kMaxCodepoint || (v >= 0xD800 && v <= 0xDFFF)) return false;
  *pos = i + static_cast<size_t>(len);
  *cp = v;
  return true;
}

namespace {

// One code point inside "..." (in_class false) or [...] (in_class true).
void AppendEscaped(uint32_t cp, bool in_class, std::string* out) {
  switch (cp) {
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
    case '\\':
      *out += "\\\\";
      return;
    case '"':
      *out += "\\\"";
      return;
    default:
      break;
  }
  if (in_class && (cp == ']' || cp == '^' || cp == '-' || cp == '[')) {
    out->push_back('\\');
    out->push_back(static_cast<char>(cp));
    return;
  }
  if (cp < 0x20 || cp == 0x7F) {
    absl::StrAppendFormat(out, "\\x%02X", cp);
    return;
  }
  if (cp >= 0xD800 && cp <= 0xDFFF) {  // not encodable as UTF-8; spelled out
    absl::StrAppendFormat(out, "\\u%04X", cp);
    return;
  }
  AppendUtf8(cp, out);
}

}  // namespace

std::string Literal(std::string_view text) {
  std::string out = "\"";
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t cp = 0;
    if (!DecodeUtf8(text, &pos, &cp)) {  // callers pass valid UTF-8; keep the byte
      absl::StrAppendFormat(&out, "\\x%02X", static_cast<uint8_t>(text[pos]));
      ++pos;
      continue;
    }
    AppendEscaped(cp, /*in_class=*/false, &out);
  }
  out += "\"";
  return out;
}

CodepointSet CodepointSet::Range(uint32_t lo, uint32_t hi) {
  CodepointSet s;
  s.Add(lo, hi);
  return s;
}

void CodepointSet::Add(uint32_t lo, uint32_t hi) {
  if (lo > hi) return;
  hi = std::min(hi, kMaxCodepoint);
  std::vector<std::pair<uint32_t, uint32_t>> out;
  out.reserve(ranges_.size() + 1);
  bool placed = false;
  for (const auto& r : ranges_) {
    if (r.second + 1 < lo) {
      out.push_back(r);
    } else if (hi + 1 < r.first) {
      if (!placed) {
        out.emplace_back(lo, hi);
        placed = true;
      }
      out.push_back(r);
    } else {
      lo = std::min(lo, r.first);
      hi = std::max(hi, r.second);
    }
  }
  if (!placed) out.emplace_back(lo, hi);
  std::sort(out.begin(), out.end());
  ranges_ = std::move(out);
}

void CodepointSet::AddSet(const CodepointSet& other) {
  for (const auto& r : other.ranges_) Add(r.first, r.second);
}

CodepointSet CodepointSet::Complement() const {
  CodepointSet s;
  uint32_t next = 0;
  for (const auto& r : ranges_) {
    if (r.first > next) s.ranges_.emplace_back(next, r.first - 1);
    next = r.second + 1;
  }
  if (next <= kMaxCodepoint) s.ranges_.emplace_back(next, kMaxCodepoint);
  return s;
}

CodepointSet CodepointSet::Intersect(const CodepointSet& other) const {
  CodepointSet either = Complement();
  either.AddSet(other.Complement());
  return either.Complement();
}

CodepointSet CodepointSet::Minus(const CodepointSet& other) const {
  return Intersect(other.Complement());
}

bool CodepointSet::Contains(uint32_t cp) const {
  for (const auto& r : ranges_) {
    if (cp >= r.first && cp <= r.second) return true;
  }
  return false;
}

uint64_t CodepointSet::Count() const {
  uint64_t n = 0;
  for (const auto& r : ranges_) n += r.second - r.first + 1;
  return n;
}

std::string CodepointSet::ToGbnf() const {
  if (ranges_.size() == 1 && ranges_[0].first == ranges_[0].second) {
    std::string one;
    AppendEscaped(ranges_[0].first, /*in_class=*/false, &one);
    return "\"" + one + "\"";
  }
  const auto render = [](const std::vector<std::pair<uint32_t, uint32_t>>& ranges, bool negated) {
    std::string out = negated ? "[^" : "[";
    for (const auto& [lo, hi] : ranges) {
      AppendEscaped(lo, /*in_class=*/true, &out);
      if (hi != lo) {
        if (hi > lo + 1) out += "-";
        AppendEscaped(hi, /*in_class=*/true, &out);
      }
    }
    return out + "]";
  };
  // Surrogates are no code points of UTF-8 text: either side may include
  // them, whichever renders shorter; the engine rejects them as endpoints.
  const CodepointSet surrogates = Range(0xD800, 0xDFFF);
  const CodepointSet complement = Complement().Minus(surrogates);
  if (complement.empty()) return ".";
  CodepointSet filled = *this;
  if (Contains(0xD7FF) && Contains(0xE000)) filled.Add(0xD800, 0xDFFF);
  if (complement.ranges_.size() < filled.ranges_.size()) {
    return render(complement.ranges_, /*negated=*/true);
  }
  return render(filled.ranges_, /*negated=*/false);
}

std::string RuleSet::FreshName(std::string_view hint) {
  std::string base;
  for (char c : hint) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    base.push_back(ok ? c : '-');
    if (base.size() >= 40) break;
  }
  if (base.empty()) base = "r";
  int& next = used_names_[base];
  std::string name = base;
  while (taken_.count(name) != 0) name = absl::StrCat(base, "-", ++next);
  taken_.insert(name);
  return name;
}

std::string RuleSet::Add(std::string_view name_hint, std::string body) {
  auto it = by_body_.find(body);
  if (it != by_body_.end()) return it->second;
  std::string name = FreshName(name_hint);
  bytes_ += static_cast<int64_t>(name.size() + body.size() + 6);
  by_body_.emplace(body, name);
  rules_.emplace_back(name, std::move(body));
  return name;
}

std::string RuleSet::Reserve(std::string_view name_hint) { return FreshName(name_hint); }

void RuleSet::Define(const std::string& name, std::string body) {
  bytes_ += static_cast<int64_t>(name.size() + body.size() + 6);
  by_body_.emplace(body, name);
  rules_.emplace_back(name, std::move(body));
}

absl::Status RuleSet::CheckSize() const {
  if (bytes_ > kMaxGbnfBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the grammar for this constraint would exceed ", kMaxGbnfBytes, " bytes"));
  }
  return absl::OkStatus();
}

std::string RuleSet::Render() const {
  std::string out;
  out.reserve(static_cast<size_t>(bytes_));
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [name, body] : rules_) {
      if ((name == "root") != (pass == 0)) continue;
      absl::StrAppend(&out, name, " ::= ", body, "\n");
    }
  }
  return out;
}

}  // namespace inferd::engine::gbnf
