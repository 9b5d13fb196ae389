// engine/structured_output/json_schema_to_gbnf.cc — JSON Schema as GBNF:
// the walk over the schema ($ref, allOf, anyOf, oneOf, enum, type); each
// type's grammar is in json_schema_types.cc. docs/structured-output.md
// lists the subset and the choices made.
//
// A keyword that the grammar cannot enforce exactly is an INVALID_ARGUMENT
// naming it and its JSON pointer: refusing a schema is incomplete, letting
// an invalid instance through would be wrong. Keywords that are no part of
// any JSON Schema vocabulary (x-*, vendor annotations) have no meaning to a
// validator and are ignored.
#include <set>

#include "absl/strings/match.h"
#include "common/json_fields.h"

#include "engine/structured_output/constraint_to_gbnf.h"
#include "engine/structured_output/json_schema_converter.h"

namespace inferd::engine {
namespace json_schema {
namespace {

const std::set<std::string, std::less<>>& Annotations() {
  static const auto* s = new std::set<std::string, std::less<>>{"title",
                                                                "description",
                                                                "$comment",
                                                                "examples",
                                                                "example",
                                                                "default",
                                                                "$schema",
                                                                "$id",
                                                                "id",
                                                                "deprecated",
                                                                "readOnly",
                                                                "writeOnly",
                                                                "contentMediaType",
                                                                "contentEncoding",
                                                                "contentSchema",
                                                                "$anchor",
                                                                "$vocabulary",
                                                                "definitions",
                                                                "$defs",
                                                                "nullable"};
  return *s;
}

// Validation keywords of the JSON Schema drafts (3 to 2020-12) that this
// converter enforces; the others of those drafts are refused.
const std::set<std::string, std::less<>>& Handled() {
  static const auto* s = new std::set<std::string, std::less<>>{"type",
                                                                "enum",
                                                                "const",
                                                                "properties",
                                                                "required",
                                                                "additionalProperties",
                                                                "items",
                                                                "prefixItems",
                                                                "additionalItems",
                                                                "minItems",
                                                                "maxItems",
                                                                "minLength",
                                                                "maxLength",
                                                                "pattern",
                                                                "format",
                                                                "minimum",
                                                                "maximum",
                                                                "exclusiveMinimum",
                                                                "exclusiveMaximum",
                                                                "multipleOf",
                                                                "anyOf",
                                                                "oneOf",
                                                                "allOf",
                                                                "$ref",
                                                                "minProperties",
                                                                "maxProperties",
                                                                "uniqueItems",
                                                                "patternProperties",
                                                                "dependencies"};
  return *s;
}

const std::set<std::string, std::less<>>& Refused() {
  static const auto* s = new std::set<std::string, std::less<>>{"not",
                                                                "if",
                                                                "then",
                                                                "else",
                                                                "contains",
                                                                "minContains",
                                                                "maxContains",
                                                                "propertyNames",
                                                                "dependentRequired",
                                                                "dependentSchemas",
                                                                "unevaluatedProperties",
                                                                "unevaluatedItems",
                                                                "$dynamicRef",
                                                                "$recursiveRef",
                                                                "$dynamicAnchor",
                                                                "$recursiveAnchor",
                                                                "disallow",
                                                                "extends",
                                                                "divisibleBy"};
  return *s;
}

bool OnlyAnnotationsBesides(const Json& s, std::string_view keep) {
  for (const auto& [k, v] : s.items()) {
    if (k != keep && Annotations().count(k) == 0 && Handled().count(k) == 0 &&
        Refused().count(k) == 0) {
      continue;  // unknown: no meaning
    }
    if (k != keep && Annotations().count(k) == 0) return false;
  }
  return true;
}

unsigned TypesOf(const Json& s) {
  if (!s.is_object())
    return s.is_boolean() && !s.get<bool>() ? 0u : static_cast<unsigned>(kAllTypes);
  unsigned types = kAllTypes;
  auto t = s.find("type");
  if (t != s.end()) {
    unsigned acc = 0;
    if (t->is_string()) {
      acc = TypeFromName(t->get<std::string>()).value_or(0);
    } else if (t->is_array()) {
      for (const Json& n : *t) {
        if (n.is_string()) acc |= TypeFromName(n.get<std::string>()).value_or(0);
      }
    }
    types = acc;
  }
  const auto literal_types = [](const Json& values) {
    unsigned acc = 0;
    for (const Json& v : values)
      acc |= TypeOfValue(v) == kNumber ? static_cast<unsigned>(kNumber | kInteger)
                                       : static_cast<unsigned>(TypeOfValue(v));
    return acc;
  };
  if (auto e = s.find("enum"); e != s.end() && e->is_array()) types &= literal_types(*e);
  if (auto c = s.find("const"); c != s.end()) types &= literal_types(Json::array({*c}));
  return types;
}

}  // namespace

absl::StatusOr<const Json*> Converter::Resolve(const std::string& ref, const std::string& ptr,
                                               std::string* target_ptr) {
  if (ref.empty() || ref[0] != '#') {
    return Unsupported(
        "$ref", ptr, absl::StrCat("only local references ('#...') are supported, not '", ref, "'"));
  }
  std::string pointer = ref.substr(1);
  // Percent-decoding of the fragment (only %25-style escapes of ASCII).
  std::string decoded;
  for (size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] == '%' && i + 2 < pointer.size()) {
      const std::string hex = pointer.substr(i + 1, 2);
      char* end = nullptr;
      const long v = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        decoded.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    decoded.push_back(pointer[i]);
  }
  if (!decoded.empty() && decoded[0] != '/') {
    return Unsupported("$ref", ptr,
                       absl::StrCat("anchor references ('", ref, "') are not supported"));
  }
  const Json* node = &root_;
  size_t pos = 0;
  while (pos < decoded.size()) {
    const size_t next = decoded.find('/', pos + 1);
    std::string token =
        decoded.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    token = absl::StrReplaceAll(token, {{"~1", "/"}, {"~0", "~"}});
    if (node->is_object()) {
      auto it = node->find(token);
      if (it == node->end()) return Invalid(ptr, absl::StrCat("$ref '", ref, "' points nowhere"));
      node = &*it;
    } else if (node->is_array()) {
      char* end = nullptr;
      const long idx = std::strtol(token.c_str(), &end, 10);
      if (token.empty() || *end != '\0' || idx < 0 || static_cast<size_t>(idx) >= node->size()) {
        return Invalid(ptr, absl::StrCat("$ref '", ref, "' points nowhere"));
      }
      node = &(*node)[static_cast<size_t>(idx)];
    } else {
      return Invalid(ptr, absl::StrCat("$ref '", ref, "' points nowhere"));
    }
    if (next == std::string::npos) break;
    pos = next;
  }
  *target_ptr = decoded;
  return node;
}

absl::StatusOr<std::string> Converter::Ref(const std::string& ref, const std::string& ptr,
                                           int depth) {
  std::string target_ptr;
  absl::StatusOr<const Json*> target = Resolve(ref, ptr, &target_ptr);
  if (!target.ok()) return target.status();
  if (std::find(no_progress_.begin(), no_progress_.end(), target_ptr) != no_progress_.end()) {
    return Invalid(
        ptr,
        absl::StrCat("$ref '", ref,
                     "' is a cycle that never reaches an object or array (infinite recursion)"));
  }
  auto known = ref_rules_.find(target_ptr);
  if (known != ref_rules_.end()) return known->second;
  std::string hint = target_ptr.substr(target_ptr.rfind('/') + 1);
  const std::string name = rules_.Reserve(hint.empty() ? "ref" : hint);
  ref_rules_[target_ptr] = name;
  no_progress_.push_back(target_ptr);
  absl::StatusOr<std::string> body = Schema(**target, target_ptr, depth + 1);
  no_progress_.pop_back();
  if (!body.ok()) return body.status();
  rules_.Define(name, *std::move(body));
  return name;
}

// One schema object equivalent to `s` with its $ref and allOf folded in.
absl::StatusOr<Json> Converter::Merge(const Json& s, const std::string& ptr, int merge_depth) {
  if (merge_depth > kMaxMergeDepth) {
    return Invalid(ptr, "allOf / $ref nested too deeply (or a $ref cycle)");
  }
  std::vector<Json> parts;
  Json self = s;
  self.erase("allOf");
  self.erase("$ref");
  parts.push_back(std::move(self));
  if (auto r = s.find("$ref"); r != s.end()) {
    if (!r->is_string()) return Invalid(ptr, "$ref must be a string");
    std::string target_ptr;
    absl::StatusOr<const Json*> target = Resolve(r->get<std::string>(), ptr, &target_ptr);
    if (!target.ok()) return target.status();
    if (std::find(no_progress_.begin(), no_progress_.end(), target_ptr) != no_progress_.end()) {
      return Invalid(ptr, absl::StrCat("$ref '", r->get<std::string>(),
                                       "' is a cycle that never reaches an object or array"));
    }
    if ((*target)->is_boolean()) {
      if (!(*target)->get<bool>()) return Unsatisfiable(ptr, "$ref to the schema false");
    } else if (!(*target)->is_object()) {
      return Invalid(ptr, "$ref target is not a schema");
    } else {
      no_progress_.push_back(target_ptr);
      absl::StatusOr<Json> m = Merge(**target, target_ptr, merge_depth + 1);
      no_progress_.pop_back();
      if (!m.ok()) return m.status();
      parts.push_back(*std::move(m));
    }
  }
  if (auto a = s.find("allOf"); a != s.end()) {
    if (!a->is_array() || a->empty())
      return Invalid(ptr + "/allOf", "allOf must be a non-empty array");
    for (size_t i = 0; i < a->size(); ++i) {
      const Json& sub = (*a)[i];
      const std::string sub_ptr = absl::StrCat(ptr, "/allOf/", i);
      if (sub.is_boolean()) {
        if (!sub.get<bool>()) return Unsatisfiable(sub_ptr, "allOf contains the schema false");
        continue;
      }
      if (!sub.is_object()) return Invalid(sub_ptr, "a schema must be an object or a boolean");
      absl::StatusOr<Json> m = Merge(sub, sub_ptr, merge_depth + 1);
      if (!m.ok()) return m.status();
      parts.push_back(*std::move(m));
    }
  }
  if (parts.size() == 1) return parts[0];
  Json out = Json::object();
  std::set<std::string> all_names;
  for (const Json& p : parts) {
    if (auto props = p.find("properties"); props != p.end() && props->is_object()) {
      for (const auto& [k, v] : props->items()) all_names.insert(k);
    }
  }
  std::vector<Json> additional;  // additionalProperties other than true
  for (const Json& p : parts) {
    for (const auto& [k, v] : p.items()) {
      if (Annotations().count(k) != 0) continue;
      if (k == "additionalProperties") {
        if (v.is_boolean() && v.get<bool>()) continue;
        for (const std::string& name : all_names) {
          auto props = p.find("properties");
          if (props == p.end() || !props->is_object() || !props->contains(name)) {
            return Unsupported(
                "allOf", ptr,
                absl::StrCat("property '", name, "' meets another branch's additionalProperties"));
          }
        }
        additional.push_back(v);
        continue;
      }
      auto have = out.find(k);
      if (have == out.end()) {
        out[k] = v;
        continue;
      }
      if (*have == v) continue;
      if (k == "properties" && v.is_object() && have->is_object()) {
        for (const auto& [name, sub] : v.items()) {
          auto existing = have->find(name);
          if (existing == have->end()) {
            (*have)[name] = sub;
          } else if (*existing != sub) {
            (*have)[name] = Json{{"allOf", Json::array({*existing, sub})}};
          }
        }
      } else if (k == "required" && v.is_array() && have->is_array()) {
        for (const Json& r : v) {
          if (std::find(have->begin(), have->end(), r) == have->end()) have->push_back(r);
        }
      } else if (k == "type") {
        Json a = Json{{"type", *have}};
        Json b = Json{{"type", v}};
        const unsigned t = TypesOf(a) & TypesOf(b);
        Json names = Json::array();
        for (const char* n :
             {"null", "boolean", "integer", "number", "string", "array", "object"}) {
          const unsigned bit = *TypeFromName(n);
          if ((t & bit) == bit && !(std::string(n) == "integer" && (t & kNumber) != 0))
            names.push_back(n);
        }
        *have = names;
      } else if ((k == "items" || k == "additionalItems") && v.is_object() && have->is_object()) {
        *have = Json{{"allOf", Json::array({*have, v})}};
      } else if ((k == "minimum" || k == "minLength" || k == "minItems" || k == "minProperties") &&
                 v.is_number() && have->is_number()) {
        if (v > *have) *have = v;
      } else if ((k == "maximum" || k == "maxLength" || k == "maxItems" || k == "maxProperties") &&
                 v.is_number() && have->is_number()) {
        if (v < *have) *have = v;
      } else {
        return Unsupported(k, ptr, "allOf branches give it different values");
      }
    }
  }
  if (!additional.empty()) {
    bool any_false = false;
    for (const Json& a : additional) any_false |= a.is_boolean() && !a.get<bool>();
    if (any_false) {
      out["additionalProperties"] = false;
    } else if (additional.size() == 1) {
      out["additionalProperties"] = additional[0];
    } else {
      out["additionalProperties"] = Json{{"allOf", additional}};
    }
  }
  if (out.contains("$ref") || out.contains("allOf")) return Merge(out, ptr, merge_depth + 1);
  return out;
}

absl::StatusOr<std::string> Converter::Schema(const Json& s, const std::string& ptr, int depth) {
  if (depth > kMaxVisitDepth) return Invalid(ptr, "schema nested too deeply");
  if (absl::Status size = rules_.CheckSize(); !size.ok()) return size;
  if (s.is_boolean()) {
    if (s.get<bool>()) return ValueRule();
    return Unsatisfiable(ptr, "the schema false admits no value");
  }
  if (!s.is_object()) return Invalid(ptr, "a schema must be an object or a boolean");
  for (const auto& [k, v] : s.items()) {
    if (Refused().count(k) != 0) return Unsupported(k, ptr);
  }
  if (s.contains("$ref") && OnlyAnnotationsBesides(s, "$ref")) {
    const Json& r = s["$ref"];
    if (!r.is_string()) return Invalid(ptr, "$ref must be a string");
    return Ref(r.get<std::string>(), ptr, depth);
  }
  if (s.contains("$ref") || s.contains("allOf")) {
    absl::StatusOr<Json> merged = Merge(s, ptr, 0);
    if (!merged.ok()) return merged.status();
    return Schema(*merged, ptr, depth + 1);
  }
  if (s.contains("anyOf") && s.contains("oneOf")) {
    return Unsupported("oneOf", ptr, "anyOf and oneOf in one schema");
  }
  if (s.contains("anyOf")) return Alternatives(s, "anyOf", ptr, depth);
  if (s.contains("oneOf")) return Alternatives(s, "oneOf", ptr, depth);
  return Typed(s, ptr, depth);
}

absl::StatusOr<bool> Converter::Disjoint(const Json& a, const Json& b, const std::string& ptr) {
  const unsigned ta = TypesOf(a);
  const unsigned tb = TypesOf(b);
  if ((ta & tb) == 0) return true;
  const auto literals = [](const Json& s) -> std::optional<std::set<std::string>> {
    if (!s.is_object()) return std::nullopt;
    std::set<std::string> out;
    if (auto c = s.find("const"); c != s.end()) {
      out.insert(c->dump());
      return out;
    }
    if (auto e = s.find("enum"); e != s.end() && e->is_array()) {
      for (const Json& v : *e) out.insert(v.dump());
      return out;
    }
    return std::nullopt;
  };
  const auto la = literals(a);
  const auto lb = literals(b);
  if (la && lb) {
    bool overlap = false;
    for (const std::string& v : *la) overlap |= lb->count(v) != 0;
    if (!overlap) return true;
  }
  if ((ta & tb) != kObject || !a.is_object() || !b.is_object()) return false;
  // Both only objects: a required property with disjoint constants, or a
  // required property that the other branch forbids.
  const auto required = [](const Json& s) {
    std::set<std::string> out;
    if (auto r = s.find("required"); r != s.end() && r->is_array()) {
      for (const Json& n : *r) {
        if (n.is_string()) out.insert(n.get<std::string>());
      }
    }
    return out;
  };
  const auto prop = [&](const Json& s, const std::string& name) -> std::optional<Json> {
    auto props = s.find("properties");
    if (props == s.end() || !props->is_object() || !props->contains(name)) return std::nullopt;
    const Json& p = (*props)[name];
    if (p.is_object() && p.contains("$ref")) {
      std::string tp;
      absl::StatusOr<const Json*> t = Resolve(p["$ref"].get<std::string>(), ptr, &tp);
      if (t.ok() && OnlyAnnotationsBesides(p, "$ref")) return **t;
      return std::nullopt;
    }
    return p;
  };
  const auto forbids = [&](const Json& s, const std::string& name) {
    auto ap = s.find("additionalProperties");
    const bool closed = ap != s.end() && ap->is_boolean() && !ap->get<bool>();
    std::optional<Json> p = prop(s, name);
    if (p) return p->is_boolean() && !p->get<bool>();
    return closed && !s.contains("patternProperties");
  };
  const std::set<std::string> ra = required(a);
  const std::set<std::string> rb = required(b);
  for (const std::string& name : ra) {
    if (forbids(b, name)) return true;
    if (rb.count(name) == 0) continue;
    std::optional<Json> pa = prop(a, name);
    std::optional<Json> pb = prop(b, name);
    if (!pa || !pb) continue;
    const auto lpa = literals(*pa);
    const auto lpb = literals(*pb);
    if (!lpa || !lpb) continue;
    bool overlap = false;
    for (const std::string& v : *lpa) overlap |= lpb->count(v) != 0;
    if (!overlap) return true;
  }
  for (const std::string& name : rb) {
    if (forbids(a, name)) return true;
  }
  return false;
}

absl::StatusOr<std::string> Converter::Alternatives(const Json& s, const std::string& key,
                                                    const std::string& ptr, int depth) {
  const Json& list = s[key];
  if (!list.is_array() || list.empty())
    return Invalid(ptr + "/" + key, key + " must be a non-empty array");
  Json rest = s;
  rest.erase(key);
  const bool plain = OnlyAnnotationsBesides(rest, "");
  if (key == "oneOf" && list.size() >= 2) {
    absl::StatusOr<std::optional<std::string>> presence = OneOfRequired(rest, list, ptr, depth);
    if (!presence.ok()) return presence.status();
    if (presence->has_value()) return **presence;
  }
  std::vector<Json> branches;
  std::vector<std::string> alts;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string bptr = absl::StrCat(ptr, "/", key, "/", i);
    if (list[i].is_boolean() && !list[i].get<bool>()) continue;  // admits nothing
    Json branch = list[i];
    if (!plain) branch = Json{{"allOf", Json::array({rest, list[i]})}};
    if (key == "oneOf") {
      absl::StatusOr<Json> merged =
          branch.is_object() ? Merge(branch, bptr, 0) : absl::StatusOr<Json>(branch);
      if (!merged.ok()) return merged.status();
      for (const Json& other : branches) {
        absl::StatusOr<bool> d = Disjoint(other, *merged, ptr);
        if (!d.ok()) return d.status();
        if (!*d) {
          return Unsupported("oneOf", ptr,
                             absl::StrCat("branch ", i,
                                          " may overlap an earlier branch (only "
                                          "branches of different types, constants or required "
                                          "discriminating properties are enforced)"));
        }
      }
      branches.push_back(*std::move(merged));
    }
    absl::StatusOr<std::string> alt = Schema(branch, bptr, depth + 1);
    if (!alt.ok()) {
      // An unsatisfiable branch of an alternation admits nothing.
      if (absl::StrContains(alt.status().message(), "unsatisfiable")) continue;
      return alt.status();
    }
    if (std::find(alts.begin(), alts.end(), *alt) == alts.end()) alts.push_back(*std::move(alt));
  }
  if (alts.empty())
    return Unsatisfiable(ptr, absl::StrCat("no branch of ", key, " can be satisfied"));
  if (alts.size() == 1) return alts[0];
  return rules_.Add(key, absl::StrJoin(alts, " | "));
}

// oneOf whose branches only list `required` names (["a"] / ["b"]: exactly
// one of them present). Every branch matches a non-object, so the instance
// is an object; for objects, the presence pattern of the names involved
// decides. Each pattern with exactly one matching branch becomes an object
// variant with those names required and the others forbidden; the variants
// are disjoint. nullopt when the branches have another shape.
absl::StatusOr<std::optional<std::string>> Converter::OneOfRequired(const Json& rest,
                                                                    const Json& list,
                                                                    const std::string& ptr,
                                                                    int depth) {
  std::vector<std::vector<std::string>> required;
  std::vector<std::string> names;
  for (const Json& b : list) {
    if (!b.is_object() || !b.contains("required") || !b["required"].is_array() ||
        !OnlyAnnotationsBesides(b, "required")) {
      return std::optional<std::string>();
    }
    std::vector<std::string> r;
    for (const Json& n : b["required"]) {
      if (!n.is_string()) return std::optional<std::string>();
      r.push_back(n.get<std::string>());
      if (std::find(names.begin(), names.end(), r.back()) == names.end()) names.push_back(r.back());
    }
    required.push_back(std::move(r));
  }
  if (names.size() > 8) return Unsupported("oneOf", ptr, "more than 8 required names in branches");
  if ((TypesOf(rest) & kObject) == 0)
    return Unsatisfiable(ptr, "oneOf of required lists on a non-object");
  std::vector<std::string> alts;
  for (uint32_t mask = 0; mask < (1u << names.size()); ++mask) {
    int matching = 0;
    for (const std::vector<std::string>& r : required) {
      bool all = true;
      for (const std::string& n : r) {
        const size_t bit =
            static_cast<size_t>(std::find(names.begin(), names.end(), n) - names.begin());
        all &= (mask >> bit & 1u) != 0;
      }
      matching += all;
    }
    if (matching != 1) continue;
    Json variant = rest;
    variant["type"] = "object";
    if (!variant.contains("properties") || !variant["properties"].is_object())
      variant["properties"] = Json::object();
    if (!variant.contains("required") || !variant["required"].is_array())
      variant["required"] = Json::array();
    for (size_t bit = 0; bit < names.size(); ++bit) {
      if (mask >> bit & 1u) {
        variant["required"].push_back(names[bit]);
      } else {
        variant["properties"][names[bit]] = false;
      }
    }
    absl::StatusOr<std::string> alt = Schema(variant, ptr, depth + 1);
    if (!alt.ok()) {
      if (IsUnsatisfiable(alt.status())) continue;
      return alt.status();
    }
    alts.push_back(*std::move(alt));
  }
  if (alts.empty()) return Unsatisfiable(ptr, "no object meets exactly one branch of oneOf");
  if (alts.size() == 1) return std::optional<std::string>(alts[0]);
  return std::optional<std::string>(rules_.Add("oneOf", absl::StrJoin(alts, " | ")));
}

absl::StatusOr<std::string> Converter::Typed(const Json& s, const std::string& ptr, int depth) {
  unsigned types = kAllTypes;
  if (auto t = s.find("type"); t != s.end()) {
    types = 0;
    std::vector<Json> names;
    if (t->is_string()) {
      names.push_back(*t);
    } else if (t->is_array()) {
      names.assign(t->begin(), t->end());
    } else {
      return Invalid(ptr + "/type", "type must be a string or an array of strings");
    }
    for (const Json& n : names) {
      std::optional<unsigned> bit =
          n.is_string() ? TypeFromName(n.get<std::string>()) : std::nullopt;
      if (!bit) return Invalid(ptr + "/type", absl::StrCat("unknown type ", n.dump()));
      types |= *bit;
    }
    if (types == 0) return Unsatisfiable(ptr, "type is an empty list");
  }
  if (s.contains("enum") || s.contains("const")) return Enum(s, ptr, types);
  std::vector<std::string> alts;
  const auto add = [&](absl::StatusOr<std::string> r) -> absl::Status {
    if (!r.ok()) return r.status();
    alts.push_back(*std::move(r));
    return absl::OkStatus();
  };
  if (types & kNull) alts.push_back("\"null\"");
  if (types & kBoolean) alts.push_back(BooleanRule());
  if (types & kNumber) {
    if (absl::Status st = add(Numeric(s, ptr, /*integer=*/false)); !st.ok()) return st;
  } else if (types & kInteger) {
    if (absl::Status st = add(Numeric(s, ptr, /*integer=*/true)); !st.ok()) return st;
  }
  if (types & kString) {
    if (absl::Status st = add(String(s, ptr)); !st.ok()) return st;
  }
  if (types & kArray) {
    if (absl::Status st = add(Array(s, ptr, depth)); !st.ok()) return st;
  }
  if (types & kObject) {
    if (absl::Status st = add(Object(s, ptr, depth)); !st.ok()) return st;
  }
  if (alts.size() == 1) return alts[0];
  return absl::StrCat("(", absl::StrJoin(alts, " | "), ")");
}

absl::StatusOr<std::string> Converter::Enum(const Json& s, const std::string& ptr, unsigned types) {
  std::vector<Json> values;
  if (auto e = s.find("enum"); e != s.end()) {
    if (!e->is_array()) return Invalid(ptr + "/enum", "enum must be an array");
    values.assign(e->begin(), e->end());
  }
  if (auto c = s.find("const"); c != s.end()) {
    if (s.contains("enum")) {
      const bool in = std::find(values.begin(), values.end(), *c) != values.end();
      values.clear();
      if (in) values.push_back(*c);
    } else {
      values.push_back(*c);
    }
  }
  std::vector<std::string> alts;
  std::set<std::string> seen;
  for (const Json& v : values) {
    unsigned t = TypeOfValue(v);
    if (t == kInteger && (types & kInteger) == 0) continue;
    if (t == kNumber && (types & kNumber) == 0) continue;
    if (t != kInteger && t != kNumber && (types & t) == 0) continue;
    absl::StatusOr<bool> ok = EnumValueOk(v, s, ptr);
    if (!ok.ok()) return ok.status();
    if (!*ok) continue;
    absl::StatusOr<std::string> lit = LiteralValue(v);
    if (!lit.ok()) return lit.status();
    if (seen.insert(*lit).second) alts.push_back(*std::move(lit));
  }
  if (alts.empty()) return Unsatisfiable(ptr, "no value of enum/const satisfies the schema");
  if (alts.size() == 1) return alts[0];
  return rules_.Add("enum", absl::StrJoin(alts, " | "));
}

// Whether enum value `v` meets the schema's other keywords (those that
// apply to its type); keywords this check cannot evaluate are refused.
absl::StatusOr<bool> Converter::EnumValueOk(const Json& v, const Json& s, const std::string& ptr) {
  for (const auto& [k, kv] : s.items()) {
    if (k == "type" || k == "enum" || k == "const" || Annotations().count(k) != 0) continue;
    if (Handled().count(k) == 0) continue;  // unknown keyword
    const bool is_str = v.is_string();
    const bool is_num = v.is_number();
    if (k == "minLength" || k == "maxLength") {
      if (!is_str) continue;
      if (!kv.is_number()) return Invalid(ptr + "/" + k, "must be a number");
      const int64_t len = CodepointLength(v.get<std::string>());
      if (k == "minLength" ? len < kv.get<double>() : len > kv.get<double>()) return false;
      continue;
    }
    if (k == "minimum" || k == "maximum") {
      if (!is_num) continue;
      if (!kv.is_number()) return Invalid(ptr + "/" + k, "must be a number");
      const bool excl = s.contains(k == "minimum" ? "exclusiveMinimum" : "exclusiveMaximum") &&
                        s[k == "minimum" ? "exclusiveMinimum" : "exclusiveMaximum"].is_boolean() &&
                        s[k == "minimum" ? "exclusiveMinimum" : "exclusiveMaximum"].get<bool>();
      const double x = v.get<double>();
      const double b = kv.get<double>();
      if (k == "minimum" ? (excl ? x <= b : x < b) : (excl ? x >= b : x > b)) return false;
      continue;
    }
    if (k == "exclusiveMinimum" || k == "exclusiveMaximum") {
      if (!is_num || kv.is_boolean()) continue;
      if (!kv.is_number()) return Invalid(ptr + "/" + k, "must be a number");
      const double x = v.get<double>();
      if (k == "exclusiveMinimum" ? x <= kv.get<double>() : x >= kv.get<double>()) return false;
      continue;
    }
    const bool string_kw = k == "pattern" || k == "format";
    const bool number_kw = k == "multipleOf";
    if ((string_kw && !is_str) || (number_kw && !is_num)) continue;
    if (!string_kw && !number_kw && !v.is_array() && !v.is_object())
      continue;  // array/object keyword
    return Unsupported(k, ptr, "together with enum or const");
  }
  return true;
}

}  // namespace json_schema

absl::StatusOr<std::string> JsonSchemaToGbnf(std::string_view schema_json, bool allow_whitespace) {
  if (schema_json.size() > json_schema::kMaxSchemaBytes) {
    return absl::InvalidArgumentError(absl::StrCat("JSON Schema is ", schema_json.size(),
                                                   " bytes; the limit is ",
                                                   json_schema::kMaxSchemaBytes));
  }
  // Bound the nesting before parsing (the parser and the walk recurse).
  if (FindJsonNestingPast(schema_json, json_schema::kMaxTextDepth).has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON Schema nested deeper than ", json_schema::kMaxTextDepth, " levels"));
  }
  json_schema::Json schema;
  try {
    schema = json_schema::Json::parse(schema_json);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("JSON Schema is not valid JSON: ", e.what()));
  }
  if (!schema.is_object() && !schema.is_boolean()) {
    return absl::InvalidArgumentError("JSON Schema must be an object or a boolean");
  }
  try {
    return json_schema::Converter(schema, allow_whitespace).Run();
  } catch (const std::exception& e) {  // a malformed keyword value nlohmann refused to read
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON Schema: ", e.what()));
  }
}

}  // namespace inferd::engine
