// tests/fuzz/sentencepiece_model_fuzz.cc — tokenizer.model bytes through the
// repo's own protobuf wire reader (ParseModelProto) and on to a sentencepiece
// Tokenizer: an error Status, never a crash; a tokenizer that loads must
// encode and decode anything.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/tokenizer/sentencepiece_proto.h"
#include "engine/tokenizer/sentencepiece_tokenizer.h"
#include "tests/fuzz/tokenizer_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (!inferd::engine::ParseModelProto(bytes, "fuzz/tokenizer.model").ok()) return 0;
  auto tok =
      inferd::engine::SentencePieceTokenizerFromBytes(bytes, "fuzz/tokenizer.model", nullptr);
  if (tok.ok()) inferd::fuzz::ExerciseLoaded(**tok);
  return 0;
}
