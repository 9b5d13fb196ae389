// engine/structured_output/grammar_stacks.h — the pushdown automaton's
// run-time configurations: persistent stacks of automaton states interned in
// an arena, and sets of them advanced byte by byte.
//
// Grammar core only. A stack is an id; its top frame is an automaton state
// (rule implied) and its parent is the stack below, kEmptyStack under the
// root frame or kBottom under the frame a context-independent mask is being
// computed for. Stacks are interned, so equal stacks have equal ids and
// sets dedupe by id. A StackSet is kept closed: callees pushed, finished
// frames popped; it holds only stacks whose top can read a byte.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_GRAMMAR_STACKS_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_GRAMMAR_STACKS_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/structured_output/grammar_automaton.h"

namespace inferd::engine {

inline constexpr int32_t kEmptyStack = -1;
inline constexpr int32_t kBottom = -2;

// Highly ambiguous grammars (e.g. `root ::= (x | x x)*` nested) can have a
// number of distinct stacks exponential in the input length. A closure
// visits at most this many stacks; past it the rest are dropped. Dropping
// stacks keeps the matcher sound (every token it allows can still be
// completed to a sentence: each kept stack can) but it may then refuse some
// valid continuations. JSON-schema grammars use a handful of stacks.
inline constexpr size_t kMaxStacksPerClosure = 4096;
// How many closures were cut at kMaxStacksPerClosure in this process (tests).
int64_t StackClosuresTruncated();

class StackArena {
 public:
  int32_t Intern(int32_t state, int32_t parent) {
    uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(state)) << 32) | static_cast<uint32_t>(parent);
    auto [it, fresh] = index_.try_emplace(key, static_cast<int32_t>(nodes_.size()));
    if (fresh) nodes_.push_back({state, parent});
    return it->second;
  }
  int32_t state(int32_t id) const { return nodes_[static_cast<size_t>(id)].state; }
  int32_t parent(int32_t id) const { return nodes_[static_cast<size_t>(id)].parent; }
  size_t size() const { return nodes_.size(); }
  // Forgets the stacks interned since size() was `n`.
  void Truncate(size_t n);
  // Forgets every stack (one clear, not an erase per stack).
  void Clear() {
    nodes_.clear();
    index_.clear();
  }

 private:
  struct Node {
    int32_t state;
    int32_t parent;
  };
  std::vector<Node> nodes_;
  absl::flat_hash_map<uint64_t, int32_t> index_;
};

struct StackSet {
  std::vector<int32_t> stacks;  // closed; each top has a byte edge
  bool ended = false;           // some configuration popped kEmptyStack
  bool below = false;           // some configuration popped to kBottom
  bool empty() const { return stacks.empty(); }
};

// Advances stack sets over one automaton; holds scratch space only.
class StackStepper {
 public:
  StackStepper(const GrammarAutomaton* automaton, StackArena* arena)
      : a_(automaton), arena_(arena) {}

  // The closure of `seeds` (stacks, or kEmptyStack / kBottom) into `out`.
  void Close(const std::vector<int32_t>& seeds, StackSet* out);
  // Reads `byte` from every stack of `in`; `out` is closed.
  void Step(const StackSet& in, uint8_t byte, StackSet* out);
  // The configuration `stack` (closed) advanced over `bytes`; false when
  // some byte cannot be read. `out` gets the final set.
  bool Walk(const StackSet& in, std::string_view bytes, StackSet* out);

 private:
  const GrammarAutomaton* a_;
  StackArena* arena_;
  std::vector<int32_t> seeds_, work_;
  std::vector<uint32_t> seen_;
  uint32_t stamp_ = 0;
  StackSet tmp_[2];
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_GRAMMAR_STACKS_H_
