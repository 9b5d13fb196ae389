// engine/tokenizer/decode_bytes.cc — see decode_bytes.h.
#include "engine/tokenizer/decode_bytes.h"

namespace inferd::engine {

bool DecodeSkips(const Tokenizer& tokenizer, int32_t id, bool skip_special_tokens) {
  if (id < 0 || id >= tokenizer.vocab_size()) return true;
  return skip_special_tokens && tokenizer.IsSpecial(id);
}

std::string DecodeFromTokenBytes(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                                 bool skip_special_tokens) {
  std::string bytes;
  for (int32_t id : ids) {
    if (!DecodeSkips(tokenizer, id, skip_special_tokens)) bytes += tokenizer.TokenBytes(id);
  }
  std::string_view view = bytes;
  if (tokenizer.strips_leading_space() && !view.empty() && view[0] == ' ') view.remove_prefix(1);
  std::string out;
  out.reserve(view.size());
  RepairUtf8(view, tokenizer.invalid_utf8(), /*final=*/true, &out);
  return out;
}

}  // namespace inferd::engine
