// engine/tokenizer/utf8.cc — see utf8.h. Validity follows Unicode Table 3-7
// (no overlong forms, no surrogates, nothing above U+10FFFF).
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

namespace {

enum class Probe { kValid, kInvalid, kIncomplete };

struct ProbeResult {
  Probe kind;
  // kValid: the character's length. kInvalid: the length of the maximal
  // subpart (a valid prefix that could not be completed; at least 1).
  // kIncomplete: the bytes left in the input (a valid prefix of a character).
  size_t len;
};

// Sequence length announced by a lead byte; 0 for bytes that never start one.
size_t SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Allowed range of the byte right after `lead`.
void SecondByteRange(uint8_t lead, uint8_t* lo, uint8_t* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (lead == 0xE0) *lo = 0xA0;
  if (lead == 0xED) *hi = 0x9F;
  if (lead == 0xF0) *lo = 0x90;
  if (lead == 0xF4) *hi = 0x8F;
}

ProbeResult ProbeAt(std::string_view s, size_t i) {
  const auto lead = static_cast<uint8_t>(s[i]);
  const size_t n = SequenceLength(lead);
  if (n == 0) return {Probe::kInvalid, 1};
  if (n == 1) return {Probe::kValid, 1};
  for (size_t k = 1; k < n; ++k) {
    if (i + k >= s.size()) return {Probe::kIncomplete, k};
    const auto b = static_cast<uint8_t>(s[i + k]);
    uint8_t lo = 0x80;
    uint8_t hi = 0xBF;
    if (k == 1) SecondByteRange(lead, &lo, &hi);
    if (b < lo || b > hi) return {Probe::kInvalid, k};
  }
  return {Probe::kValid, n};
}

}  // namespace

size_t Utf8CharLen(std::string_view s, size_t i) {
  const ProbeResult r = ProbeAt(s, i);
  return r.kind == Probe::kValid ? r.len : 1;
}

int32_t DecodeUtf8(std::string_view s, size_t i, size_t* len) {
  const ProbeResult r = ProbeAt(s, i);
  if (r.kind != Probe::kValid) {
    *len = 1;
    return -1;
  }
  *len = r.len;
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (r.len == 1) return b0;
  int32_t cp = b0 & (0x7F >> r.len);
  for (size_t k = 1; k < r.len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  return cp;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const ProbeResult r = ProbeAt(s, i);
    if (r.kind != Probe::kValid) return false;
    i += r.len;
  }
  return true;
}

bool IsUnicodeWhitespace(int32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

size_t RepairUtf8(std::string_view in, InvalidUtf8 policy, bool final, std::string* out) {
  size_t i = 0;
  while (i < in.size()) {
    // Copy a run of ASCII at once: the common case.
    size_t j = i;
    while (j < in.size() && static_cast<uint8_t>(in[j]) < 0x80) ++j;
    if (j > i) {
      out->append(in.data() + i, j - i);
      i = j;
      continue;
    }
    const ProbeResult r = ProbeAt(in, i);
    if (r.kind == Probe::kValid) {
      out->append(in.data() + i, r.len);
      i += r.len;
      continue;
    }
    if (r.kind == Probe::kIncomplete && !final) break;
    // Invalid here, or incomplete at the very end of the text.
    out->append(kReplacementChar);
    i += policy == InvalidUtf8::kReplacePerByte ? 1 : r.len;
  }
  return i;
}

}  // namespace inferd::engine
