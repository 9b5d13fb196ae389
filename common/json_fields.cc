// common/json_fields.cc — see json_fields.h.
#include "common/json_fields.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/regular_file.h"

namespace inferd {
namespace {

// Debian's abseil has its own absl::string_view, which does not convert
// from std::string_view.
absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Integer value of `v` when it is a JSON integer that fits in int64.
std::optional<int64_t> AsInt64(const Json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

// "<where>.<key> is not <what>" as INVALID_ARGUMENT (the Get* style).
absl::Status NotA(const std::string& where, std::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ".", ToAbsl(key), " is not ", what));
}

}  // namespace

absl::StatusOr<std::string> ReadTextFile(const std::string& path, int64_t max_bytes) {
  return ReadRegularFile(path, max_bytes);
}

std::optional<size_t> FindJsonNestingPast(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return i;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return std::nullopt;
}

absl::StatusOr<Json> ParseJson(absl::string_view text, const std::string& origin) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": invalid JSON: ", e.what()));
  }
}

const char* JsonTypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a floating-point number";
    default:
      return "an unsupported JSON value";
  }
}

const Json* FindField(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// --- JsonFields ---

const Json* JsonFields::Find(absl::string_view key) const {
  return FindField(object_, std::string_view(key.data(), key.size()));
}

absl::Status JsonFields::Error(absl::string_view key, absl::string_view what) const {
  return absl::InvalidArgumentError(absl::StrCat(origin_, ": field `", prefix_, key, "`: ", what));
}

absl::StatusOr<int64_t> JsonFields::Int(absl::string_view key) const {
  absl::StatusOr<std::optional<int64_t>> v = OptionalInt(key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return Error(key, "required field is missing");
  return **v;
}

absl::StatusOr<std::optional<int64_t>> JsonFields::OptionalInt(absl::string_view key) const {
  const Json* v = Find(key);
  if (v == nullptr) return std::optional<int64_t>();
  std::optional<int64_t> i = AsInt64(*v);
  if (!i.has_value()) {
    return Error(key,
                 absl::StrCat("expected an integer, got ", JsonTypeName(*v), " (", v->dump(), ")"));
  }
  return i;
}

absl::StatusOr<std::optional<double>> JsonFields::OptionalDouble(absl::string_view key) const {
  const Json* v = Find(key);
  if (v == nullptr) return std::optional<double>();
  if (!v->is_number()) {
    return Error(key, absl::StrCat("expected a number, got ", JsonTypeName(*v)));
  }
  const double d = v->get<double>();
  if (!std::isfinite(d)) return Error(key, "expected a finite number");
  return d;
}

absl::Status JsonFields::ReadBool(absl::string_view key, bool* out) const {
  absl::StatusOr<std::optional<bool>> v = OptionalBool(key);
  if (!v.ok()) return v.status();
  if (v->has_value()) *out = **v;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<bool>> JsonFields::OptionalBool(absl::string_view key) const {
  const Json* v = Find(key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_boolean()) {
    return Error(key, absl::StrCat("expected true or false, got ", JsonTypeName(*v)));
  }
  return v->get<bool>();
}

absl::StatusOr<std::optional<std::string>> JsonFields::OptionalString(absl::string_view key) const {
  const Json* v = Find(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) {
    return Error(key, absl::StrCat("expected a string, got ", JsonTypeName(*v)));
  }
  return v->get<std::string>();
}

absl::StatusOr<std::vector<int32_t>> JsonFields::TokenIds(absl::string_view key) const {
  std::vector<int32_t> ids;
  const Json* v = Find(key);
  if (v == nullptr) return ids;
  auto add = [&](const Json& e) -> absl::Status {
    std::optional<int64_t> i = AsInt64(e);
    if (!i.has_value() || *i < 0 || *i > std::numeric_limits<int32_t>::max()) {
      return Error(key, absl::StrCat("expected a token id (an integer in [0, 2^31)) or a list of "
                                     "them, got ",
                                     e.dump()));
    }
    ids.push_back(static_cast<int32_t>(*i));
    return absl::OkStatus();
  };
  if (v->is_array()) {
    for (const Json& e : *v) {
      if (absl::Status s = add(e); !s.ok()) return s;
    }
  } else if (absl::Status s = add(*v); !s.ok()) {
    return s;
  }
  return ids;
}

// --- Get* ---

absl::StatusOr<bool> GetBool(const Json& obj, std::string_view key, bool fallback,
                             const std::string& where) {
  const Json* v = FindField(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) return NotA(where, key, "a boolean");
  return v->get<bool>();
}

absl::StatusOr<std::optional<std::string>> GetOptionalString(const Json& obj, std::string_view key,
                                                             const std::string& where) {
  const Json* v = FindField(obj, key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return NotA(where, key, "a string");
  return std::optional<std::string>(v->get<std::string>());
}

absl::StatusOr<std::string> GetString(const Json& obj, std::string_view key,
                                      std::string_view fallback, const std::string& where) {
  absl::StatusOr<std::optional<std::string>> v = GetOptionalString(obj, key, where);
  if (!v.ok()) return v.status();
  return v->has_value() ? std::move(**v) : std::string(fallback);
}

absl::StatusOr<int64_t> GetInt(const Json& obj, std::string_view key, int64_t fallback,
                               const std::string& where) {
  const Json* v = FindField(obj, key);
  if (v == nullptr) return fallback;
  std::optional<int64_t> i = AsInt64(*v);
  if (!i.has_value()) return NotA(where, key, "an integer");
  return *i;
}

absl::StatusOr<std::string> GetType(const Json& obj, const std::string& where) {
  if (!obj.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is not an object"));
  }
  const Json* v = FindField(obj, "type");
  if (v == nullptr || !v->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has no string \"type\""));
  }
  return v->get<std::string>();
}

}  // namespace inferd
