// tests/fuzz/gbnf_fuzz.cc — CompileGbnf on arbitrary bytes with a small
// vocabulary: an INVALID_ARGUMENT Status or a grammar, never a crash or a
// hang (tight limits). An accepted grammar is walked a few steps: mask,
// accept an allowed token, roll back; the mask never allows a token the
// matcher then refuses.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/grammar_matcher.h"
#include "engine/structured_output/token_vocabulary.h"

namespace {

std::shared_ptr<const inferd::engine::TokenVocabulary> Vocab() {
  static auto* v = [] {
    std::vector<std::string> bytes = {"a",        "b",   "ab",   "{",    "}",    "\"",
                                      " ",        "\n",  "0",    "12",   "\xC3", "\xA9",
                                      "\xC3\xA9", "x\"", "true", "<eos>"};
    std::vector<bool> special(bytes.size(), false);
    special.back() = true;
    auto eos = static_cast<int32_t>(bytes.size()) - 1;
    return new std::shared_ptr<const inferd::engine::TokenVocabulary>(
        inferd::engine::TokenVocabulary::FromBytes(bytes, special, {eos}));
  }();
  return *v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  inferd::engine::GrammarLimits limits;
  limits.compile_timeout = absl::Seconds(1);
  limits.max_states = 20000;
  limits.max_grammar_bytes = 1 << 16;
  auto grammar = inferd::engine::CompileGbnf(text, Vocab(), limits);
  if (!grammar.ok()) {
    if (grammar.status().code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  inferd::engine::GrammarMatcher m(*grammar);
  const auto& v = *Vocab();
  std::vector<uint32_t> mask(static_cast<size_t>(v.bitmask_words()));
  for (int step = 0; step < 6; ++step) {
    m.FillNextTokenBitmask(mask.data());
    int32_t pick = -1;
    for (int32_t id = 0; id < v.size(); ++id) {
      bool bit = (mask[static_cast<size_t>(id) / 32] >> (id % 32)) & 1;
      if (bit != m.IsTokenAllowed(id)) __builtin_trap();
      if (bit && (pick < 0 || (size + static_cast<size_t>(step + id)) % 3 == 0)) pick = id;
    }
    if (pick < 0) __builtin_trap();  // never all-zero while not terminated
    if (!m.AcceptToken(pick)) __builtin_trap();
    if (m.IsTerminated()) break;
  }
  if (m.num_accepted_tokens() > 0) m.Rollback(1);
  return 0;
}
