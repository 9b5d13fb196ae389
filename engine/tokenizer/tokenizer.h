// engine/tokenizer/tokenizer.h — text <-> token ids for a model directory.
//
// Implementations: HF tokenizer.json (sentencepiece-style BPE with byte
// fallback + metaspace, and GPT-2 style byte-level BPE with a regex
// pre-tokenizer) and sentencepiece tokenizer.model. A Tokenizer is immutable
// after loading and safe to use from several threads at once.
#ifndef INFERD_ENGINE_TOKENIZER_TOKENIZER_H_
#define INFERD_ENGINE_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

// Largest tokenizer file accepted: tokenizer.json (a 256k vocabulary's is
// about 35 MiB), tokenizer.model, tokenizer_config.json.
inline constexpr int64_t kMaxTokenizerFileBytes = int64_t{512} << 20;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads the tokenizer of a HF model directory: tokenizer.json if present,
  // else tokenizer.model; tokenizer_config.json (add_bos_token, add_eos_token,
  // bos/eos tokens) when present. Errors name the file and the problem.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromDirectory(const std::string& dir);
  // Loads one file: *.json as HF tokenizer.json, anything else as a
  // sentencepiece ModelProto. `config_json` may name a tokenizer_config.json
  // (empty: none).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path,
                                                             const std::string& config_json = "");

  // Encodes text. With add_special_tokens, adds BOS (and EOS) as the
  // tokenizer config says (HF `add_special_tokens=True` semantics).
  // Special/added tokens written literally in the text are matched as the
  // HF tokenizer.json does. Never fails on any byte string (invalid UTF-8
  // goes through byte fallback / byte-level bytes).
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const = 0;

  // Decodes ids to text as HF `decode(ids, skip_special_tokens)` does
  // (sentencepiece: the leading space of the first piece is stripped).
  // Ids out of range are skipped.
  virtual std::string Decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const = 0;

  // The raw bytes a token contributes in the middle of a text (metaspace
  // turned into ' ', byte-fallback tokens into their byte, byte-level
  // characters into their bytes). Special tokens give their content.
  virtual std::string TokenBytes(int32_t id) const = 0;
  // The piece string as stored in the vocabulary ("▁the", "<0x0A>", "Ġthe").
  virtual std::string IdToPiece(int32_t id) const = 0;
  // -1 when absent.
  virtual int32_t PieceToId(std::string_view piece) const = 0;
  virtual bool IsSpecial(int32_t id) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when the tokenizer has none
  virtual int32_t eos_id() const = 0;  // -1 when the tokenizer has none
  virtual bool adds_bos() const = 0;   // Encode(text, true) starts with BOS
  // True when decoding strips one leading space from the first token's text
  // (sentencepiece / metaspace "add dummy prefix"); the incremental
  // detokenizer needs this to reproduce Decode() exactly.
  virtual bool strips_leading_space() const = 0;
  // How Decode shows bytes that are not valid UTF-8 (byte-fallback tokens
  // that do not form a character, byte-level tokens split mid-character).
  // Decode(ids) is always: TokenBytes of the kept ids concatenated, one
  // leading space stripped when strips_leading_space(), then repaired per
  // this policy; IncrementalDetokenizer relies on that.
  virtual InvalidUtf8 invalid_utf8() const { return InvalidUtf8::kReplacePerByte; }
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_TOKENIZER_H_
