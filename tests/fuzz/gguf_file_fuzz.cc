// tests/fuzz/gguf_file_fuzz.cc — ParseGguf on arbitrary bytes: an error
// Status, never a crash, a hang or an allocation the input cannot justify;
// every accepted tensor lies inside the file, aligned, with the byte size
// its type and dims imply.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "engine/model/gguf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto contents = inferd::engine::ParseGguf(data, size, "fuzz.gguf");
  if (!contents.ok()) return 0;
  if (contents->data_offset % contents->alignment != 0) abort();
  for (const auto& t : contents->tensors) {
    if (t.offset % contents->alignment != 0) abort();
    if (contents->data_offset + t.offset + t.nbytes > size) abort();
    const int64_t block = inferd::engine::GgmlBlockElements(t.type);
    if (t.numel % block != 0 ||
        static_cast<uint64_t>(t.numel / block * inferd::engine::GgmlBlockBytes(t.type)) !=
            t.nbytes) {
      abort();
    }
  }
  return 0;
}
