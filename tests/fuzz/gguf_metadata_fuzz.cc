// tests/fuzz/gguf_metadata_fuzz.cc — a GGUF file's metadata read as a model
// on arbitrary bytes: ModelConfigFromGguf, GenerationConfigFromGguf and
// TokenizerFromGguf (sentencepiece "llama" and byte-level "gpt2", whose
// metadata is rebuilt into a tokenizer.json), then an encode and a decode
// with the tokenizer accepted. An error Status, never a crash or a hang.
// The bytes go through a memfd because GgufFile maps a file.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/gguf_tokenizer.h"
#include "engine/model/gguf_config.h"
#include "engine/model/gguf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("gguf_metadata_fuzz", 0);
  if (fd < 0) abort();
  if (ftruncate(fd, 0) != 0) abort();
  if (size > 0 && pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) abort();
  auto file = inferd::engine::GgufFile::Open("/proc/self/fd/" + std::to_string(fd));
  if (!file.ok()) return 0;
  (void)inferd::engine::ModelConfigFromGguf(**file);
  (void)inferd::engine::GenerationConfigFromGguf(**file);
  auto tokenizer = inferd::engine::TokenizerFromGguf(**file);
  if (!tokenizer.ok()) return 0;
  const auto ids = (*tokenizer)->Encode("Hello world 123 <|begin|> \xC3\xA9\xFF", true);
  (void)(*tokenizer)->Decode(ids, false);
  return 0;
}
