// engine/structured_output/canonical_states.cc — canonical stack forms.
#include "engine/structured_output/canonical_states.h"

#include <algorithm>
#include <vector>

namespace inferd::engine {
namespace {

void AppendInt(int32_t v, std::string* out) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

// Written for a state past the byte bound (never a canonical number).
constexpr int32_t kFar = -1;

// The bytes a call to `rule` reads at least before returning, as far as its
// start state tells: one when the start can only read a byte, else none.
int32_t CallCost(const GrammarAutomaton& a, int32_t rule) {
  const AutomatonState& start =
      a.states[static_cast<size_t>(a.rule_start[static_cast<size_t>(rule)])];
  return !start.accepting && start.calls.empty() ? 1 : 0;
}

// Per-thread scratch indexed by state, valid where stamp == gen: the forms
// are written on the walks behind the mask tail, where hash maps of a few
// hundred states cost more than the states themselves.
struct Scratch {
  uint32_t gen = 0;
  std::vector<uint32_t> stamp;                // per state
  std::vector<int32_t> dist;                  // per state: the bound below (valid with stamp)
  std::vector<int32_t> canon;                 // per state: the canonical number, -1 before written
  std::vector<int32_t> reached;               // the states with a distance
  std::vector<std::vector<int32_t>> buckets;  // by distance: states to expand
  std::vector<int32_t> order;

  void Begin(size_t num_states) {
    if (stamp.size() < num_states) {
      stamp.resize(num_states, 0);
      dist.resize(num_states);
      canon.resize(num_states);
    }
    if (++gen == 0) {  // wrapped: no stale stamp may match
      std::fill(stamp.begin(), stamp.end(), 0);
      gen = 1;
    }
    reached.clear();
    order.clear();
  }
  bool seen(int32_t s) const { return stamp[static_cast<size_t>(s)] == gen; }
};

Scratch& ThreadScratch() {
  static thread_local Scratch scratch;
  return scratch;
}

// dist[s]: a lower bound of the bytes read before s is a stack's top, for
// the states where it is <= max_bytes (a breadth-first search with one
// bucket per distance; calls cost 0 or 1). False when more than max_states
// states are within the bound.
bool Distances(const GrammarAutomaton& a, const int32_t* frames, int n, size_t max_states,
               int max_bytes, Scratch* sc) {
  if (sc->buckets.size() < static_cast<size_t>(max_bytes) + 1) {
    sc->buckets.resize(static_cast<size_t>(max_bytes) + 1);
  }
  for (int d = 0; d <= max_bytes; ++d) sc->buckets[static_cast<size_t>(d)].clear();
  auto relax = [&](int32_t s, int32_t d) {
    if (d > max_bytes) return;
    const auto si = static_cast<size_t>(s);
    if (sc->seen(s)) {
      if (sc->dist[si] <= d) return;
    } else {
      sc->stamp[si] = sc->gen;
      sc->canon[si] = -1;
      sc->reached.push_back(s);
    }
    sc->dist[si] = d;
    sc->buckets[static_cast<size_t>(d)].push_back(s);
  };
  for (int i = 0; i < n; ++i) relax(frames[i], 0);
  for (int d = 0; d <= max_bytes; ++d) {
    // Zero-cost edges append to this bucket while it is read.
    std::vector<int32_t>& bucket = sc->buckets[static_cast<size_t>(d)];
    for (size_t k = 0; k < bucket.size(); ++k) {
      const int32_t s = bucket[k];
      if (sc->dist[static_cast<size_t>(s)] != d) continue;  // reached cheaper since
      if (sc->reached.size() > max_states) return false;
      const AutomatonState& st = a.states[static_cast<size_t>(s)];
      for (const ByteEdge& e : st.bytes) relax(e.to, d + 1);
      for (const CallEdge& c : st.calls) {
        relax(a.rule_start[static_cast<size_t>(c.rule)], d);
        relax(c.to, d + CallCost(a, c.rule));
      }
    }
  }
  return sc->reached.size() <= max_states;
}

}  // namespace

bool AppendCanonicalStates(const GrammarAutomaton& automaton, const int32_t* frames, int n,
                           size_t max_states, int max_bytes, std::string* out) {
  AppendInt(n, out);
  AppendInt(max_bytes, out);
  Scratch& sc = ThreadScratch();
  sc.Begin(automaton.states.size());
  if (max_bytes >= 0 && !Distances(automaton, frames, n, max_states, max_bytes, &sc)) {
    return false;
  }
  auto id = [&](int32_t s) {
    const auto si = static_cast<size_t>(s);
    if (!sc.seen(s)) {
      if (max_bytes >= 0) return kFar;
      sc.stamp[si] = sc.gen;
      sc.canon[si] = -1;
    }
    if (sc.canon[si] < 0) {
      sc.canon[si] = static_cast<int32_t>(sc.order.size());
      sc.order.push_back(s);
    }
    return sc.canon[si];
  };
  for (int i = 0; i < n; ++i) AppendInt(id(frames[i]), out);
  for (size_t k = 0; k < sc.order.size(); ++k) {
    if (sc.order.size() > max_states) return false;
    const AutomatonState& st = automaton.states[static_cast<size_t>(sc.order[k])];
    AppendInt((st.accepting ? 1 : 0) | (st.final_only ? 2 : 0), out);
    AppendInt(static_cast<int32_t>(st.bytes.size()), out);
    for (const ByteEdge& e : st.bytes) {
      AppendInt(e.lo | (e.hi << 8), out);
      AppendInt(id(e.to), out);
    }
    AppendInt(static_cast<int32_t>(st.calls.size()), out);
    for (const CallEdge& c : st.calls) {
      AppendInt(id(automaton.rule_start[static_cast<size_t>(c.rule)]), out);
      AppendInt(id(c.to), out);
    }
  }
  return true;
}

}  // namespace inferd::engine
