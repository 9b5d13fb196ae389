// tests/unit/structured_output/byte_language.h — a GBNF grammar compiled
// against a one-byte-per-token vocabulary, which turns the matcher into a
// recognizer of byte strings: the converter tests check languages (what is
// accepted and rejected), not the GBNF text.
#ifndef INFERD_TESTS_UNIT_STRUCTURED_OUTPUT_BYTE_LANGUAGE_H_
#define INFERD_TESTS_UNIT_STRUCTURED_OUTPUT_BYTE_LANGUAGE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/grammar_matcher.h"
#include "engine/structured_output/token_vocabulary.h"

namespace inferd::engine {

class ByteLanguage {
 public:
  static absl::StatusOr<ByteLanguage> Compile(std::string_view gbnf) {
    static const std::shared_ptr<const TokenVocabulary> vocab = [] {
      std::vector<std::string> bytes;
      std::vector<bool> special;
      for (int i = 0; i < 256; ++i) {
        bytes.emplace_back(1, static_cast<char>(i));
        special.push_back(false);
      }
      bytes.emplace_back("");  // EOS
      special.push_back(true);
      return TokenVocabulary::FromBytes(bytes, special, {256});
    }();
    absl::StatusOr<std::shared_ptr<const CompiledGrammar>> g = CompileGbnf(gbnf, vocab);
    if (!g.ok()) return g.status();
    return ByteLanguage(*std::move(g));
  }

  // The whole of `text` is a sentence of the language.
  bool Accepts(std::string_view text) const {
    GrammarMatcher m(grammar_);
    for (unsigned char c : text) {
      if (!m.AcceptToken(c)) return false;
    }
    return m.CanTerminate();
  }

 private:
  explicit ByteLanguage(std::shared_ptr<const CompiledGrammar> g) : grammar_(std::move(g)) {}
  std::shared_ptr<const CompiledGrammar> grammar_;
};

}  // namespace inferd::engine

#endif  // INFERD_TESTS_UNIT_STRUCTURED_OUTPUT_BYTE_LANGUAGE_H_
