// engine/structured_output/token_vocabulary.cc — token bytes, flags, the
// fingerprint and the token trie.
#include "engine/structured_output/token_vocabulary.h"

#include <algorithm>

#include "common/check.h"
#include "engine/structured_output/token_trie.h"
#include "engine/tokenizer/tokenizer.h"

namespace inferd::engine {

namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

void Mix(uint64_t* h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) *h = (*h ^ p[i]) * kFnvPrime;
}

}  // namespace

std::shared_ptr<const TokenVocabulary> TokenVocabulary::FromTokenizer(
    const Tokenizer& tokenizer, std::vector<int32_t> eos_ids) {
  int32_t n = tokenizer.vocab_size();
  std::vector<std::string> bytes(static_cast<size_t>(n));
  std::vector<bool> special(static_cast<size_t>(n));
  for (int32_t id = 0; id < n; ++id) {
    special[static_cast<size_t>(id)] = tokenizer.IsSpecial(id);
    if (!special[static_cast<size_t>(id)])
      bytes[static_cast<size_t>(id)] = tokenizer.TokenBytes(id);
  }
  return FromBytes(std::move(bytes), std::move(special), std::move(eos_ids));
}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::FromBytes(
    std::vector<std::string> token_bytes, std::vector<bool> special, std::vector<int32_t> eos_ids) {
  INFERD_CHECK_EQ(token_bytes.size(), special.size());
  std::sort(eos_ids.begin(), eos_ids.end());
  eos_ids.erase(std::unique(eos_ids.begin(), eos_ids.end()), eos_ids.end());
  std::shared_ptr<TokenVocabulary> v(new TokenVocabulary());
  v->bytes_ = std::move(token_bytes);
  v->special_ = std::move(special);
  v->eos_ids_ = std::move(eos_ids);
  v->is_eos_.assign(v->bytes_.size(), false);
  for (int32_t id : v->eos_ids_) {
    INFERD_CHECK(id >= 0 && id < v->size()) << "EOS id " << id << " out of the vocabulary";
    v->is_eos_[static_cast<size_t>(id)] = true;
  }
  uint64_t h = kFnvOffset;
  for (size_t id = 0; id < v->bytes_.size(); ++id) {
    uint64_t len = v->bytes_[id].size();
    Mix(&h, &len, sizeof(len));
    Mix(&h, v->bytes_[id].data(), v->bytes_[id].size());
    unsigned char flags =
        static_cast<unsigned char>((v->special_[id] ? 1 : 0) | (v->is_eos_[id] ? 2 : 0));
    Mix(&h, &flags, 1);
  }
  v->fingerprint_ = h;
  std::vector<bool> skip(v->bytes_.size());
  for (size_t id = 0; id < skip.size(); ++id) skip[id] = v->special_[id] || v->is_eos_[id];
  v->trie_ = std::make_shared<const TokenTrie>(v->bytes_, skip);
  return v;
}

}  // namespace inferd::engine
