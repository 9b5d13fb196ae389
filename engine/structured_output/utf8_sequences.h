// engine/structured_output/utf8_sequences.h — the well-formed UTF-8 byte
// sequences of the non-ASCII code points (Unicode Table 3-7), as byte-range
// rows, and a decoder over them.
//
// Grammar core only. The token trie marks the subtrees whose tokens are
// whole characters by this table, and the mask walk checks that a grammar
// state reads every row back to itself; both use the same rows, so the
// walk's shortcut is exact.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_UTF8_SEQUENCES_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_UTF8_SEQUENCES_H_

#include <cstdint>

namespace inferd::engine {

struct Utf8Row {
  int len;  // 2..4 bytes
  uint8_t lo[4];
  uint8_t hi[4];
};

inline constexpr Utf8Row kUtf8Rows[] = {
    {2, {0xC2, 0x80}, {0xDF, 0xBF}},
    {3, {0xE0, 0xA0, 0x80}, {0xE0, 0xBF, 0xBF}},
    {3, {0xE1, 0x80, 0x80}, {0xEC, 0xBF, 0xBF}},
    {3, {0xED, 0x80, 0x80}, {0xED, 0x9F, 0xBF}},  // no surrogates
    {3, {0xEE, 0x80, 0x80}, {0xEF, 0xBF, 0xBF}},
    {4, {0xF0, 0x90, 0x80, 0x80}, {0xF0, 0xBF, 0xBF, 0xBF}},
    {4, {0xF1, 0x80, 0x80, 0x80}, {0xF3, 0xBF, 0xBF, 0xBF}},
    {4, {0xF4, 0x80, 0x80, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}},
};
inline constexpr int kNumUtf8Rows = sizeof(kUtf8Rows) / sizeof(kUtf8Rows[0]);

// Decoder state: kUtf8Boundary between characters, kUtf8Invalid after a
// byte no row allows, else row * 4 + (bytes of the row read so far).
inline constexpr int kUtf8Boundary = 0;
inline constexpr int kUtf8Invalid = -1;

inline int Utf8Feed(int state, uint8_t b) {
  if (state == kUtf8Invalid) return kUtf8Invalid;
  if (state == kUtf8Boundary) {
    if (b < 0x80) return kUtf8Boundary;
    for (int r = 0; r < kNumUtf8Rows; ++r) {
      if (b >= kUtf8Rows[r].lo[0] && b <= kUtf8Rows[r].hi[0]) return r * 4 + 1;
    }
    return kUtf8Invalid;
  }
  const int r = state / 4;
  const int pos = state % 4;
  const Utf8Row& row = kUtf8Rows[r];
  if (b < row.lo[pos] || b > row.hi[pos]) return kUtf8Invalid;
  return pos + 1 == row.len ? kUtf8Boundary : r * 4 + pos + 1;
}

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_UTF8_SEQUENCES_H_
