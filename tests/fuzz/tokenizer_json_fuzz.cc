// tests/fuzz/tokenizer_json_fuzz.cc — HF tokenizer.json loading
// (HfTokenizerFromText: the streaming vocab/merges reader, normalizers,
// pre-tokenizers with their regexes, added tokens, decoders, post-processor)
// on arbitrary bytes: an error Status, never a crash; a tokenizer that loads
// must encode and decode anything.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/tokenizer/hf_tokenizer.h"
#include "tests/fuzz/tokenizer_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto tok = inferd::engine::HfTokenizerFromText(std::move(text), "fuzz/tokenizer.json", nullptr);
  if (tok.ok()) inferd::fuzz::ExerciseLoaded(**tok);
  return 0;
}
