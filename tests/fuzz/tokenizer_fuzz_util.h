// tests/fuzz/tokenizer_fuzz_util.h — what the tokenizer fuzz targets do with
// a tokenizer they managed to load: every public call on a few texts and on
// the ids around the vocabulary's edges; ids out of range must be skipped,
// never read.
#ifndef INFERD_TESTS_FUZZ_TOKENIZER_FUZZ_UTIL_H_
#define INFERD_TESTS_FUZZ_TOKENIZER_FUZZ_UTIL_H_

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/detokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace inferd::fuzz {

// Aborts (a crash libFuzzer keeps) unless every id is in [0, vocab_size).
inline void CheckIds(const engine::Tokenizer& tok, const std::vector<int32_t>& ids) {
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.vocab_size()) abort();
  }
}

inline void Exercise(const engine::Tokenizer& tok, std::string_view text) {
  for (bool special : {false, true}) {
    std::vector<int32_t> ids = tok.Encode(text, special);
    CheckIds(tok, ids);
    (void)tok.Decode(ids, special);
    engine::IncrementalDetokenizer detok(&tok, {}, special);
    for (int32_t id : ids) (void)detok.Push(id);
    (void)detok.Flush();
  }
}

inline void ExerciseLoaded(const engine::Tokenizer& tok) {
  for (std::string_view text : {std::string_view(""), std::string_view("Hello world"),
                                std::string_view(" a  b\n\t<s></s><unk>\xff\xc3"),
                                std::string_view("\xe2\x96\x81x <0x0A> \xc4\xa0")}) {
    Exercise(tok, text);
  }
  const int32_t n = tok.vocab_size();
  std::vector<int32_t> ids = {-1, 0, 1, n - 1, n, n + 1, tok.bos_id(), tok.eos_id()};
  (void)tok.Decode(ids, false);
  (void)tok.Decode(ids, true);
  for (int32_t id : ids) {
    (void)tok.TokenBytes(id);
    (void)tok.IsSpecial(id);
    const std::string piece = tok.IdToPiece(id);
    (void)tok.PieceToId(piece);
  }
}

}  // namespace inferd::fuzz

#endif  // INFERD_TESTS_FUZZ_TOKENIZER_FUZZ_UTIL_H_
