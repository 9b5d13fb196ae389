// engine/structured_output/canonical_states.cc — canonical stack forms.
#include "engine/structured_output/canonical_states.h"

#include <vector>

#include "absl/container/flat_hash_map.h"

namespace inferd::engine {
namespace {

void AppendInt(int32_t v, std::string* out) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

}  // namespace

bool AppendCanonicalStates(const GrammarAutomaton& automaton, const int32_t* frames, int n,
                           size_t max_states, std::string* out) {
  AppendInt(n, out);
  absl::flat_hash_map<int32_t, int32_t> canon;
  std::vector<int32_t> order;
  auto id = [&](int32_t s) {
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
