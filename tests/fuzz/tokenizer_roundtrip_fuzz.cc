// tests/fuzz/tokenizer_roundtrip_fuzz.cc — Encode/Decode/incremental
// detokenizing of arbitrary bytes with real tokenizers, loaded once: the
// embedded models/stories260K (tokenizer.json: sentencepiece-style BPE with
// byte fallback; tokenizer.model: sentencepiece) and, when ../shared (or
// $INFERD_SHARED_DIR) is there, llama3's byte-level BPE.
//
// The first input byte picks the tokenizer, the rest is the text. Ids must be
// in range; ids read back from the input bytes must decode without reading
// outside the vocabulary; the byte-level tokenizer, which has no normalizer,
// must give the text back exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "tests/fuzz/tokenizer_fuzz_util.h"

namespace {

struct Loaded {
  std::unique_ptr<inferd::engine::Tokenizer> tok;
  bool byte_level = false;
};

std::vector<Loaded>* LoadAll() {
  auto* all = new std::vector<Loaded>();
  const std::string embedded = INFERD_SOURCE_DIR "/models/stories260K";
  for (const char* file : {"/tokenizer.json", "/tokenizer.model"}) {
    auto tok =
        inferd::engine::Tokenizer::FromFile(embedded + file, embedded + "/tokenizer_config.json");
    if (!tok.ok()) abort();  // the embedded model must load
    all->push_back({*std::move(tok), false});
  }
  const char* env = std::getenv("INFERD_SHARED_DIR");
  const std::string shared = env != nullptr ? env : INFERD_SOURCE_DIR "/../shared";
  const std::string llama3 = shared + "/tokenizers/llama3";
  if (std::filesystem::exists(llama3 + "/tokenizer.json")) {
    auto tok = inferd::engine::Tokenizer::FromDirectory(llama3);
    if (!tok.ok()) abort();
    all->push_back({*std::move(tok), true});
  }
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::vector<Loaded>* tokenizers = LoadAll();
  if (size == 0) return 0;
  const Loaded& loaded = (*tokenizers)[data[0] % tokenizers->size()];
  const inferd::engine::Tokenizer& tok = *loaded.tok;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  inferd::fuzz::Exercise(tok, text);
  if (loaded.byte_level && inferd::engine::IsValidUtf8(text)) {
    if (tok.Decode(tok.Encode(text, false), false) != text) abort();
  }
  // The same bytes as ids (any int32, mostly out of range).
  std::vector<int32_t> ids(text.size() / 4);
  if (!ids.empty()) std::memcpy(ids.data(), text.data(), ids.size() * 4);
  (void)tok.Decode(ids, false);
  (void)tok.Decode(ids, true);
  for (int32_t id : ids) (void)tok.TokenBytes(id);
  inferd::engine::IncrementalDetokenizer detok(&tok, ids, false);
  for (int32_t id : ids) (void)detok.Push(id);
  (void)detok.Flush();
  return 0;
}
