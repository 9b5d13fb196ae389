// engine/structured_output/json_schema_converter.h — the JSON Schema to
// GBNF converter's state and visitor (private to engine/structured_output;
// json_schema_to_gbnf.cc walks the schema, json_schema_types.cc writes
// each JSON type's grammar).
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_JSON_SCHEMA_CONVERTER_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_JSON_SCHEMA_CONVERTER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "engine/structured_output/gbnf_writer.h"
#include "engine/structured_output/regex_to_gbnf_internal.h"
#include "nlohmann/json.hpp"

namespace inferd::engine::json_schema {

using Json = nlohmann::ordered_json;

inline constexpr size_t kMaxSchemaBytes = 4 << 20;
inline constexpr int kMaxTextDepth = 200;      // bracket nesting of the schema text
inline constexpr int kMaxVisitDepth = 160;     // schema nodes on the conversion stack
inline constexpr int64_t kMaxCount = 2000;     // largest minItems/maxItems bound
inline constexpr int64_t kMaxLength = 100000;  // largest minLength/maxLength bound
inline constexpr int kMaxMergeDepth = 32;      // allOf / $ref merges inside one another

inline std::string PointerToken(std::string_view key) {
  return absl::StrReplaceAll(std::string(key), {{"~", "~0"}, {"/", "~1"}});
}

inline std::string Where(const std::string& ptr) { return ptr.empty() ? "the root" : ptr; }

inline absl::Status Unsupported(std::string_view keyword, const std::string& ptr,
                                std::string_view why = "") {
  return absl::InvalidArgumentError(absl::StrCat("unsupported JSON Schema keyword '",
                                                 std::string(keyword), "' at ", Where(ptr),
                                                 why.empty() ? "" : ": ", std::string(why)));
}

inline absl::Status Unsatisfiable(const std::string& ptr, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("unsatisfiable JSON Schema at ", Where(ptr), ": ", std::string(why)));
}

inline bool IsUnsatisfiable(const absl::Status& s) {
  return absl::StartsWith(s.message(), "unsatisfiable JSON Schema");
}

inline absl::Status Invalid(const std::string& ptr, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid JSON Schema at ", Where(ptr), ": ", std::string(why)));
}

enum TypeBit : unsigned {
  kNull = 1,
  kBoolean = 2,
  kInteger = 4,
  kNumber = 8,  // numbers that may be fractional (kNumber implies kInteger)
  kString = 16,
  kArray = 32,
  kObject = 64,
  kAllTypes = 127,
};

inline std::optional<unsigned> TypeFromName(const std::string& name) {
  if (name == "null") return kNull;
  if (name == "boolean") return kBoolean;
  if (name == "integer") return kInteger;
  if (name == "number") return kNumber | kInteger;
  if (name == "string") return kString;
  if (name == "array") return kArray;
  if (name == "object") return kObject;
  return std::nullopt;
}

inline unsigned TypeOfValue(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return kNull;
    case Json::value_t::boolean:
      return kBoolean;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return kInteger;
    case Json::value_t::number_float:
      return kNumber;
    case Json::value_t::string:
      return kString;
    case Json::value_t::array:
      return kArray;
    case Json::value_t::object:
      return kObject;
    default:
      return 0;
  }
}

inline int64_t CodepointLength(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

class Converter {
 public:
  Converter(const Json& root, bool ws) : root_(root), ws_(ws) {}

  absl::StatusOr<std::string> Run() {
    const std::string root_name = rules_.Reserve("root");
    ref_rules_[""] = root_name;
    no_progress_.push_back("");
    absl::StatusOr<std::string> body = Schema(root_, "", 0);
    if (!body.ok()) return body.status();
    rules_.Define(root_name, *std::move(body));
    if (absl::Status s = rules_.CheckSize(); !s.ok()) return s;
    return rules_.Render();
  }

 private:
  // ---- shared base rules ----
  std::string Ws() {
    if (!ws_) return "";
    return rules_.Add("ws", "[ \\t\\n\\r]*");
  }
  // Joins GBNF pieces with optional whitespace between them.
  std::string Tokens(const std::vector<std::string>& parts) {
    const std::string sep = ws_ ? absl::StrCat(" ", Ws(), " ") : " ";
    return absl::StrJoin(parts, sep);
  }
  std::string CharRule() { return rules_.Add("char", JsonCharBody()); }
  std::string StringRule() {
    return rules_.Add("string", absl::StrCat("\"\\\"\" ", CharRule(), "* \"\\\"\""));
  }
  std::string NumberRule() {
    return rules_.Add("number",
                      "\"-\"? (\"0\" | [1-9] [0-9]*) (\".\" [0-9]+)? ([eE] [-+]? [0-9]+)?");
  }
  std::string IntegerRule() { return rules_.Add("integer", "\"-\"? (\"0\" | [1-9] [0-9]*)"); }
  std::string BooleanRule() { return rules_.Add("boolean", "\"true\" | \"false\""); }
  std::string ValueRule() {
    if (!value_rule_.empty()) return value_rule_;
    value_rule_ = rules_.Reserve("value");
    const std::string object = rules_.Reserve("object");
    const std::string array = rules_.Reserve("array");
    const std::string w = Ws();
    const std::string wsp = w.empty() ? "" : " " + w;
    const std::string member =
        absl::StrCat(StringRule(), wsp, " \":\"", wsp, " ", value_rule_, wsp);
    rules_.Define(object, absl::StrCat("\"{\"", wsp, " (", member, " (\",\"", wsp, " ", member,
                                       ")*)? \"}\""));
    rules_.Define(array, absl::StrCat("\"[\"", wsp, " (", value_rule_, wsp, " (\",\"", wsp, " ",
                                      value_rule_, wsp, ")*)? \"]\""));
    rules_.Define(value_rule_, absl::StrCat(object, " | ", array, " | ", StringRule(), " | ",
                                            NumberRule(), " | ", BooleanRule(), " | \"null\""));
    return value_rule_;
  }

  // ---- literal values (enum, const) ----
  absl::StatusOr<std::string> LiteralValue(const Json& v) {
    try {
      if (v.is_object()) {
        if (v.empty()) return Tokens({"\"{\"", "\"}\""});
        std::vector<std::string> parts = {"\"{\""};
        bool first = true;
        for (const auto& [k, val] : v.items()) {
          if (!first) parts.push_back("\",\"");
          first = false;
          absl::StatusOr<std::string> lv = LiteralValue(val);
          if (!lv.ok()) return lv.status();
          parts.push_back(
              gbnf::Literal(Json(k).dump(-1, ' ', false, Json::error_handler_t::strict)));
          parts.push_back("\":\"");
          parts.push_back(*lv);
        }
        parts.push_back("\"}\"");
        return absl::StrCat("(", Tokens(parts), ")");
      }
      if (v.is_array()) {
        if (v.empty()) return Tokens({"\"[\"", "\"]\""});
        std::vector<std::string> parts = {"\"[\""};
        bool first = true;
        for (const Json& e : v) {
          if (!first) parts.push_back("\",\"");
          first = false;
          absl::StatusOr<std::string> lv = LiteralValue(e);
          if (!lv.ok()) return lv.status();
          parts.push_back(*lv);
        }
        parts.push_back("\"]\"");
        return absl::StrCat("(", Tokens(parts), ")");
      }
      return gbnf::Literal(v.dump(-1, ' ', false, Json::error_handler_t::strict));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("JSON Schema: a value cannot be written: ", e.what()));
    }
  }

  // ---- the visitor ----
  absl::StatusOr<std::string> Schema(const Json& s, const std::string& ptr, int depth);
  absl::StatusOr<std::string> Ref(const std::string& ref, const std::string& ptr, int depth);
  absl::StatusOr<const Json*> Resolve(const std::string& ref, const std::string& ptr,
                                      std::string* target_ptr);
  absl::StatusOr<Json> Merge(const Json& s, const std::string& ptr, int merge_depth);
  absl::StatusOr<std::string> Typed(const Json& s, const std::string& ptr, int depth);
  absl::StatusOr<std::optional<std::string>> OneOfRequired(const Json& rest, const Json& list,
                                                           const std::string& ptr, int depth);
  absl::StatusOr<bool> Disjoint(const Json& a, const Json& b, const std::string& ptr);
  absl::StatusOr<bool> EnumValueOk(const Json& v, const Json& s, const std::string& ptr);
  absl::StatusOr<std::string> Enum(const Json& s, const std::string& ptr, unsigned types);
  absl::StatusOr<std::string> String(const Json& s, const std::string& ptr);
  absl::StatusOr<std::string> Numeric(const Json& s, const std::string& ptr, bool integer);
  absl::StatusOr<std::string> Array(const Json& s, const std::string& ptr, int depth);
  absl::StatusOr<std::string> Object(const Json& s, const std::string& ptr, int depth);
  absl::StatusOr<std::string> Alternatives(const Json& s, const std::string& key,
                                           const std::string& ptr, int depth);
  absl::StatusOr<std::string> Value(const Json& s, const std::string& ptr, int depth) {
    // A value inside an object or array: its bytes are preceded by '{' or
    // '[', so any $ref cycle through here makes progress.
    std::vector<std::string> saved;
    saved.swap(no_progress_);
    absl::StatusOr<std::string> r = Schema(s, ptr, depth);
    saved.swap(no_progress_);
    return r;
  }
  std::string KeyNotIn(const std::vector<std::string>& names);

  const Json& root_;
  const bool ws_;
  gbnf::RuleSet rules_;
  std::string value_rule_;
  std::map<std::string, std::string> ref_rules_;  // target pointer -> rule name
  std::vector<std::string> no_progress_;          // $ref targets entered since the last '{' / '['
};

}  // namespace inferd::engine::json_schema

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_JSON_SCHEMA_CONVERTER_H_
