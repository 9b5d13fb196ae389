// engine/tokenizer/bpe_merge.cc — see bpe_merge.h. Mirrors HF's semantics
// exactly, including how a stale queue entry is recognised: the pair now at
// its position must still merge into the same new id.
#include "engine/tokenizer/bpe_merge.h"

#include <queue>

namespace inferd::engine {

namespace {

struct Symbol {
  int32_t id;
  int32_t prev;  // -1: none
  int32_t next;  // -1: none
  bool alive;
};

struct Candidate {
  int32_t rank;
  int32_t pos;  // index of the left symbol
  int32_t new_id;
};

// std::priority_queue pops the largest: "larger" = higher rank, then later pos.
struct Later {
  bool operator()(const Candidate& a, const Candidate& b) const {
    if (a.rank != b.rank) return a.rank > b.rank;
    return a.pos > b.pos;
  }
};

}  // namespace

void BpeMergeAll(const BpeMergeMap& merges, const std::vector<int32_t>& ids,
                 std::vector<int32_t>* out) {
  const int32_t n = static_cast<int32_t>(ids.size());
  if (n <= 1) {
    out->insert(out->end(), ids.begin(), ids.end());
    return;
  }
  std::vector<Symbol> sym(n);
  for (int32_t i = 0; i < n; ++i) sym[i] = {ids[i], i - 1, i + 1 < n ? i + 1 : -1, true};

  std::vector<Candidate> initial;
  initial.reserve(n);
  for (int32_t i = 0; i + 1 < n; ++i) {
    auto it = merges.find(BpePairKey(ids[i], ids[i + 1]));
    if (it != merges.end()) initial.push_back({it->second.rank, i, it->second.new_id});
  }
  std::priority_queue<Candidate, std::vector<Candidate>, Later> queue(Later(), std::move(initial));

  // `left` is -1 when the merged symbol is the first one: check before indexing.
  auto push_pair = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = sym[left].next;
    if (right < 0) return;
    auto it = merges.find(BpePairKey(sym[left].id, sym[right].id));
    if (it != merges.end()) queue.push({it->second.rank, left, it->second.new_id});
  };

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = sym[top.pos];
    if (!left.alive || left.next < 0) continue;
    const int32_t right_pos = left.next;
    Symbol& right = sym[right_pos];
    auto it = merges.find(BpePairKey(left.id, right.id));
    if (it == merges.end() || it->second.new_id != top.new_id) continue;  // stale

    left.id = top.new_id;
    left.next = right.next;
    right.alive = false;
    if (right.next >= 0) sym[right.next].prev = top.pos;
    push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) out->push_back(sym[i].id);
}

}  // namespace inferd::engine
