// engine/tokenizer/sentencepiece_model.h — a thin wrapper over
// libsentencepiece's SentencePieceProcessor with std types only.
//
// Why a wrapper: sentencepiece_processor.h declares `absl::string_view` as
// std::string_view, while Debian's abseil defines its own absl::string_view
// class; the two cannot meet in one translation unit. sentencepiece_model.cc
// includes sentencepiece and no abseil header; everything else includes
// this header. Thread-safe after Load (sentencepiece's Encode is const).
#ifndef INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_MODEL_H_
#define INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_MODEL_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace inferd::engine {

class SentencePieceModel {
 public:
  // Parses a serialized ModelProto; on failure returns null and sets *error
  // to sentencepiece's message.
  static std::unique_ptr<SentencePieceModel> Load(const std::string& serialized,
                                                  std::string* error);
  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  // False when sentencepiece reports an error (ids then empty).
  bool Encode(std::string_view text, std::vector<int>* ids) const;
  // The pieces of `text` (used to probe the normaliser's dummy prefix).
  std::vector<std::string> EncodeAsPieces(std::string_view text) const;

  int size() const;
  std::string IdToPiece(int id) const;
  bool IsByte(int id) const;
  bool IsControl(int id) const;
  bool IsUnknown(int id) const;
  int bos_id() const;  // -1 when the model has none
  int eos_id() const;

 private:
  struct Impl;
  explicit SentencePieceModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_MODEL_H_
