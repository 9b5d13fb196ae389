// engine/structured_output/json_schema_types.cc — the grammar of each JSON
// type under its keywords: strings (length, pattern, format), integers and
// numbers (bounds), arrays (items, prefixItems, counts) and objects
// (properties in order, required, additionalProperties).
#include <cmath>
#include <set>

#include "engine/structured_output/integer_range_gbnf.h"
#include "engine/structured_output/json_schema_converter.h"

namespace inferd::engine::json_schema {
namespace {

absl::StatusOr<std::optional<int64_t>> Count(const Json& s, const char* key,
                                             const std::string& ptr) {
  auto it = s.find(key);
  if (it == s.end()) return std::optional<int64_t>();
  if (!it->is_number() || it->get<double>() < 0 ||
      std::floor(it->get<double>()) != it->get<double>()) {
    return Invalid(ptr + "/" + key, "must be a non-negative integer");
  }
  const double v = it->get<double>();
  if (v > 1e15) return std::optional<int64_t>(int64_t{1} << 50);
  return std::optional<int64_t>(static_cast<int64_t>(v));
}

std::string Repeat(const std::string& item, int64_t min, std::optional<int64_t> max) {
  if (max && *max == 0) return "";
  if (min == 0 && !max) return absl::StrCat("(", item, ")*");
  if (min == 1 && !max) return absl::StrCat("(", item, ")+");
  if (min == 0 && max && *max == 1) return absl::StrCat("(", item, ")?");
  if (!max) return absl::StrCat("(", item, "){", min, ",}");
  if (*max == min) return absl::StrCat("(", item, "){", min, "}");
  return absl::StrCat("(", item, "){", min, ",", *max, "}");
}

constexpr char kHex[] = "[0-9a-fA-F]";

std::string DateContent() {
  const std::string year =
      "([1-9] [0-9]{3} | \"0\" ([1-9] [0-9]{2} | \"0\" ([1-9] [0-9] | \"0\" [1-9])))";
  const std::string leap_tail = "([02468] [48] | [2468] \"0\" | [13579] [26])";
  const std::string leap_year = absl::StrCat("([0-9]{2} ", leap_tail, " | ", leap_tail, " \"00\")");
  const std::string md =
      "((\"0\" [13578] | \"1\" [02]) \"-\" (\"0\" [1-9] | [12] [0-9] | \"3\" [01]) | "
      "(\"0\" [469] | \"11\") \"-\" (\"0\" [1-9] | [12] [0-9] | \"30\") | "
      "\"02-\" (\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8]))";
  return absl::StrCat("(", year, " \"-\" ", md, " | ", leap_year, " \"-02-29\")");
}

std::string TimeContent() {
  return "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]+)? "
         "(\"Z\" | [-+] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])";
}

// Conservative subsets: every string accepted is valid under RFC 5321
// (dot-atom local part, a dotted host name), RFC 3986 (scheme://authority
// with a path, query and fragment of unreserved, percent-encoded and
// sub-delimiter characters) and RFC 2673 dotted quads without leading zeros.
std::string EmailContent() {
  const std::string atom = "[A-Za-z0-9!#$%&'*+=?^_`{|}~-]+";
  const std::string label = "[A-Za-z0-9] ([A-Za-z0-9-]* [A-Za-z0-9])?";
  return absl::StrCat(atom, " (\".\" ", atom, ")* \"@\" ", label, " (\".\" ", label, ")+");
}

std::string UriContent() {
  const std::string pchar = "([A-Za-z0-9._~!$&'()*+,;=:@-] | \"%\" [0-9A-Fa-f]{2})";
  const std::string host = "[A-Za-z0-9] ([A-Za-z0-9.-]* [A-Za-z0-9])?";
  return absl::StrCat("[A-Za-z] [A-Za-z0-9+.-]* \"://\" ", host, " (\":\" [0-9]+)? (\"/\" ", pchar,
                      "*)* (\"?\" (", pchar, " | [/?])*)? (\"#\" (", pchar, " | [/?])*)?");
}

std::string Ipv4Content() {
  const std::string octet =
      "(\"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9] [0-9] | [0-9])";
  return absl::StrCat(octet, " \".\" ", octet, " \".\" ", octet, " \".\" ", octet);
}

}  // namespace

absl::StatusOr<std::string> Converter::String(const Json& s, const std::string& ptr) {
  absl::StatusOr<std::optional<int64_t>> min = Count(s, "minLength", ptr);
  if (!min.ok()) return min.status();
  absl::StatusOr<std::optional<int64_t>> max = Count(s, "maxLength", ptr);
  if (!max.ok()) return max.status();
  const int64_t lo = min->value_or(0);
  const std::optional<int64_t> hi = *max;
  if (hi && *hi < lo) return Unsatisfiable(ptr, "maxLength < minLength");
  const std::string quote = "\"\\\"\"";
  auto pattern = s.find("pattern");
  auto format = s.find("format");
  if (pattern != s.end()) {
    if (!pattern->is_string()) return Invalid(ptr + "/pattern", "pattern must be a string");
    if (format != s.end()) return Unsupported("format", ptr, "together with pattern");
    RegexLength length;
    RegexLength clamp{lo, hi};
    absl::StatusOr<std::string> expr =
        RegexToGbnfExpression(pattern->get<std::string>(), RegexTarget::kJsonStringContent, &rules_,
                              &length, lo > 0 || hi ? &clamp : nullptr);
    if (!expr.ok()) {
      return Unsupported("pattern", ptr, std::string(expr.status().message()));
    }
    // minLength/maxLength: folded into ^C{m,n}$ patterns (clamp reset), or
    // already implied by the pattern; otherwise refused.
    const bool folded = clamp.min == 0 && !clamp.max;
    if (!folded && (length.min < lo || (hi && (!length.max || *length.max > *hi)))) {
      return Unsupported(lo > length.min ? "minLength" : "maxLength", ptr,
                         "together with a pattern that does not imply it");
    }
    return rules_.Add("string-pattern", absl::StrCat(quote, " ", *expr, " ", quote));
  }
  if (format != s.end()) {
    if (!format->is_string()) return Invalid(ptr + "/format", "format must be a string");
    const std::string f = format->get<std::string>();
    std::string content;
    int64_t min_length = 0;  // the shortest and longest strings of the format
    std::optional<int64_t> max_length;
    if (f == "date") {
      content = DateContent();
      min_length = 10;
      max_length = 10;
    } else if (f == "time") {
      content = TimeContent();
      min_length = 9;
    } else if (f == "date-time") {
      content = absl::StrCat(DateContent(), " \"T\" ", TimeContent());
      min_length = 20;
    } else if (f == "uuid") {
      content = absl::StrCat(kHex, "{8} \"-\" ", kHex, "{4} \"-\" ", kHex, "{4} \"-\" ", kHex,
                             "{4} \"-\" ", kHex, "{12}");
      min_length = 36;
      max_length = 36;
    } else if (f == "email") {
      content = EmailContent();
      min_length = 5;
    } else if (f == "uri") {
      content = UriContent();
      min_length = 5;
    } else if (f == "ipv4") {
      content = Ipv4Content();
      min_length = 7;
      max_length = 15;
    } else {
      return Unsupported("format", ptr, absl::StrCat("format '", f, "' is not enforced"));
    }
    // minLength/maxLength only where the format already implies them.
    if ((hi && *hi < min_length) || (max_length && lo > *max_length)) {
      return Unsatisfiable(ptr, "format length outside minLength/maxLength");
    }
    if (lo > min_length || (hi && (!max_length || *max_length > *hi))) {
      return Unsupported("format", ptr, "together with minLength/maxLength it does not imply");
    }
    return rules_.Add(absl::StrCat("string-", f), absl::StrCat(quote, " ", content, " ", quote));
  }
  if (lo == 0 && !hi) return StringRule();
  if (lo > kMaxLength || (hi && *hi > kMaxLength)) {
    return Unsupported(hi && *hi > kMaxLength ? "maxLength" : "minLength", ptr,
                       absl::StrCat("bounds above ", kMaxLength, " are not supported"));
  }
  // One code point per item: an escape of a UTF-16 surrogate would count
  // as half of one, so those are left out here.
  const std::string counted = rules_.Add(
      "char-counted",
      absl::StrCat("[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-Ce-fE-F] ",
                   kHex, "{3} | [dD] [0-7] ", kHex, "{2}))"));
  return rules_.Add("string-len", absl::StrCat(quote, " ", Repeat(counted, lo, hi), " ", quote));
}

absl::StatusOr<std::string> Converter::Numeric(const Json& s, const std::string& ptr,
                                               bool integer) {
  if (auto m = s.find("multipleOf"); m != s.end()) {
    if (!m->is_number() || m->get<double>() <= 0)
      return Invalid(ptr + "/multipleOf", "must be a positive number");
    if (!(integer && m->get<double>() == 1.0)) return Unsupported("multipleOf", ptr);
  }
  std::optional<int64_t> lo;
  std::optional<int64_t> hi;
  std::optional<DecimalBound> dlo;  // numbers: the bounds as decimals
  std::optional<DecimalBound> dhi;
  std::optional<double> vlo;
  std::optional<double> vhi;
  const auto bound = [&](const char* key, bool is_min, bool exclusive) -> absl::Status {
    const Json& b = s[key];
    if (!b.is_number()) return Invalid(ptr + "/" + key, "must be a number");
    const double v = b.get<double>();
    if (!std::isfinite(v) || std::fabs(v) > 1e15) return Unsupported(key, ptr, "bound too large");
    if (integer) {
      const double r = is_min ? std::ceil(v) : std::floor(v);
      int64_t k = static_cast<int64_t>(r);
      if (exclusive && r == v) k += is_min ? 1 : -1;
      if (is_min) {
        lo = lo ? std::max(*lo, k) : k;
      } else {
        hi = hi ? std::min(*hi, k) : k;
      }
      return absl::OkStatus();
    }
    if (exclusive) {
      return Unsupported(key, ptr, "exclusive bounds on non-integer numbers are not supported");
    }
    // The bound's shortest spelling, as a decimal.
    const std::string text = b.dump();
    if (text.find_first_of("eE") != std::string::npos) {
      return Unsupported(key, ptr, "bounds in exponent form are not supported");
    }
    DecimalBound d;
    std::string_view t = text;
    if (!t.empty() && t[0] == '-') {
      d.negative = true;
      t.remove_prefix(1);
    }
    const size_t dot = t.find('.');
    d.int_part = std::stoll(std::string(t.substr(0, dot)));
    if (dot != std::string_view::npos) d.frac = std::string(t.substr(dot + 1));
    while (!d.frac.empty() && d.frac.back() == '0') d.frac.pop_back();
    if (is_min) {
      if (!vlo || v > *vlo) {
        vlo = v;
        dlo = d;
      }
    } else if (!vhi || v < *vhi) {
      vhi = v;
      dhi = d;
    }
    return absl::OkStatus();
  };
  const auto flag = [&](const char* key) {
    auto it = s.find(key);
    return it != s.end() && it->is_boolean() && it->get<bool>();
  };
  for (const auto& [key, is_min] :
       {std::pair<const char*, bool>{"minimum", true}, {"maximum", false}}) {
    if (s.contains(key)) {
      if (absl::Status st =
              bound(key, is_min, flag(is_min ? "exclusiveMinimum" : "exclusiveMaximum"));
          !st.ok()) {
        return st;
      }
    }
  }
  for (const auto& [key, is_min] :
       {std::pair<const char*, bool>{"exclusiveMinimum", true}, {"exclusiveMaximum", false}}) {
    if (s.contains(key) && !s[key].is_boolean()) {
      if (absl::Status st = bound(key, is_min, true); !st.ok()) return st;
    }
  }
  if ((lo && hi && *lo > *hi) || (vlo && vhi && *vlo > *vhi)) {
    return Unsatisfiable(ptr, "minimum > maximum");
  }
  if (integer) {
    if (!lo && !hi) return IntegerRule();
    return rules_.Add("integer-range", IntegerRangeGbnf(lo, hi));
  }
  if (!dlo && !dhi) return NumberRule();
  return rules_.Add("number-range", NumberRangeGbnf(dlo, dhi));
}

absl::StatusOr<std::string> Converter::Array(const Json& s, const std::string& ptr, int depth) {
  absl::StatusOr<std::optional<int64_t>> min_items = Count(s, "minItems", ptr);
  if (!min_items.ok()) return min_items.status();
  absl::StatusOr<std::optional<int64_t>> max_items = Count(s, "maxItems", ptr);
  if (!max_items.ok()) return max_items.status();
  int64_t lo = min_items->value_or(0);
  std::optional<int64_t> hi = *max_items;
  if (auto u = s.find("uniqueItems"); u != s.end() && u->is_boolean() && u->get<bool>()) {
    if (!hi || *hi > 1) return Unsupported("uniqueItems", ptr);
  }
  // Positional schemas, then the schema of the rest (nullopt: none allowed).
  std::vector<std::pair<Json, std::string>> prefix;
  std::optional<std::pair<Json, std::string>> rest = std::make_pair(Json(true), ptr);
  const auto take_prefix = [&](const Json& arr, const std::string& key) {
    for (size_t i = 0; i < arr.size(); ++i)
      prefix.emplace_back(arr[i], absl::StrCat(ptr, "/", key, "/", i));
  };
  if (auto p = s.find("prefixItems"); p != s.end()) {
    if (!p->is_array()) return Invalid(ptr + "/prefixItems", "must be an array");
    take_prefix(*p, "prefixItems");
    if (auto it = s.find("items"); it != s.end()) rest = std::make_pair(*it, ptr + "/items");
  } else if (auto it = s.find("items"); it != s.end() && it->is_array()) {
    take_prefix(*it, "items");
    if (auto a = s.find("additionalItems"); a != s.end())
      rest = std::make_pair(*a, ptr + "/additionalItems");
  } else if (it != s.end()) {
    rest = std::make_pair(*it, ptr + "/items");
  }
  if (rest && rest->first.is_boolean() && !rest->first.get<bool>()) rest.reset();
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (prefix[i].first.is_boolean() && !prefix[i].first.get<bool>()) {
      prefix.resize(i);
      rest.reset();
      break;
    }
  }
  if (!rest)
    hi = hi ? std::min<int64_t>(*hi, static_cast<int64_t>(prefix.size()))
            : static_cast<int64_t>(prefix.size());
  if (hi && *hi < lo)
    return Unsatisfiable(ptr, "minItems > maxItems (or more items required than allowed)");
  if (lo > kMaxCount || (hi && *hi > kMaxCount && static_cast<size_t>(*hi) > prefix.size())) {
    return Unsupported(lo > kMaxCount ? "minItems" : "maxItems", ptr,
                       absl::StrCat("bounds above ", kMaxCount, " are not supported"));
  }
  const std::string w = Ws();
  const std::string wsp = w.empty() ? "" : " " + w;
  const auto element = [&](size_t i) -> absl::StatusOr<std::string> {
    const auto& [schema, sptr] = i < prefix.size() ? prefix[i] : *rest;
    absl::StatusOr<std::string> v = Value(schema, sptr, depth + 1);
    if (!v.ok()) return v.status();
    return absl::StrCat(*v, wsp);
  };
  // tail(i): what may follow once i elements are written (i >= 1).
  std::string tail;
  const size_t p = prefix.size();
  if (rest && (!hi || static_cast<size_t>(*hi) > p)) {
    absl::StatusOr<std::string> e = element(p);
    if (!e.ok()) return e.status();
    const int64_t rmin = std::max<int64_t>(lo - static_cast<int64_t>(std::max<size_t>(p, 1)), 0);
    std::optional<int64_t> rmax;
    if (hi) rmax = *hi - static_cast<int64_t>(std::max<size_t>(p, 1));
    if (p == 0) {
      tail = Repeat(absl::StrCat("\",\"", wsp, " ", *e), rmin, rmax);
    } else {
      tail = Repeat(absl::StrCat("\",\"", wsp, " ", *e),
                    std::max<int64_t>(lo - static_cast<int64_t>(p), 0),
                    hi ? std::optional<int64_t>(*hi - static_cast<int64_t>(p)) : std::nullopt);
    }
  }
  std::string first;
  if (p == 0) {
    if (!rest || (hi && *hi == 0)) {
      return rules_.Add("array", absl::StrCat("\"[\"", wsp, " \"]\""));
    }
    absl::StatusOr<std::string> e = element(0);
    if (!e.ok()) return e.status();
    first = absl::StrCat(*e, tail.empty() ? "" : " " + tail);
  } else {
    const size_t last = hi ? std::min<size_t>(p, static_cast<size_t>(*hi)) : p;
    for (size_t i = last; i-- > 1;) {
      absl::StatusOr<std::string> e = element(i);
      if (!e.ok()) return e.status();
      std::string seq = absl::StrCat("\",\"", wsp, " ", *e, tail.empty() ? "" : " " + tail);
      tail = static_cast<int64_t>(i) >= lo ? absl::StrCat("(", seq, ")?") : seq;
    }
    absl::StatusOr<std::string> e = element(0);
    if (!e.ok()) return e.status();
    first = absl::StrCat(*e, tail.empty() ? "" : " " + tail);
    if (last == 0) first.clear();
  }
  const std::string items = first.empty() ? "" : (lo == 0 ? absl::StrCat("(", first, ")?") : first);
  return rules_.Add("array",
                    absl::StrCat("\"[\"", wsp, " ", items, items.empty() ? "" : " ", "\"]\""));
}

std::string Converter::KeyNotIn(const std::vector<std::string>& names) {
  if (names.empty()) return StringRule();
  // Additional keys are spelled canonically (no \u, no \/), so spelling and
  // key are one-to-one and "not a listed name" can be decided on the text.
  const std::string key_char =
      rules_.Add("key-char", "[^\"\\\\\\x00-\\x1F] | \"\\\\\" [\"\\\\bfnrt]");
  struct Node {
    std::map<uint32_t, int> kids;
    bool end = false;
  };
  std::vector<Node> trie(1);
  for (const std::string& name : names) {
    int at = 0;
    size_t pos = 0;
    uint32_t cp = 0;
    bool ok = true;
    std::vector<uint32_t> cps;
    while (pos < name.size()) {
      if (!gbnf::DecodeUtf8(name, &pos, &cp)) {
        ok = false;
        break;
      }
      if (cp < 0x20 && cp != '\b' && cp != '\f' && cp != '\n' && cp != '\r' && cp != '\t')
        ok = false;
      cps.push_back(cp);
    }
    if (!ok) continue;  // not spellable as an additional key anyway
    for (uint32_t c : cps) {
      auto it = trie[static_cast<size_t>(at)].kids.find(c);
      if (it == trie[static_cast<size_t>(at)].kids.end()) {
        trie.push_back({});
        const int id = static_cast<int>(trie.size()) - 1;
        trie[static_cast<size_t>(at)].kids[c] = id;
        at = id;
      } else {
        at = it->second;
      }
    }
    trie[static_cast<size_t>(at)].end = true;
  }
  const auto unit = [](uint32_t c) {
    switch (c) {
      case '"':
        return gbnf::Literal("\\\"");
      case '\\':
        return gbnf::Literal("\\\\");
      case '\b':
        return gbnf::Literal("\\b");
      case '\f':
        return gbnf::Literal("\\f");
      case '\n':
        return gbnf::Literal("\\n");
      case '\r':
        return gbnf::Literal("\\r");
      case '\t':
        return gbnf::Literal("\\t");
      default: {
        std::string s;
        gbnf::AppendUtf8(c, &s);
        return gbnf::Literal(s);
      }
    }
  };
  const std::string rest = absl::StrCat(key_char, "*");
  // Rules bottom-up: children have larger ids than their parent.
  std::vector<std::string> rule_of(trie.size());
  for (size_t n = trie.size(); n-- > 0;) {
    const Node& node = trie[n];
    std::vector<std::string> alts;
    gbnf::CodepointSet other = gbnf::CodepointSet::Range(0x20, gbnf::kMaxCodepoint)
                                   .Minus(gbnf::CodepointSet::Range(0xD800, 0xDFFF));
    other = other.Minus(gbnf::CodepointSet::Of('"')).Minus(gbnf::CodepointSet::Of('\\'));
    std::vector<std::string> other_escapes;
    for (uint32_t e : {uint32_t{'"'}, uint32_t{'\\'}, uint32_t{'\b'}, uint32_t{'\f'},
                       uint32_t{'\n'}, uint32_t{'\r'}, uint32_t{'\t'}}) {
      if (node.kids.count(e) == 0) other_escapes.push_back(unit(e));
    }
    for (const auto& [c, child] : node.kids) {
      alts.push_back(absl::StrCat(unit(c), " ", rule_of[static_cast<size_t>(child)]));
      other = other.Minus(gbnf::CodepointSet::Of(c));
    }
    std::vector<std::string> first;
    if (!other.empty()) first.push_back(other.ToGbnf());
    for (std::string& e : other_escapes) first.push_back(std::move(e));
    alts.push_back(absl::StrCat("(", absl::StrJoin(first, " | "), ") ", rest));
    std::string body = absl::StrJoin(alts, " | ");
    if (!node.end) body = absl::StrCat("(", body, ")?");
    rule_of[n] = rules_.Add("key-not-listed", std::move(body));
  }
  return rules_.Add("key", absl::StrCat("\"\\\"\" ", rule_of[0], " \"\\\"\""));
}

absl::StatusOr<std::string> Converter::Object(const Json& s, const std::string& ptr, int depth) {
  for (const char* k : {"patternProperties", "dependencies"}) {
    if (auto it = s.find(k); it != s.end() && !(it->is_object() && it->empty()))
      return Unsupported(k, ptr);
  }
  struct Prop {
    std::string name;
    const Json* schema;
    bool required = false;
  };
  std::vector<Prop> props;
  std::vector<std::string> listed;
  if (auto p = s.find("properties"); p != s.end()) {
    if (!p->is_object()) return Invalid(ptr + "/properties", "must be an object");
    for (const auto& [name, sub] : p->items()) {
      listed.push_back(name);
      if (sub.is_boolean() && !sub.get<bool>()) continue;  // may not appear
      props.push_back({name, &sub});
    }
  }
  const Json* additional = nullptr;  // nullptr: no additional keys
  static const Json kTrue = true;
  additional = &kTrue;
  if (auto a = s.find("additionalProperties"); a != s.end()) {
    if (a->is_boolean() && !a->get<bool>()) {
      additional = nullptr;
    } else if (!a->is_boolean() && !a->is_object()) {
      return Invalid(ptr + "/additionalProperties", "must be a boolean or a schema");
    } else {
      additional = &*a;
    }
  }
  size_t required_count = 0;
  if (auto r = s.find("required"); r != s.end()) {
    if (!r->is_array()) return Invalid(ptr + "/required", "must be an array");
    for (const Json& n : *r) {
      if (!n.is_string()) return Invalid(ptr + "/required", "must list strings");
      const std::string name = n.get<std::string>();
      auto it =
          std::find_if(props.begin(), props.end(), [&](const Prop& p) { return p.name == name; });
      if (it == props.end()) {
        if (std::find(listed.begin(), listed.end(), name) != listed.end() ||
            additional == nullptr) {
          return Unsatisfiable(ptr, absl::StrCat("required property '", name, "' is not allowed"));
        }
        // Not listed: it is one of the additional keys, so it must meet
        // additionalProperties; it gets its place after the listed ones.
        listed.push_back(name);
        props.push_back({name, additional, true});
        ++required_count;
        continue;
      }
      if (!it->required) ++required_count;
      it->required = true;
    }
  }
  if (auto m = s.find("minProperties"); m != s.end()) {
    if (!m->is_number() || m->get<double>() > static_cast<double>(required_count)) {
      return Unsupported("minProperties", ptr, "only when the required properties already meet it");
    }
  }
  if (auto m = s.find("maxProperties"); m != s.end()) {
    if (!m->is_number() || additional != nullptr ||
        m->get<double>() < static_cast<double>(props.size())) {
      return Unsupported("maxProperties", ptr, "only when every allowed property fits under it");
    }
  }
  const std::string w = Ws();
  const std::string wsp = w.empty() ? "" : " " + w;
  const std::string sep = absl::StrCat("\",\"", wsp);
  std::vector<std::string> items;
  for (const Prop& p : props) {
    absl::StatusOr<std::string> v =
        Value(*p.schema, absl::StrCat(ptr, "/properties/", PointerToken(p.name)), depth + 1);
    if (!v.ok() && !p.required && IsUnsatisfiable(v.status())) {
      items.emplace_back();  // no value fits: the property may not appear
      continue;
    }
    if (!v.ok()) return v.status();
    std::string key;
    try {
      key = Json(p.name).dump(-1, ' ', false, Json::error_handler_t::strict);
    } catch (const std::exception& e) {
      return Invalid(ptr + "/properties", e.what());
    }
    items.push_back(absl::StrCat(gbnf::Literal(key), wsp, " \":\"", wsp, " ", *v, wsp));
  }
  std::string extra;  // one additional member
  if (additional != nullptr) {
    absl::StatusOr<std::string> v = Value(*additional, ptr + "/additionalProperties", depth + 1);
    if (!v.ok()) return v.status();
    extra = absl::StrCat(KeyNotIn(listed), wsp, " \":\"", wsp, " ", *v, wsp);
  }
  // r: the rest after something was written; sv: the rest before anything.
  std::string r = extra.empty() ? "" : absl::StrCat("(", sep, " ", extra, ")*");
  std::string sv = extra.empty() ? "" : absl::StrCat("(", extra, " ", r, ")?");
  bool sv_nullable = true;
  for (size_t i = props.size(); i-- > 0;) {
    if (items[i].empty()) continue;  // forbidden (no value fits)
    const std::string r_next = r.empty() ? "" : rules_.Add("members", r);
    const std::string after = r_next.empty() ? "" : " " + r_next;
    std::string sv_new;
    if (props[i].required) {
      sv_new = absl::StrCat(items[i], after);
      sv_nullable = false;
    } else if (sv.empty()) {
      sv_new = absl::StrCat("(", items[i], after, ")?");
    } else {
      sv_new = absl::StrCat(items[i], after, " | ", rules_.Add("members", sv));
    }
    r = props[i].required ? absl::StrCat(sep, " ", items[i], after)
                          : absl::StrCat("(", sep, " ", items[i], ")?", after);
    sv = std::move(sv_new);
  }
  (void)sv_nullable;
  const std::string members = sv.empty() ? "" : rules_.Add("members", sv) + " ";
  return rules_.Add("object", absl::StrCat("\"{\"", wsp, " ", members, "\"}\""));
}

}  // namespace inferd::engine::json_schema
