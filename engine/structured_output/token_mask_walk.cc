// engine/structured_output/token_mask_walk.cc — the trie walk behind a
// token mask entry.
#include "engine/structured_output/token_mask_walk.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "engine/structured_output/canonical_states.h"
#include "engine/structured_output/grammar_stacks.h"
#include "engine/structured_output/token_trie.h"
#include "engine/structured_output/utf8_sequences.h"

namespace inferd::engine {
namespace {

std::atomic<int64_t> g_subtrees_decided{0};
std::atomic<int64_t> g_subtrees_reused{0};

// A root child's subtree walked from a set: what it accepted and left
// uncertain. Shared by every walk (any grammar) reaching the same child in
// a set of the same canonical form (CanonicalForm).
struct SubtreeResult {
  std::vector<int32_t> accepted_ids;     // or, when many,
  std::vector<uint32_t> accepted_bits;   // a whole-vocabulary bitmask
  std::vector<int32_t> uncertain_ranks;  // ascending
};

// Bounded: past kMaxMemoInts stored ids and ranks, the results start over;
// past kMaxFormBytes, the table of forms does (numbers are never reused, so
// a walker's numbers stay right).
constexpr size_t kMaxMemoInts = size_t{8} << 20;
constexpr size_t kMaxFormBytes = size_t{64} << 20;
// Only subtrees this large are worth a canonical form and a lookup.
constexpr int32_t kMemoMinNodes = 256;
// Sets whose stacks meet more states (within the subtree's depth) are not
// memoised.
constexpr size_t kMemoMaxStates = 256;

struct SubtreeMemo {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, int64_t> forms ABSL_GUARDED_BY(mu);
  size_t form_bytes ABSL_GUARDED_BY(mu) = 0;
  int64_t next_form ABSL_GUARDED_BY(mu) = 0;
  // By (form, root child's node index).
  absl::flat_hash_map<std::pair<int64_t, int32_t>, std::shared_ptr<const SubtreeResult>> map
      ABSL_GUARDED_BY(mu);
  size_t ints ABSL_GUARDED_BY(mu) = 0;
};

SubtreeMemo& Memo() {
  static auto* memo = new SubtreeMemo();
  return *memo;
}

}  // namespace

namespace {

constexpr size_t kMaxPooledTables = 4;

struct TablePool {
  absl::Mutex mu;
  std::vector<std::unique_ptr<TokenMaskWalker::Tables>> free ABSL_GUARDED_BY(mu);
};

TablePool& Pool() {
  static auto* pool = new TablePool();
  return *pool;
}

}  // namespace

int32_t TokenMaskWalker::Intern(StackSet&& set) {
  set_key_.assign(set.stacks.begin(), set.stacks.end());
  std::sort(set_key_.begin(), set_key_.end());
  set_key_.push_back(set.below ? -1 : -2);
  auto [it, fresh] = t_.set_index.try_emplace(set_key_, static_cast<int32_t>(t_.sets.size()));
  if (fresh) {
    t_.flags.push_back(static_cast<uint8_t>((set.empty() ? 0 : kLive) | (set.below ? kBelow : 0)));
    t_.sets.push_back(std::move(set));
    t_.step.resize(t_.sets.size() * 256, -1);
    t_.successor.emplace_back();
    t_.successor_known.push_back(0);
    t_.forms.emplace_back();
    t_.forms.back().fill(-2);
  }
  return it->second;
}

int32_t TokenMaskWalker::StepSlow(int32_t from, uint8_t byte) {
  int lo = 0;
  int hi = 255;
  for (int32_t id : t_.sets[static_cast<size_t>(from)].stacks) {
    for (const ByteEdge& e : a_.states[static_cast<size_t>(t_.arena.state(id))].bytes) {
      if (e.hi < byte) {
        lo = std::max(lo, e.hi + 1);
      } else if (e.lo > byte) {
        hi = std::min(hi, e.lo - 1);
      } else {
        lo = std::max<int>(lo, e.lo);
        hi = std::min<int>(hi, e.hi);
      }
    }
  }
  StackSet next;
  stepper_.Step(t_.sets[static_cast<size_t>(from)], byte, &next);
  const int32_t to = Intern(std::move(next));  // may grow t_.step
  const size_t base = static_cast<size_t>(from) * 256;
  for (int b = lo; b <= hi; ++b) t_.step[base + static_cast<size_t>(b)] = to;
  return to;
}

int32_t TokenMaskWalker::FinishCharacter(int32_t x, const Utf8Row& row, int pos) {
  for (; pos < row.len; ++pos) {
    const int32_t to = StepTo(x, row.lo[pos]);
    if (!live(to)) return -1;
    for (int b = row.lo[pos] + 1; b <= row.hi[pos]; ++b) {
      if (StepTo(x, static_cast<uint8_t>(b)) != to) return -1;
    }
    x = to;
  }
  return x;
}

const TokenMaskWalker::Successor& TokenMaskWalker::SuccessorOf(int32_t x, bool need_chars) {
  const auto xi = static_cast<size_t>(x);
  if (t_.successor_known[xi] == 0) {
    // ASCII: the most common target (a set has few distinct targets).
    Successor sc;
    std::array<int32_t, 128> to;
    std::vector<std::pair<int32_t, int>>& counts = counts_;
    counts.clear();
    for (int b = 0; b < 128; ++b) {
      const int32_t t = StepTo(x, static_cast<uint8_t>(b));
      to[static_cast<size_t>(b)] = t;
      auto it =
          std::find_if(counts.begin(), counts.end(), [t](const auto& c) { return c.first == t; });
      if (it == counts.end()) {
        counts.emplace_back(t, 1);
      } else {
        ++it->second;
      }
    }
    sc.ascii_to = std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
                    return a.second < b.second;
                  })->first;
    sc.ascii_mask = {0, 0};
    sc.dead_mask = {0, 0};
    for (int b = 0; b < 128; ++b) {
      const int32_t t = to[static_cast<size_t>(b)];
      if (t == sc.ascii_to) {
        sc.ascii_mask[static_cast<size_t>(b / 64)] |= uint64_t{1} << (b % 64);
      } else if (t_.flags[static_cast<size_t>(t)] == 0) {
        sc.dead_mask[static_cast<size_t>(b / 64)] |= uint64_t{1} << (b % 64);
      }
    }
    t_.successor[xi] = sc;
    t_.successor_known[xi] = 1;
  }
  if (need_chars && t_.successor_known[xi] == 1) {
    // Non-ASCII: each row of well-formed sequences leads to one live set,
    // the same for every row.
    int32_t end = -1;
    bool one = true;
    for (int r = 0; r < kNumUtf8Rows && one; ++r) {
      const int32_t to = FinishCharacter(x, kUtf8Rows[r], 0);
      one = to >= 0 && (end < 0 || to == end);
      end = to;
    }
    t_.successor[xi].chars_to = one ? end : -1;
    t_.successor_known[xi] = 2;
  }
  return t_.successor[xi];
}

bool TokenMaskWalker::DecidesSubtree(int32_t x, const TokenTrie::Summary& s) {
  // A path that is not UTF-8 (a stray continuation byte) counts no
  // characters below it, so max_chars says nothing: walk it.
  if (s.utf8_state == kUtf8Invalid) return false;
  if (s.non_ascii && !s.utf8_complete) return false;
  const bool any_ascii = (s.ascii[0] | s.ascii[1]) != 0;
  int first = 0;
  if (s.utf8_state != kUtf8Boundary) {
    // Inside a character: every way to finish it must lead to one live set,
    // which is then x_1.
    x = FinishCharacter(x, kUtf8Rows[s.utf8_state / 4], s.utf8_state % 4);
    if (x < 0) return false;
    first = 1;
  }
  // x_0 = x; x_{k+1} is where any character read below takes x_k. Tokens
  // below read at most max_chars characters, so they end in x_0 ..
  // x_max_chars; a set that every such character takes back to itself
  // ends the chain early.
  int32_t cur = x;
  for (int k = first; k < s.max_chars; ++k) {
    const Successor& sc = SuccessorOf(cur, s.non_ascii);
    int32_t next = -1;
    if (any_ascii) {
      if ((s.ascii[0] & ~sc.ascii_mask[0]) != 0 || (s.ascii[1] & ~sc.ascii_mask[1]) != 0) {
        return false;
      }
      next = sc.ascii_to;
      if (s.non_ascii && sc.chars_to != next) return false;
    } else {
      next = sc.chars_to;
    }
    if (next < 0 || !live(next)) return false;
    if (next == cur) return true;
    cur = next;
  }
  return true;
}

bool TokenMaskWalker::KillersDecide(int32_t x, const TokenTrie::Summary& s,
                                    const std::array<uint64_t, 2>& path,
                                    std::array<uint64_t, 2>* killers) {
  if ((s.non_ascii && !s.utf8_complete) || s.utf8_state != kUtf8Boundary) return false;
  const Successor& sc = SuccessorOf(x, s.non_ascii);
  if (sc.ascii_to != x) return false;
  if (s.non_ascii && sc.chars_to != x) return false;
  for (size_t w = 0; w < 2; ++w) {
    if ((s.ascii[w] & ~(sc.ascii_mask[w] | sc.dead_mask[w])) != 0) return false;
    if ((path[w] & sc.dead_mask[w]) != 0) return false;
  }
  *killers = sc.dead_mask;
  return true;
}

std::unique_ptr<TokenMaskEntry> TokenMaskWalker::Run(const int32_t* key, int n,
                                                     const TokenMaskEntry* shallow) {
  if (t_.sets.size() > kMaxSets) Clear();  // before interning the seeds
  int32_t seed = kBottom;
  for (int i = n - 1; i >= 0; --i) seed = t_.arena.Intern(key[i], seed);
  return Walk({seed}, shallow);
}

std::unique_ptr<TokenMaskEntry> TokenMaskWalker::RunSiblings(const int32_t* tops, int n) {
  if (t_.sets.size() > kMaxSets) Clear();  // before interning the seeds
  std::vector<int32_t> seeds;
  for (int i = 0; i < n; ++i) seeds.push_back(t_.arena.Intern(tops[i], kBottom));
  return Walk(seeds, nullptr);
}

std::unique_ptr<TokenMaskEntry> TokenMaskWalker::Walk(const std::vector<int32_t>& seeds,
                                                      const TokenMaskEntry* shallow) {
  // Per-depth state and the accepted bits live in the walker: a grammar's
  // first masks run many small walks (one per member key), and allocating
  // and faulting in these each time was a share of them.
  std::vector<int32_t>& ids = scratch_.ids;
  ids.resize(static_cast<size_t>(trie_.max_depth()) + 1);
  // pending[d]: some prefix of length 1..d returned below the frame.
  std::vector<char>& pending = scratch_.pending;
  pending.assign(ids.size(), 0);
  // path_ascii[d]: the ASCII bytes of the path to the node at depth d.
  std::vector<std::array<uint64_t, 2>>& path_ascii = scratch_.path_ascii;
  path_ascii.assign(ids.size(), {0, 0});
  std::array<uint64_t, 2> killers = {0, 0};
  {
    StackSet first;
    stepper_.Close(seeds, &first);
    first.below = false;  // returning before any byte needs no check
    ids[0] = Intern(std::move(first));
  }
  // One preorder walk of the trie. With a shallower entry, only its
  // uncertain ranks are asked about (the others keep its answer: more
  // context only decides returns below its frames), and a subtree holding
  // none of them is skipped; a dead set skips its subtree either way.
  const std::vector<int32_t>* filter = shallow != nullptr ? &shallow->uncertain_ranks : nullptr;
  size_t f = 0;  // filter index: first filtered rank not yet passed
  const auto words = static_cast<size_t>(vocab_.bitmask_words());
  std::vector<uint32_t>& accepted = scratch_.accepted;  // moved out when the entry keeps it
  accepted.assign(words, 0);
  size_t num_accepted = 0;
  std::vector<int32_t> uncertain;
  auto accept = [&](int32_t rank) {
    const auto id = static_cast<uint32_t>(trie_.id(rank));
    accepted[id / 32] |= 1u << (id % 32);
    ++num_accepted;
  };
  // Moves f to the first filtered rank >= `rank` (skipped subtrees can pass
  // thousands of them at once).
  auto skip_to = [&](int32_t rank) {
    if (f < filter->size() && (*filter)[f] < rank) {
      f = static_cast<size_t>(
          std::lower_bound(filter->begin() + static_cast<std::ptrdiff_t>(f), filter->end(), rank) -
          filter->begin());
    }
  };
  // Applies `fn` to the ranks in [begin, end) that are asked about.
  auto each = [&](int32_t begin, int32_t end, auto&& fn) {
    if (filter == nullptr) {
      for (int32_t r = begin; r < end; ++r) fn(r);
      return;
    }
    skip_to(begin);
    for (; f < filter->size() && (*filter)[f] < end; ++f) fn((*filter)[f]);
  };
  // Appends the ranks in [begin, end) that are asked about to `out` (a
  // dead subtree below a return: thousands at once under whitespace).
  auto each_uncertain = [&](int32_t begin, int32_t end, std::vector<int32_t>& out) {
    if (begin >= end) return;
    if (filter == nullptr) {
      const size_t at = out.size();
      out.resize(at + static_cast<size_t>(end - begin));
      for (int32_t r = begin; r < end; ++r) out[at + static_cast<size_t>(r - begin)] = r;
      return;
    }
    skip_to(begin);
    const auto first = filter->begin() + static_cast<std::ptrdiff_t>(f);
    const auto last = std::lower_bound(first, filter->end(), end);
    out.insert(out.end(), first, last);
    f = static_cast<size_t>(last - filter->begin());
  };
  int64_t decided = 0;
  const auto& nodes = trie_.nodes();
  auto n_nodes = static_cast<int32_t>(nodes.size());
  // The walk of nodes [begin, end) (whole subtrees), results into the sinks.
  auto walk = [&](int32_t begin, int32_t end, auto&& accept, std::vector<int32_t>& unc) {
    for (int32_t i = begin; i < end;) {
      const TokenTrie::Node& node = nodes[static_cast<size_t>(i)];
      if (filter != nullptr) {
        skip_to(node.rank_begin);
        if (f == filter->size()) break;
        if ((*filter)[f] >= node.sub_rank_end) {
          i = node.end;
          continue;
        }
      }
      auto d = static_cast<size_t>(node.depth);
      const int32_t x = StepTo(ids[d - 1], node.byte);
      ids[d] = x;
      path_ascii[d] = path_ascii[d - 1];
      if (node.byte < 0x80) path_ascii[d][node.byte / 64] |= uint64_t{1} << (node.byte % 64);
      const bool is_live = live(x);
      pending[d] = static_cast<char>(pending[d - 1] || below(x));
      if (is_live || below(x)) {
        each(node.rank_begin, node.own_rank_end, accept);
      } else if (pending[d - 1]) {
        each_uncertain(node.rank_begin, node.own_rank_end, unc);
      }
      if (!is_live) {
        if (pending[d]) each_uncertain(node.own_rank_end, node.sub_rank_end, unc);
        i = node.end;
      } else if (node.summary >= 0 && QuickDecides(x, trie_.summary(node.summary))) {
        each(node.own_rank_end, node.sub_rank_end, accept);
        ++decided;
        i = node.end;
      } else if (node.summary >= 0 && !pending[d] &&
                 KillersDecide(x, trie_.summary(node.summary), path_ascii[d], &killers)) {
        // Tokens below die at their first killer byte (refused: nothing
        // returned below on the way) or are accepted.
        each(node.own_rank_end, node.sub_rank_end, [&](int32_t r) {
          const std::array<uint64_t, 2>& a = trie_.ascii_bytes(r);
          if ((a[0] & killers[0]) == 0 && (a[1] & killers[1]) == 0) accept(r);
        });
        ++decided;
        i = node.end;
      } else {
        ++i;
      }
    }
  };
  if (filter != nullptr) {
    walk(0, n_nodes, accept, uncertain);
  } else {
    // Root children one by one: a large subtree entered in a set whose
    // canonical form was seen before (this grammar or another) reuses
    // that walk's result.
    for (int32_t i = 0; i < n_nodes; i = nodes[static_cast<size_t>(i)].end) {
      const TokenTrie::Node& node = nodes[static_cast<size_t>(i)];
      if (node.end - i < kMemoMinNodes) {
        walk(i, node.end, accept, uncertain);
        continue;
      }
      const int32_t x = StepTo(ids[0], node.byte);
      // Tokens below read at most bytes_below bytes from x: forms equal
      // that far give equal results.
      const int64_t form = live(x) ? CanonicalForm(x, FormBound(trie_.bytes_below(i))) : -1;
      if (form < 0) {
        walk(i, node.end, accept, uncertain);
        continue;
      }
      const std::pair<int64_t, int32_t> key(form, i);
      SubtreeMemo& memo = Memo();
      std::shared_ptr<const SubtreeResult> result;
      {
        absl::MutexLock lock(&memo.mu);
        auto it = memo.map.find(key);
        if (it != memo.map.end()) result = it->second;
      }
      if (result != nullptr) {
        g_subtrees_reused.fetch_add(1, std::memory_order_relaxed);
      } else {
        auto fresh = std::make_shared<SubtreeResult>();
        walk(
            i, node.end, [&](int32_t r) { fresh->accepted_ids.push_back(trie_.id(r)); },
            fresh->uncertain_ranks);
        if (fresh->accepted_ids.size() > words / 4) {  // ORing words beats setting bits
          fresh->accepted_bits.assign(words, 0);
          for (int32_t id : fresh->accepted_ids) {
            fresh->accepted_bits[static_cast<size_t>(id) / 32] |=
                1u << (static_cast<uint32_t>(id) % 32);
          }
          fresh->accepted_ids = std::vector<int32_t>();
        }
        result = fresh;
        absl::MutexLock lock(&memo.mu);
        const size_t ints = fresh->accepted_ids.size() + fresh->accepted_bits.size() +
                            fresh->uncertain_ranks.size();
        if (memo.ints + ints > kMaxMemoInts) {
          memo.map.clear();
          memo.ints = 0;
        }
        if (memo.map.try_emplace(std::move(key), result).second) memo.ints += ints;
      }
      for (int32_t id : result->accepted_ids) {
        accepted[static_cast<size_t>(id) / 32] |= 1u << (static_cast<uint32_t>(id) % 32);
      }
      num_accepted += result->accepted_ids.size();
      if (!result->accepted_bits.empty()) {
        for (size_t w = 0; w < words; ++w) accepted[w] |= result->accepted_bits[w];
        num_accepted = words + 1;  // many: the entry keeps a bitmask
      }
      uncertain.insert(uncertain.end(), result->uncertain_ranks.begin(),
                       result->uncertain_ranks.end());
    }
  }
  g_subtrees_decided.fetch_add(decided, std::memory_order_relaxed);
  auto entry = std::make_unique<TokenMaskEntry>();
  entry->uncertain_ranks = std::move(uncertain);
  if (shallow != nullptr) {
    if (!shallow->accepted_bits.empty()) {
      entry->accepted_bits = shallow->accepted_bits;
      for (size_t w = 0; w < words; ++w) entry->accepted_bits[w] |= accepted[w];
      return entry;
    }
    for (int32_t id : shallow->accepted_ids) {
      accepted[static_cast<size_t>(id) / 32] |= 1u << (static_cast<uint32_t>(id) % 32);
    }
    num_accepted += shallow->accepted_ids.size();
  }
  if (num_accepted > words) {
    entry->accepted_bits = std::move(accepted);
  } else {
    for (size_t w = 0; w < words; ++w) {
      for (uint32_t bits = accepted[w]; bits != 0; bits &= bits - 1) {
        entry->accepted_ids.push_back(static_cast<int32_t>(w * 32) + __builtin_ctz(bits));
      }
    }
  }
  return entry;
}

int64_t TokenMaskSubtreesDecided() { return g_subtrees_decided.load(std::memory_order_relaxed); }
int64_t TokenMaskSubtreesReused() { return g_subtrees_reused.load(std::memory_order_relaxed); }

int TokenMaskWalker::FormBound(int32_t bytes) {
  int b = 0;
  while (b < kBoundedForms && (4 << b) < bytes) ++b;
  return b;
}

int64_t TokenMaskWalker::CanonicalForm(int32_t x, int bound) {
  const auto xi = static_cast<size_t>(x);
  int64_t& known = t_.forms[xi][static_cast<size_t>(bound)];
  if (known != -2) return known;
  known = -1;
  const int max_bytes = bound < kBoundedForms ? 4 << bound : -1;
  std::vector<std::string> stacks;
  std::vector<int32_t> frames;
  for (int32_t id : t_.sets[xi].stacks) {
    frames.clear();
    int32_t f = id;
    for (; f >= 0; f = t_.arena.parent(f)) frames.push_back(t_.arena.state(f));
    std::string one;
    if (f != kBottom || !AppendCanonicalStates(a_, frames.data(), static_cast<int>(frames.size()),
                                               kMemoMaxStates, max_bytes, &one)) {
      return known;  // -1: not memoised
    }
    stacks.push_back(std::move(one));
  }
  std::sort(stacks.begin(), stacks.end());
  std::string out;
  const uint64_t fp = vocab_.fingerprint();
  out.append(reinterpret_cast<const char*>(&fp), sizeof(fp));
  out.push_back(below(x) ? 'b' : 'n');
  for (const std::string& one : stacks) {
    const auto len = static_cast<uint32_t>(one.size());
    out.append(reinterpret_cast<const char*>(&len), sizeof(len));
    out.append(one);
  }
  SubtreeMemo& memo = Memo();
  absl::MutexLock lock(&memo.mu);
  if (memo.form_bytes + out.size() > kMaxFormBytes) {
    memo.forms.clear();
    memo.form_bytes = 0;
  }
  const size_t size = out.size();
  auto [it, fresh] = memo.forms.try_emplace(std::move(out), memo.next_form);
  if (fresh) {
    ++memo.next_form;
    memo.form_bytes += size;
  }
  known = it->second;
  return known;
}

TokenMaskWalker::TokenMaskWalker(const GrammarAutomaton& automaton, const TokenVocabulary& vocab)
    : a_(automaton), vocab_(vocab), trie_(vocab.trie()), stepper_(&automaton, &t_.arena) {
  std::unique_ptr<Tables> t;
  {
    TablePool& pool = Pool();
    absl::MutexLock lock(&pool.mu);
    if (pool.free.empty()) return;
    t = std::move(pool.free.back());
    pool.free.pop_back();
  }
  t_ = std::move(*t);
}

TokenMaskWalker::~TokenMaskWalker() {
  Clear();
  auto t = std::make_unique<Tables>();
  *t = std::move(t_);
  TablePool& pool = Pool();
  absl::MutexLock lock(&pool.mu);
  if (pool.free.size() < kMaxPooledTables) pool.free.push_back(std::move(t));
}

void TokenMaskWalker::Clear() {
  t_.arena.Clear();
  t_.sets.clear();
  t_.set_index.clear();
  t_.step.clear();
  t_.flags.clear();
  t_.successor.clear();
  t_.successor_known.clear();
  t_.forms.clear();
}

}  // namespace inferd::engine
