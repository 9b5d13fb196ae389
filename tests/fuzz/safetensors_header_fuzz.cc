// tests/fuzz/safetensors_header_fuzz.cc — SafetensorsFile::ParseHeader on
// arbitrary bytes: an error Status, never a crash, and every accepted tensor
// lies inside the data section.
//
// Each input is parsed twice: as a whole file, and as the start of a file
// whose data section is followed by 16 MiB of zeros, so that headers copied
// from real checkpoints (tests/fuzz/make_seeds.py keeps only 8-byte length +
// JSON) reach the accepting path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/model/safetensors.h"

namespace {

constexpr size_t kPadding = size_t{16} << 20;
constexpr size_t kMaxPaddedInput = size_t{1} << 20;

void Check(const uint8_t* bytes, size_t size) {
  auto tensors = inferd::engine::SafetensorsFile::ParseHeader(bytes, size, "fuzz.safetensors");
  if (!tensors.ok()) return;
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  const uint64_t data_size = size - 8 - header_len;
  for (const auto& [name, info] : *tensors) {
    if (info.begin > info.end || info.end > data_size) abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check(data, size);
  if (size <= kMaxPaddedInput) {
    // Zeros everywhere but the input's own bytes, which are cleared again
    // afterwards: every run sees the same buffer.
    static std::vector<uint8_t>* buffer = new std::vector<uint8_t>(kMaxPaddedInput + kPadding);
    if (size > 0) std::memcpy(buffer->data(), data, size);
    Check(buffer->data(), size + kPadding);
    if (size > 0) std::memset(buffer->data(), 0, size);
  }
  return 0;
}
