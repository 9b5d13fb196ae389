// engine/tokenizer/detokenizer.cc — see detokenizer.h.
//
// Decode(ids) is TokenBytes concatenated, one leading space stripped, then
// UTF-8 repaired (decode_bytes.h); the repair only decides about bytes once
// they are complete or provably invalid. So streaming keeps just the bytes
// of a possibly incomplete character (at most 3) and repairs the rest at
// once: the deltas add up to exactly what Decode gives.
#include "engine/tokenizer/detokenizer.h"

#include "engine/tokenizer/decode_bytes.h"

namespace inferd::engine {

namespace {

// The prompt's bytes kept to find an incomplete character at its end.
constexpr size_t kTailBytes = 8;

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer* tokenizer,
                                               const std::vector<int32_t>& prompt_ids,
                                               bool skip_special_tokens)
    : tokenizer_(tokenizer),
      skip_special_tokens_(skip_special_tokens),
      at_start_(true),
      policy_(tokenizer->invalid_utf8()),
      strip_space_(tokenizer->strips_leading_space()) {
  std::string tail;
  for (int32_t id : prompt_ids) {
    std::string bytes = Bytes(id);
    if (bytes.empty()) continue;
    tail += bytes;
    if (tail.size() > 2 * kTailBytes) tail.erase(0, tail.size() - kTailBytes);
  }
  // A prompt ending inside a character: its bytes wait for the rest, which
  // the output completes (the character is then part of the first delta).
  std::string ignored;
  const size_t consumed = RepairUtf8(tail, policy_, /*final=*/false, &ignored);
  pending_ = tail.substr(consumed);
}

std::string IncrementalDetokenizer::Bytes(int32_t id) {
  if (DecodeSkips(*tokenizer_, id, skip_special_tokens_)) return "";
  std::string bytes = tokenizer_->TokenBytes(id);
  if (at_start_ && !bytes.empty()) {
    at_start_ = false;
    if (strip_space_ && bytes[0] == ' ') bytes.erase(0, 1);
  }
  return bytes;
}

std::string IncrementalDetokenizer::Push(int32_t id) {
  std::string bytes = Bytes(id);
  if (bytes.empty()) return "";
  pending_ += bytes;
  std::string out;
  const size_t consumed = RepairUtf8(pending_, policy_, /*final=*/false, &out);
  pending_.erase(0, consumed);
  return out;
}

std::string IncrementalDetokenizer::Flush() {
  std::string out;
  RepairUtf8(pending_, policy_, /*final=*/true, &out);
  pending_.clear();
  return out;
}

}  // namespace inferd::engine
