// engine/structured_output/canonical_states.cc — canonical stack forms.
#include "engine/structured_output/canonical_states.h"

#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"

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

// dist[s]: a lower bound of the bytes read before s is a stack's top, for
// the states where it is <= max_bytes (0-1 breadth-first search). False when
// more than max_states states are within the bound.
bool Distances(const GrammarAutomaton& a, const int32_t* frames, int n, size_t max_states,
               int max_bytes, absl::flat_hash_map<int32_t, int32_t>* dist) {
  std::deque<std::pair<int32_t, int32_t>> queue;  // (state, distance)
  auto relax = [&](int32_t s, int32_t d, bool front) {
    if (d > max_bytes) return;
    auto [it, fresh] = dist->try_emplace(s, d);
    if (!fresh && it->second <= d) return;
    it->second = d;
    if (front) {
      queue.emplace_front(s, d);
    } else {
      queue.emplace_back(s, d);
    }
  };
  for (int i = 0; i < n; ++i) relax(frames[i], 0, false);
  while (!queue.empty()) {
    auto [s, d] = queue.front();
    queue.pop_front();
    if (dist->at(s) != d) continue;  // reached cheaper since
    if (dist->size() > max_states) return false;
    const AutomatonState& st = a.states[static_cast<size_t>(s)];
    for (const ByteEdge& e : st.bytes) relax(e.to, d + 1, false);
    for (const CallEdge& c : st.calls) {
      relax(a.rule_start[static_cast<size_t>(c.rule)], d, true);
      const int32_t cost = CallCost(a, c.rule);
      relax(c.to, d + cost, cost == 0);
    }
  }
  return dist->size() <= max_states;
}

}  // namespace

bool AppendCanonicalStates(const GrammarAutomaton& automaton, const int32_t* frames, int n,
                           size_t max_states, int max_bytes, std::string* out) {
  AppendInt(n, out);
  AppendInt(max_bytes, out);
  absl::flat_hash_map<int32_t, int32_t> dist;
  if (max_bytes >= 0 && !Distances(automaton, frames, n, max_states, max_bytes, &dist)) {
    return false;
  }
  absl::flat_hash_map<int32_t, int32_t> canon;
  std::vector<int32_t> order;
  auto id = [&](int32_t s) {
    if (max_bytes >= 0 && !dist.contains(s)) return kFar;
    auto [it, fresh] = canon.try_emplace(s, static_cast<int32_t>(order.size()));
    if (fresh) order.push_back(s);
    return it->second;
  };
  for (int i = 0; i < n; ++i) AppendInt(id(frames[i]), out);
  for (size_t k = 0; k < order.size(); ++k) {
    if (order.size() > max_states) return false;
    const AutomatonState& st = automaton.states[static_cast<size_t>(order[k])];
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
