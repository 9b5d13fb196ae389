// engine/tokenizer/bpe_merge.h — the BPE merge loop for one pre-token
// (HF tokenizers' Word::merge_all): repeatedly merge the adjacent pair with
// the lowest merge rank (leftmost on ties) until no pair has a merge.
// O(n log n) in the number of symbols: a priority queue of candidate merges
// over a doubly linked list of symbols; stale candidates are skipped.
#ifndef INFERD_ENGINE_TOKENIZER_BPE_MERGE_H_
#define INFERD_ENGINE_TOKENIZER_BPE_MERGE_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace inferd::engine {

struct BpeMerge {
  int32_t rank;    // position in the merges list: lower merges first
  int32_t new_id;  // the token the pair becomes
};

// Pair (left id, right id) -> merge.
using BpeMergeMap = absl::flat_hash_map<uint64_t, BpeMerge>;

inline uint64_t BpePairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Merges `ids` (the initial symbols, left to right) in place and appends
// the resulting ids to `out`.
void BpeMergeAll(const BpeMergeMap& merges, const std::vector<int32_t>& ids,
                 std::vector<int32_t>* out);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_BPE_MERGE_H_
