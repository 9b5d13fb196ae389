// server/flag_types.cc
#include "server/flag_types.h"

#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace inferd::server {

namespace {

// Multiplier of a unit suffix (lower-cased), or 0 when unknown.
double UnitMultiplier(absl::string_view unit) {
  constexpr std::pair<const char*, double> kUnits[] = {
      {"", 1.0},     {"b", 1.0},      {"k", 0x1p10},   {"kib", 0x1p10}, {"kb", 1e3},
      {"m", 0x1p20}, {"mib", 0x1p20}, {"mb", 1e6},     {"g", 0x1p30},   {"gib", 0x1p30},
      {"gb", 1e9},   {"t", 0x1p40},   {"tib", 0x1p40}, {"tb", 1e12},
  };
  for (const auto& [name, multiplier] : kUnits) {
    if (unit == name) return multiplier;
  }
  return 0.0;
}

}  // namespace

bool AbslParseFlag(absl::string_view text, ByteSize* size, std::string* error) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  size_t split = 0;
  while (split < lower.size() && (absl::ascii_isdigit(lower[split]) || lower[split] == '.')) {
    ++split;
  }
  const absl::string_view number = absl::string_view(lower).substr(0, split);
  const absl::string_view unit = absl::StripAsciiWhitespace(absl::string_view(lower).substr(split));
  double value = 0.0;
  const double multiplier = UnitMultiplier(unit);
  if (number.empty() || !absl::SimpleAtod(number, &value) || multiplier == 0.0) {
    *error = absl::StrCat("'", text,
                          "' is not a size (want bytes or a number with a unit: 512MiB, 1GiB, "
                          "2G, 64M)");
    return false;
  }
  const double bytes = std::round(value * multiplier);
  if (!(bytes < 0x1p62)) {
    *error = absl::StrCat("'", text, "' is too large");
    return false;
  }
  size->bytes = static_cast<int64_t>(bytes);
  return true;
}

std::string AbslUnparseFlag(const ByteSize& size) {
  constexpr std::pair<int64_t, const char*> kUnits[] = {{int64_t{1} << 40, "TiB"},
                                                        {int64_t{1} << 30, "GiB"},
                                                        {int64_t{1} << 20, "MiB"},
                                                        {int64_t{1} << 10, "KiB"}};
  for (const auto& [multiplier, name] : kUnits) {
    if (size.bytes >= multiplier && size.bytes % multiplier == 0) {
      return absl::StrCat(size.bytes / multiplier, name);
    }
  }
  return absl::StrCat(size.bytes);
}

bool AbslParseFlag(absl::string_view text, TokenIdList* list, std::string* error) {
  std::vector<int32_t> ids;
  if (!absl::StripAsciiWhitespace(text).empty()) {
    for (absl::string_view part : absl::StrSplit(text, ',')) {
      int32_t id = 0;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &id) || id < 0) {
        *error = absl::StrCat("'", part, "' is not a token id (want non-negative integers: 1,2,3)");
        return false;
      }
      ids.push_back(id);
    }
  }
  list->ids = std::move(ids);
  return true;
}

std::string AbslUnparseFlag(const TokenIdList& list) { return absl::StrJoin(list.ids, ","); }

bool AbslParseFlag(absl::string_view text, LogFormat* format, std::string* error) {
  if (text == "text") {
    *format = LogFormat::kText;
  } else if (text == "json") {
    *format = LogFormat::kJson;
  } else {
    *error = absl::StrCat("expected text or json, got \"", text, "\"");
    return false;
  }
  return true;
}

std::string AbslUnparseFlag(LogFormat format) {
  return format == LogFormat::kJson ? "json" : "text";
}

}  // namespace inferd::server
