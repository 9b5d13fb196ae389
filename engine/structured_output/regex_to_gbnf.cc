// engine/structured_output/regex_to_gbnf.cc — ECMAScript-style regexes as
// GBNF (docs/structured-output.md lists the subset): regex_parser.h's tree
// (whose sets already hold what both ECMAScript and Python's `re` accept)
// written out as one GBNF expression, with anchors brought to the ends of
// the top-level alternatives and, for JSON Schema's `pattern`, the string's
// JSON-encoded content around an unanchored match.
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/structured_output/constraint_to_gbnf.h"
#include "engine/structured_output/regex_parser.h"
#include "engine/structured_output/regex_to_gbnf_internal.h"

namespace inferd::engine {
namespace {

using gbnf::CodepointSet;

using regex::kMaxRepeat;
using regex::Node;

constexpr double kMaxExpandedSize = 200'000;  // code point sets after unrolling repeats

double ExpandedSize(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kSet:
      return 1;
    case Node::Kind::kStart:
    case Node::Kind::kEnd:
      return 0;
    case Node::Kind::kRepeat: {
      const double reps = n.max < 0 ? std::max(n.min, 1) + 1 : std::max(n.max, 1);
      return reps * ExpandedSize(n.kids[0]);
    }
    case Node::Kind::kConcat:
    case Node::Kind::kAlt: {
      double s = 1;
      for (const Node& k : n.kids) s += ExpandedSize(k);
      return s;
    }
  }
  return 0;
}

// Lengths saturate at kLengthCap (then treated as unbounded).
constexpr int64_t kLengthCap = int64_t{1} << 40;

RegexLength LengthOf(const Node& n) {
  const auto sat = [](int64_t v) { return std::min(v, kLengthCap); };
  switch (n.kind) {
    case Node::Kind::kSet:
      return {1, 1};
    case Node::Kind::kStart:
    case Node::Kind::kEnd:
      return {0, 0};
    case Node::Kind::kConcat: {
      RegexLength out{0, 0};
      for (const Node& k : n.kids) {
        const RegexLength l = LengthOf(k);
        out.min = sat(out.min + l.min);
        if (!l.max || !out.max) {
          out.max.reset();
        } else {
          out.max = sat(*out.max + *l.max);
        }
      }
      return out;
    }
    case Node::Kind::kAlt: {
      RegexLength out{kLengthCap, 0};
      for (const Node& k : n.kids) {
        const RegexLength l = LengthOf(k);
        out.min = std::min(out.min, l.min);
        if (!l.max || !out.max) {
          out.max.reset();
        } else {
          out.max = std::max(*out.max, *l.max);
        }
      }
      return out;
    }
    case Node::Kind::kRepeat: {
      const RegexLength l = LengthOf(n.kids[0]);
      RegexLength out;
      out.min = sat(l.min * n.min);
      if (n.max == 0) {
        out.max = 0;
      } else if (n.max > 0 && l.max) {
        out.max = sat(*l.max * n.max);
      }
      return out;
    }
  }
  return {};
}

class Writer {
 public:
  Writer(RegexTarget target, gbnf::RuleSet* rules) : target_(target), rules_(rules) {}

  absl::StatusOr<std::string> Write(const Node& n) {
    switch (n.kind) {
      case Node::Kind::kStart:
      case Node::Kind::kEnd:
        return absl::InvalidArgumentError(absl::StrCat(
            "regex: anchors are supported only at the start and end of the pattern (offset ",
            n.offset == regex::kQuantifiedOffset ? 0 : n.offset, ")"));
      case Node::Kind::kSet:
        return WriteSet(n.set);
      case Node::Kind::kConcat: {
        if (n.kids.empty()) return std::string("\"\"");
        std::vector<std::string> parts;
        for (const Node& k : n.kids) {
          absl::StatusOr<std::string> p = Write(k);
          if (!p.ok()) return p.status();
          parts.push_back(*std::move(p));
        }
        if (parts.size() == 1) return parts[0];
        return absl::StrCat("(", absl::StrJoin(parts, " "), ")");
      }
      case Node::Kind::kAlt: {
        std::vector<std::string> parts;
        for (const Node& k : n.kids) {
          absl::StatusOr<std::string> p = Write(k);
          if (!p.ok()) return p.status();
          parts.push_back(*std::move(p));
        }
        return absl::StrCat("(", absl::StrJoin(parts, " | "), ")");
      }
      case Node::Kind::kRepeat: {
        absl::StatusOr<std::string> inner = Write(n.kids[0]);
        if (!inner.ok()) return inner.status();
        std::string suffix;
        if (n.min == 0 && n.max < 0) {
          suffix = "*";
        } else if (n.min == 1 && n.max < 0) {
          suffix = "+";
        } else if (n.min == 0 && n.max == 1) {
          suffix = "?";
        } else if (n.max < 0) {
          suffix = absl::StrCat("{", n.min, ",}");
        } else if (n.min == n.max) {
          suffix = absl::StrCat("{", n.min, "}");
        } else {
          suffix = absl::StrCat("{", n.min, ",", n.max, "}");
        }
        if (n.max == 0) return std::string("\"\"");
        return absl::StrCat("(", *inner, ")", suffix);
      }
    }
    return std::string("\"\"");
  }

 private:
  absl::StatusOr<std::string> WriteSet(const CodepointSet& raw) {
    CodepointSet set = raw.Minus(CodepointSet::Range(0xD800, 0xDFFF));
    if (set.empty()) {
      return absl::InvalidArgumentError("regex: a character class that matches nothing");
    }
    if (target_ == RegexTarget::kWholeOutput) return set.ToGbnf();
    // JSON string content: characters that JSON must escape appear in their
    // escaped forms (every form that decodes to them), '/' also as "\/".
    CodepointSet must_escape = CodepointSet::Range(0, 0x1F);
    must_escape.Add('"', '"');
    must_escape.Add('\\', '\\');
    std::vector<std::string> alts;
    const CodepointSet plain = set.Minus(must_escape);
    if (!plain.empty()) alts.push_back(plain.ToGbnf());
    if (set.Contains('/')) alts.push_back(gbnf::Literal("\\/"));
    if (set.Contains('"')) alts.push_back(gbnf::Literal("\\\""));
    if (set.Contains('\\')) alts.push_back(gbnf::Literal("\\\\"));
    for (uint32_t c = 0; c < 0x20; ++c) {
      if (!set.Contains(c)) continue;
      static constexpr std::pair<uint32_t, char> kShort[] = {
          {0x08, 'b'}, {0x0C, 'f'}, {'\n', 'n'}, {'\r', 'r'}, {'\t', 't'}};
      for (const auto& [code, letter] : kShort) {
        if (code == c) alts.push_back(gbnf::Literal(std::string("\\") + letter));
      }
      static constexpr char kHex[] = "0123456789abcdef";
      const char hi = kHex[c >> 4];
      const char lo = kHex[c & 15];
      std::string lo_class =
          lo >= 'a' ? absl::StrCat("[", std::string(1, lo), std::string(1, lo - 32), "]")
                    : absl::StrCat("\"", std::string(1, lo), "\"");
      alts.push_back(absl::StrCat("\"\\\\u00", std::string(1, hi), "\" ", lo_class));
    }
    if (alts.size() == 1) return alts[0];
    return rules_->Add("pattern-char", absl::StrJoin(alts, " | "));
  }

  RegexTarget target_;
  gbnf::RuleSet* rules_;
};

bool HasAnchor(const Node& n) {
  if (n.kind == Node::Kind::kStart || n.kind == Node::Kind::kEnd) return true;
  for (const Node& k : n.kids) {
    if (HasAnchor(k)) return true;
  }
  return false;
}

// The top-level alternatives as flat concatenations, with anchors brought
// to the ends where the grouping allows it: unrepeated groups are spliced
// into their concatenation, and an alternation that holds anchors and opens
// or closes a branch is distributed over it (^(a|$) = ^a | ^$).
std::vector<Node> TopLevelBranches(Node tree) {
  std::vector<Node> work;
  work.push_back(std::move(tree));
  std::vector<Node> out;
  while (!work.empty() && work.size() + out.size() < 256) {
    Node n = std::move(work.back());
    work.pop_back();
    if (n.kind == Node::Kind::kAlt) {
      for (Node& k : n.kids) work.push_back(std::move(k));
      continue;
    }
    Node flat;
    flat.kind = Node::Kind::kConcat;
    flat.offset = n.offset;
    std::vector<Node> pending;
    pending.push_back(std::move(n));
    // Splice nested concatenations, in order.
    std::vector<Node> stack = std::move(pending);
    while (!stack.empty()) {
      Node k = std::move(stack.back());
      stack.pop_back();
      if (k.kind == Node::Kind::kConcat) {
        for (size_t i = k.kids.size(); i-- > 0;) stack.push_back(std::move(k.kids[i]));
      } else {
        flat.kids.push_back(std::move(k));
      }
    }
    // Distribute an anchored alternation at either end.
    for (const bool at_end : {false, true}) {
      if (flat.kids.empty()) break;
      Node& edge = at_end ? flat.kids.back() : flat.kids.front();
      if (edge.kind != Node::Kind::kAlt || !HasAnchor(edge)) continue;
      Node alt = std::move(edge);
      if (at_end) {
        flat.kids.pop_back();
      } else {
        flat.kids.erase(flat.kids.begin());
      }
      for (Node& choice : alt.kids) {
        Node variant;
        variant.kind = Node::Kind::kConcat;
        variant.kids = flat.kids;
        if (at_end) {
          variant.kids.push_back(std::move(choice));
        } else {
          variant.kids.insert(variant.kids.begin(), std::move(choice));
        }
        work.push_back(std::move(variant));
      }
      flat.kids.clear();
      flat.kind = Node::Kind::kAlt;  // consumed
      break;
    }
    if (flat.kind == Node::Kind::kConcat) out.push_back(std::move(flat));
  }
  for (Node& n : work) out.push_back(std::move(n));  // over the cap: left as they are
  return out;
}

}  // namespace

std::string JsonCharBody() {
  return "[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})";
}

absl::StatusOr<std::string> RegexToGbnfExpression(std::string_view regex, RegexTarget target,
                                                  gbnf::RuleSet* rules, RegexLength* length,
                                                  RegexLength* clamp) {
  absl::StatusOr<Node> tree = regex::Parse(regex);
  if (!tree.ok()) return tree.status();
  if (ExpandedSize(*tree) > kMaxExpandedSize) {
    return absl::InvalidArgumentError(
        "regex: repetitions expand to more than 200000 elements (nested or large {m,n})");
  }
  // Anchors: ^ may open and $ may close each top-level alternative.
  std::vector<Node> branches = TopLevelBranches(*std::move(tree));
  Writer writer(target, rules);
  std::vector<std::string> alts;
  if (length != nullptr) *length = RegexLength{kLengthCap, 0};
  for (Node& branch : branches) {
    bool start = false;
    bool end = false;
    if (branch.kind != Node::Kind::kConcat) {
      Node wrap;
      wrap.kind = Node::Kind::kConcat;
      wrap.kids.push_back(std::move(branch));
      branch = std::move(wrap);
    }
    std::vector<Node>& kids = branch.kids;
    while (!kids.empty() && kids.front().kind == Node::Kind::kStart) {
      start = true;
      kids.erase(kids.begin());
    }
    while (!kids.empty() && kids.back().kind == Node::Kind::kEnd) {
      end = true;
      kids.pop_back();
    }
    if (clamp != nullptr && branches.size() == 1 && start && end && kids.size() == 1) {
      // ^C{m,n}$ (or ^C$): intersect the count with the length range.
      Node& only = kids[0];
      if (only.kind == Node::Kind::kSet) {
        Node rep;
        rep.kind = Node::Kind::kRepeat;
        rep.min = 1;
        rep.max = 1;
        rep.kids.push_back(std::move(only));
        only = std::move(rep);
      }
      if (only.kind == Node::Kind::kRepeat && only.kids[0].kind == Node::Kind::kSet) {
        const int64_t lo = std::max<int64_t>(only.min, clamp->min);
        std::optional<int64_t> hi = clamp->max;
        if (only.max >= 0) hi = hi ? std::min<int64_t>(*hi, only.max) : only.max;
        if (hi && *hi < lo) {
          return absl::InvalidArgumentError(
              "regex: no string of the pattern has an allowed length");
        }
        if (lo > kMaxRepeat * 100 || (hi && *hi > kMaxRepeat * 100)) {
          return absl::InvalidArgumentError("regex: length bounds too large");
        }
        only.min = static_cast<int>(lo);
        only.max = hi ? static_cast<int>(*hi) : -1;
        *clamp = RegexLength{0, std::nullopt};
      }
    }
    absl::StatusOr<std::string> body = writer.Write(branch);
    if (!body.ok()) return body.status();
    if (length != nullptr) {
      RegexLength l = LengthOf(branch);
      if (target == RegexTarget::kJsonStringContent && (!start || !end)) l.max.reset();
      if (l.max && *l.max >= kLengthCap) l.max.reset();
      length->min = std::min(length->min, l.min);
      if (!l.max || !length->max) {
        length->max.reset();
      } else {
        length->max = std::max(*length->max, *l.max);
      }
    }
    if (target == RegexTarget::kJsonStringContent) {
      const std::string any = rules->Add("char", JsonCharBody());
      alts.push_back(absl::StrCat(start ? "" : any + "* ", *body, end ? "" : " " + any + "*"));
    } else {
      alts.push_back(*std::move(body));
    }
  }
  if (alts.size() == 1) return alts[0];
  return absl::StrCat("(", absl::StrJoin(alts, " | "), ")");
}

absl::StatusOr<std::string> RegexToGbnf(std::string_view regex) {
  gbnf::RuleSet rules;
  const std::string root = rules.Reserve("root");
  absl::StatusOr<std::string> expr =
      RegexToGbnfExpression(regex, RegexTarget::kWholeOutput, &rules);
  if (!expr.ok()) return expr.status();
  rules.Define(root, *std::move(expr));
  if (absl::Status s = rules.CheckSize(); !s.ok()) return s;
  return rules.Render();
}

}  // namespace inferd::engine
