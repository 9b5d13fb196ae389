// engine/tokenizer/bpe_model.h — the "model" of tokenizer.json when it is
// BPE: vocabulary, merges by rank, unknown token, byte fallback
// (<0xXX> pieces), fuse_unk, ignore_merges, continuing_subword_prefix and
// end_of_word_suffix, as HF tokenizers' BPE model. Immutable after loading;
// thread-safe (no cache).
#ifndef INFERD_ENGINE_TOKENIZER_BPE_MODEL_H_
#define INFERD_ENGINE_TOKENIZER_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/json_fields.h"
#include "engine/tokenizer/bpe_merge.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace inferd::engine {

class BpeModel {
 public:
  // `model` is the "model" object (its options: unk_token, byte_fallback,
  // ...); `tables` its vocab and merges. Errors name `where` and the problem
  // (wrong types, ids out of range, merges naming unknown tokens).
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(const Json& model, BpeTables tables,
                                                          const std::string& where);

  // Appends the ids of one pre-token. Characters that are neither in the
  // vocabulary nor coverable by byte fallback become the unknown token, or
  // are dropped when the model has none.
  void Tokenize(std::string_view word, std::vector<int32_t>* out) const;

  int32_t PieceToId(std::string_view piece) const;  // -1 when absent
  // The piece of `id`, or nullptr when no piece has that id.
  const std::string* IdToPiece(int32_t id) const;
  // Largest id + 1.
  int32_t size() const { return static_cast<int32_t>(pieces_.size()); }
  bool byte_fallback() const { return byte_fallback_; }

 private:
  BpeModel() = default;
  absl::Status LoadVocab(std::vector<std::pair<std::string, int64_t>> vocab,
                         const std::string& where);
  absl::Status LoadMerges(const std::vector<std::pair<std::string, std::string>>& merges,
                          const std::string& where);

  absl::flat_hash_map<std::string, int32_t> vocab_;
  std::vector<std::string> pieces_;  // by id; "" where no piece has the id
  std::vector<bool> has_piece_;
  BpeMergeMap merges_;
  std::array<int32_t, 256> byte_ids_{};  // <0xXX> ids, -1 when absent
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::string prefix_;  // continuing_subword_prefix
  std::string suffix_;  // end_of_word_suffix
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_BPE_MODEL_H_
