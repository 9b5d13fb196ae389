// engine/tokenizer/byte_level.cc — see byte_level.h.
#include "engine/tokenizer/byte_level.h"

#include <array>

#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

namespace {

constexpr int kMaxCodePoint = 256 + 68;

struct ByteLevelTables {
  std::array<std::string, 256> byte_to_chars;
  std::array<int16_t, kMaxCodePoint> char_to_byte;  // -1: not a byte-level char

  ByteLevelTables() {
    char_to_byte.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      const int cp = printable ? b : next++;
      AppendUtf8(static_cast<uint32_t>(cp), &byte_to_chars[b]);
      char_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTables& Tables() {
  static const ByteLevelTables* const tables = new ByteLevelTables();
  return *tables;
}

}  // namespace

void BytesToByteLevel(std::string_view bytes, std::string* out) {
  const ByteLevelTables& t = Tables();
  for (char c : bytes) out->append(t.byte_to_chars[static_cast<uint8_t>(c)]);
}

bool ByteLevelToBytes(std::string_view chars, std::string* out) {
  const ByteLevelTables& t = Tables();
  const size_t start = out->size();
  for (size_t i = 0; i < chars.size();) {
    size_t len = 0;
    const int32_t cp = DecodeUtf8(chars, i, &len);
    if (cp < 0 || cp >= kMaxCodePoint || t.char_to_byte[cp] < 0) {
      out->resize(start);
      return false;
    }
    out->push_back(static_cast<char>(t.char_to_byte[cp]));
    i += len;
  }
  return true;
}

}  // namespace inferd::engine
