// engine/structured_output/grammar_automaton.cc — GBNF tree -> per-rule
// epsilon NFA -> epsilon-free NFA -> checks (left recursion, empty language)
// -> trimmed to live states.
#include "engine/structured_output/grammar_automaton.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

namespace {

uint32_t Utf8Len(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

void EncodeBytes(uint32_t cp, uint8_t* b) {
  std::string s;
  AppendUtf8(cp, &s);
  for (size_t i = 0; i < s.size(); ++i) b[i] = static_cast<uint8_t>(s[i]);
}

}  // namespace

void Utf8RangeSequences(uint32_t lo, uint32_t hi,
                        std::vector<std::vector<std::pair<uint8_t, uint8_t>>>* out) {
  if (lo > hi) return;
  for (uint32_t max : {0x7Fu, 0x7FFu, 0xFFFFu}) {
    if (lo <= max && hi > max) {
      Utf8RangeSequences(lo, max, out);
      Utf8RangeSequences(max + 1, hi, out);
      return;
    }
  }
  uint32_t n = Utf8Len(lo);
  for (uint32_t i = 1; i < n; ++i) {
    uint32_t m = (1u << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        Utf8RangeSequences(lo, lo | m, out);
        Utf8RangeSequences((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        Utf8RangeSequences(lo, (hi & ~m) - 1, out);
        Utf8RangeSequences(hi & ~m, hi, out);
        return;
      }
    }
  }
  uint8_t a[4], b[4];
  EncodeBytes(lo, a);
  EncodeBytes(hi, b);
  std::vector<std::pair<uint8_t, uint8_t>> seq;
  for (uint32_t i = 0; i < n; ++i) seq.push_back({a[i], b[i]});
  out->push_back(std::move(seq));
}

namespace {

struct EpsState {
  std::vector<int32_t> eps;
  std::vector<ByteEdge> bytes;
  std::vector<CallEdge> calls;
};

class Compiler {
 public:
  Compiler(const GbnfGrammar& g, const GrammarLimits& limits, absl::Time deadline)
      : g_(g), limits_(limits), deadline_(deadline) {}

  absl::StatusOr<GrammarAutomaton> Run() {
    a_.root = g_.root;
    for (const GbnfRule& r : g_.rules) a_.rule_names.push_back(r.name);
    a_.rule_start.assign(g_.rules.size(), -1);
    for (size_t r = 0; r < g_.rules.size(); ++r) {
      if (auto s = CompileRule(static_cast<int32_t>(r)); !s.ok()) return s;
    }
    if (auto s = Analyse(); !s.ok()) return s;
    return std::move(a_);
  }

 private:
  absl::Status Budget(int64_t n) {
    budget_ += n;
    if (budget_ > limits_.max_states) {
      return absl::InvalidArgumentError(absl::StrCat("grammar too large: over ", limits_.max_states,
                                                     " automaton states and edges (rule ",
                                                     g_.rules[rule_].name, ")"));
    }
    if (++ticks_ % 256 == 0 && absl::Now() > deadline_) {
      return absl::InvalidArgumentError(absl::StrCat("grammar compile took longer than ",
                                                     absl::FormatDuration(limits_.compile_timeout),
                                                     " (rule ", g_.rules[rule_].name, ")"));
    }
    return absl::OkStatus();
  }

  absl::Status Deadline() {
    if (++ticks_ % 64 == 0 && absl::Now() > deadline_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "grammar compile took longer than ", absl::FormatDuration(limits_.compile_timeout)));
    }
    return absl::OkStatus();
  }

  int32_t New() {
    eps_.emplace_back();
    return static_cast<int32_t>(eps_.size()) - 1;
  }

  absl::Status Eps(int32_t from, int32_t to) {
    eps_[static_cast<size_t>(from)].eps.push_back(to);
    return Budget(1);
  }

  absl::Status Build(const GbnfExpr& e, int32_t from, int32_t to) {
    switch (e.kind) {
      case GbnfExpr::Kind::kLiteral: {
        if (e.literal.empty()) return Eps(from, to);
        int32_t cur = from;
        for (size_t i = 0; i < e.literal.size(); ++i) {
          int32_t next = i + 1 == e.literal.size() ? to : New();
          auto b = static_cast<uint8_t>(e.literal[i]);
          eps_[static_cast<size_t>(cur)].bytes.push_back({b, b, next});
          cur = next;
        }
        return Budget(2 * static_cast<int64_t>(e.literal.size()));
      }
      case GbnfExpr::Kind::kClass: {
        std::vector<std::vector<std::pair<uint8_t, uint8_t>>> seqs;
        for (auto [lo, hi] : e.ranges) Utf8RangeSequences(lo, hi, &seqs);
        // A trie over the sequences: equal leading ranges share a state.
        std::map<std::tuple<int32_t, uint8_t, uint8_t>, int32_t> inner;
        for (const auto& seq : seqs) {
          int32_t cur = from;
          for (size_t i = 0; i < seq.size(); ++i) {
            auto [lo, hi] = seq[i];
            if (i + 1 == seq.size()) {
              eps_[static_cast<size_t>(cur)].bytes.push_back({lo, hi, to});
              break;
            }
            auto [it, fresh] = inner.try_emplace({cur, lo, hi}, -1);
            if (fresh) {
              it->second = New();
              eps_[static_cast<size_t>(cur)].bytes.push_back({lo, hi, it->second});
            }
            cur = it->second;
          }
          if (auto s = Budget(2 * static_cast<int64_t>(seq.size())); !s.ok()) return s;
        }
        return absl::OkStatus();
      }
      case GbnfExpr::Kind::kRuleRef:
        eps_[static_cast<size_t>(from)].calls.push_back({e.rule, to});
        return Budget(1);
      case GbnfExpr::Kind::kSequence: {
        if (e.children.empty()) return Eps(from, to);
        int32_t cur = from;
        for (size_t i = 0; i < e.children.size(); ++i) {
          int32_t next = i + 1 == e.children.size() ? to : New();
          if (auto s = Build(e.children[i], cur, next); !s.ok()) return s;
          cur = next;
        }
        return absl::OkStatus();
      }
      case GbnfExpr::Kind::kAlternatives:
        for (const GbnfExpr& c : e.children) {
          // A fresh entry per alternative keeps alternatives' loops apart.
          int32_t in = New();
          if (auto s = Eps(from, in); !s.ok()) return s;
          if (auto s = Build(c, in, to); !s.ok()) return s;
        }
        return absl::OkStatus();
      case GbnfExpr::Kind::kRepeat: {
        const GbnfExpr& x = e.children[0];
        int32_t cur = from;
        for (int32_t i = 0; i < e.min; ++i) {
          int32_t next = (i + 1 == e.min && e.max == e.min) ? to : New();
          if (auto s = Build(x, cur, next); !s.ok()) return s;
          cur = next;
        }
        if (e.max < 0) {
          int32_t loop = New();
          if (auto s = Eps(cur, loop); !s.ok()) return s;
          if (auto s = Build(x, loop, loop); !s.ok()) return s;
          return Eps(loop, to);
        }
        if (e.max == 0) return Eps(from, to);
        for (int32_t i = e.min; i < e.max; ++i) {
          if (auto s = Eps(cur, to); !s.ok()) return s;
          int32_t next = i + 1 == e.max ? to : New();
          int32_t in = New();
          if (auto s = Eps(cur, in); !s.ok()) return s;
          if (auto s = Build(x, in, next); !s.ok()) return s;
          cur = next;
        }
        return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

  // Builds rule `r`'s epsilon NFA, removes epsilons, appends its reachable
  // states to a_.
  absl::Status CompileRule(int32_t r) {
    rule_ = r;
    eps_.clear();
    int32_t start = New();
    int32_t accept = New();
    // The body's entry is fresh so loops at the top level stay apart.
    int32_t in = New();
    if (auto s = Eps(start, in); !s.ok()) return s;
    if (auto s = Build(g_.rules[static_cast<size_t>(r)].body, in, accept); !s.ok()) return s;

    size_t n = eps_.size();
    std::vector<int32_t> global(n, -1);
    std::vector<int32_t> order;  // local states to materialise
    std::vector<uint32_t> seen(n, 0);
    uint32_t stamp = 0;
    std::vector<int32_t> closure, work;
    auto enqueue = [&](int32_t local) {
      if (global[static_cast<size_t>(local)] < 0) {
        global[static_cast<size_t>(local)] = static_cast<int32_t>(a_.states.size());
        a_.states.emplace_back();
        a_.states.back().rule = r;
        order.push_back(local);
      }
      return global[static_cast<size_t>(local)];
    };
    a_.rule_start[static_cast<size_t>(r)] = enqueue(start);
    for (size_t k = 0; k < order.size(); ++k) {
      int32_t local = order[k];
      // Epsilon closure of `local`.
      ++stamp;
      closure.clear();
      work.assign(1, local);
      seen[static_cast<size_t>(local)] = stamp;
      while (!work.empty()) {
        int32_t s = work.back();
        work.pop_back();
        closure.push_back(s);
        for (int32_t t : eps_[static_cast<size_t>(s)].eps) {
          if (seen[static_cast<size_t>(t)] != stamp) {
            seen[static_cast<size_t>(t)] = stamp;
            work.push_back(t);
          }
        }
      }
      if (auto s = Budget(static_cast<int64_t>(closure.size()) / 8); !s.ok()) return s;
      std::vector<ByteEdge> bytes;
      std::vector<CallEdge> calls;
      bool accepting = false;
      for (int32_t s : closure) {
        if (s == accept) accepting = true;
        for (const ByteEdge& b : eps_[static_cast<size_t>(s)].bytes) bytes.push_back(b);
        for (const CallEdge& c : eps_[static_cast<size_t>(s)].calls) calls.push_back(c);
      }
      for (ByteEdge& b : bytes) b.to = enqueue(b.to);
      for (CallEdge& c : calls) c.to = enqueue(c.to);
      std::sort(bytes.begin(), bytes.end(), [](const ByteEdge& x, const ByteEdge& y) {
        return std::tie(x.lo, x.hi, x.to) < std::tie(y.lo, y.hi, y.to);
      });
      bytes.erase(std::unique(bytes.begin(), bytes.end(),
                              [](const ByteEdge& x, const ByteEdge& y) {
                                return x.lo == y.lo && x.hi == y.hi && x.to == y.to;
                              }),
                  bytes.end());
      std::sort(calls.begin(), calls.end(), [](const CallEdge& x, const CallEdge& y) {
        return std::tie(x.rule, x.to) < std::tie(y.rule, y.to);
      });
      calls.erase(std::unique(calls.begin(), calls.end(),
                              [](const CallEdge& x, const CallEdge& y) {
                                return x.rule == y.rule && x.to == y.to;
                              }),
                  calls.end());
      if (auto s = Budget(static_cast<int64_t>(bytes.size() + calls.size()) + 1); !s.ok()) {
        return s;
      }
      AutomatonState& st = a_.states[static_cast<size_t>(global[static_cast<size_t>(local)])];
      st.accepting = accepting;
      st.bytes = std::move(bytes);
      st.calls = std::move(calls);
    }
    return absl::OkStatus();
  }

  // States of rule r reachable from its start through byte edges and calls
  // to rules in `through` (nullptr: all calls).
  template <typename EdgeOk>
  void Reach(int32_t r, EdgeOk edge_ok, std::vector<int32_t>* out) {
    out->clear();
    std::vector<int32_t>& work = *out;
    int32_t s0 = a_.rule_start[static_cast<size_t>(r)];
    work.push_back(s0);
    mark_[static_cast<size_t>(s0)] = ++stamp_;
    for (size_t k = 0; k < work.size(); ++k) {
      const AutomatonState& st = a_.states[static_cast<size_t>(work[k])];
      auto visit = [&](int32_t t) {
        if (mark_[static_cast<size_t>(t)] != stamp_) {
          mark_[static_cast<size_t>(t)] = stamp_;
          work.push_back(t);
        }
      };
      for (const ByteEdge& b : st.bytes) {
        if (edge_ok(-1)) visit(b.to);
      }
      for (const CallEdge& c : st.calls) {
        if (edge_ok(c.rule)) visit(c.to);
      }
    }
  }

  absl::Status Analyse() {
    size_t nr = g_.rules.size();
    mark_.assign(a_.states.size(), 0);
    std::vector<int32_t> reach;
    // Nullable rules: the start reaches an accepting state through calls of
    // nullable rules only.
    std::vector<char> nullable(nr, 0);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < nr; ++r) {
        if (nullable[r]) continue;
        if (auto s = Deadline(); !s.ok()) return s;
        Reach(
            static_cast<int32_t>(r),
            [&](int32_t q) { return q >= 0 && nullable[static_cast<size_t>(q)]; }, &reach);
        for (int32_t s : reach) {
          if (a_.states[static_cast<size_t>(s)].accepting) {
            nullable[r] = 1;
            changed = true;
            break;
          }
        }
      }
    }
    // Left calls: rule r calls q from a state reachable without reading.
    std::vector<std::vector<int32_t>> left(nr);
    for (size_t r = 0; r < nr; ++r) {
      if (auto s = Deadline(); !s.ok()) return s;
      Reach(
          static_cast<int32_t>(r),
          [&](int32_t q) { return q >= 0 && nullable[static_cast<size_t>(q)]; }, &reach);
      for (int32_t s : reach) {
        for (const CallEdge& c : a_.states[static_cast<size_t>(s)].calls) left[r].push_back(c.rule);
      }
      std::sort(left[r].begin(), left[r].end());
      left[r].erase(std::unique(left[r].begin(), left[r].end()), left[r].end());
    }
    // Cycle search (iterative DFS, colours 0 new, 1 on path, 2 done).
    std::vector<char> colour(nr, 0);
    for (size_t r0 = 0; r0 < nr; ++r0) {
      if (colour[r0]) continue;
      std::vector<std::pair<int32_t, size_t>> path{{static_cast<int32_t>(r0), 0}};
      colour[r0] = 1;
      while (!path.empty()) {
        auto& [r, i] = path.back();
        if (i < left[static_cast<size_t>(r)].size()) {
          int32_t q = left[static_cast<size_t>(r)][i++];
          if (colour[static_cast<size_t>(q)] == 1) {
            std::vector<std::string> names;
            bool on = false;
            for (auto& [p, unused] : path) {
              if (p == q) on = true;
              if (on) names.push_back(g_.rules[static_cast<size_t>(p)].name);
            }
            names.push_back(g_.rules[static_cast<size_t>(q)].name);
            const GbnfRule& rule = g_.rules[static_cast<size_t>(q)];
            return absl::InvalidArgumentError(absl::StrCat(
                "GBNF ", rule.line, ":", rule.col, " (rule ", rule.name, "): left recursion: ",
                absl::StrJoin(names, " -> "), " (a rule reaches itself before reading any input)"));
          }
          if (colour[static_cast<size_t>(q)] == 0) {
            colour[static_cast<size_t>(q)] = 1;
            path.push_back({q, 0});
          }
        } else {
          colour[static_cast<size_t>(r)] = 2;
          path.pop_back();
        }
      }
    }
    // Productive rules: an accepting state is reachable through calls of
    // productive rules.
    std::vector<char> productive(nr, 0);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < nr; ++r) {
        if (productive[r]) continue;
        if (auto s = Deadline(); !s.ok()) return s;
        Reach(
            static_cast<int32_t>(r),
            [&](int32_t q) { return q < 0 || productive[static_cast<size_t>(q)]; }, &reach);
        for (int32_t s : reach) {
          if (a_.states[static_cast<size_t>(s)].accepting) {
            productive[r] = 1;
            changed = true;
            break;
          }
        }
      }
    }
    if (!productive[static_cast<size_t>(g_.root)]) {
      const GbnfRule& rule = g_.rules[static_cast<size_t>(g_.root)];
      return absl::InvalidArgumentError(
          absl::StrCat("GBNF ", rule.line, ":", rule.col,
                       " (rule root): the grammar's language is empty (no string matches root)"));
    }
    // Trim: drop calls of unproductive rules, then keep states both reachable
    // and co-reachable (able to reach an accepting state).
    size_t ns = a_.states.size();
    std::vector<std::vector<int32_t>> rev(ns);
    for (size_t s = 0; s < ns; ++s) {
      AutomatonState& st = a_.states[s];
      st.calls.erase(std::remove_if(st.calls.begin(), st.calls.end(),
                                    [&](const CallEdge& c) {
                                      return !productive[static_cast<size_t>(c.rule)];
                                    }),
                     st.calls.end());
      for (const ByteEdge& b : st.bytes)
        rev[static_cast<size_t>(b.to)].push_back(static_cast<int32_t>(s));
      for (const CallEdge& c : st.calls)
        rev[static_cast<size_t>(c.to)].push_back(static_cast<int32_t>(s));
      if (s % 1024 == 0) {
        if (auto status = Deadline(); !status.ok()) return status;
      }
    }
    std::vector<char> co(ns, 0);
    std::vector<int32_t> work;
    for (size_t s = 0; s < ns; ++s) {
      if (a_.states[s].accepting) {
        co[s] = 1;
        work.push_back(static_cast<int32_t>(s));
      }
    }
    while (!work.empty()) {
      int32_t s = work.back();
      work.pop_back();
      for (int32_t p : rev[static_cast<size_t>(s)]) {
        if (!co[static_cast<size_t>(p)]) {
          co[static_cast<size_t>(p)] = 1;
          work.push_back(p);
        }
      }
    }
    for (size_t s = 0; s < ns; ++s) {
      AutomatonState& st = a_.states[s];
      if (!co[s]) {
        st.bytes.clear();
        st.calls.clear();
        continue;
      }
      st.bytes.erase(
          std::remove_if(st.bytes.begin(), st.bytes.end(),
                         [&](const ByteEdge& b) { return !co[static_cast<size_t>(b.to)]; }),
          st.bytes.end());
      st.calls.erase(
          std::remove_if(st.calls.begin(), st.calls.end(),
                         [&](const CallEdge& c) { return !co[static_cast<size_t>(c.to)]; }),
          st.calls.end());
      st.final_only = st.accepting && st.bytes.empty() && st.calls.empty();
    }
    return absl::OkStatus();
  }

  const GbnfGrammar& g_;
  const GrammarLimits& limits_;
  absl::Time deadline_;
  int64_t budget_ = 0;
  int64_t ticks_ = 0;
  int32_t rule_ = 0;
  std::vector<EpsState> eps_;
  GrammarAutomaton a_;
  std::vector<uint32_t> mark_;
  uint32_t stamp_ = 0;
};

}  // namespace

absl::StatusOr<GrammarAutomaton> BuildAutomaton(const GbnfGrammar& grammar,
                                                const GrammarLimits& limits, absl::Time deadline) {
  return Compiler(grammar, limits, deadline).Run();
}

}  // namespace inferd::engine
