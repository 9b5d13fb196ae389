// loadtest/inferload/jsonl.cc
#include "loadtest/inferload/jsonl.h"

#include <cmath>
#include <fstream>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/regular_file.h"

namespace inferd::inferload {

namespace {

// A short rendering of a bad value for messages.
std::string Shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

}  // namespace

absl::Status JsonlLine::Error(const std::string& field, const std::string& what) const {
  if (field.empty())
    return absl::InvalidArgumentError(absl::StrCat(file_, ":", line_number_, ": ", what));
  return absl::InvalidArgumentError(
      absl::StrCat(file_, ":", line_number_, ": field '", field, "': ", what));
}

absl::StatusOr<std::optional<std::string>> JsonlLine::OptionalString(const char* field) const {
  if (!Has(field)) return std::nullopt;
  const nlohmann::json& value = object_.at(field);
  if (!value.is_string())
    return Error(field, absl::StrCat("expected a string, got ", Shown(value)));
  return value.get<std::string>();
}

absl::StatusOr<std::optional<double>> JsonlLine::OptionalFiniteNumber(const char* field) const {
  if (!Has(field)) return std::nullopt;
  const nlohmann::json& value = object_.at(field);
  if (!value.is_number())
    return Error(field, absl::StrCat("expected a number, got ", Shown(value)));
  const double number = value.get<double>();
  if (!std::isfinite(number)) return Error(field, "expected a finite number");
  return number;
}

absl::StatusOr<std::optional<int64_t>> JsonlLine::OptionalPositiveInt(const char* field) const {
  if (!Has(field)) return std::nullopt;
  const nlohmann::json& value = object_.at(field);
  if (!value.is_number_integer()) {
    return Error(field, absl::StrCat("expected an integer, got ", Shown(value)));
  }
  if (value.is_number_unsigned()) {
    const uint64_t number = value.get<uint64_t>();
    if (number >= 1 && number <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      return static_cast<int64_t>(number);
    }
  } else if (const int64_t number = value.get<int64_t>();
             number >= 1 && number <= std::numeric_limits<int32_t>::max()) {
    return number;
  }
  return Error(field, absl::StrCat("expected an integer in [1, 2^31), got ", Shown(value)));
}

absl::StatusOr<std::optional<int64_t>> JsonlLine::OptionalPositiveIntEither(
    const char* field, const char* alias) const {
  if (Has(field) && Has(alias)) {
    return Error(field, absl::StrCat("give either '", field, "' or '", alias, "', not both"));
  }
  return OptionalPositiveInt(Has(alias) ? alias : field);
}

absl::Status ForEachJsonlObject(std::istream& in, const std::string& file, const JsonlLineFn& fn) {
  std::string text;
  for (int line_number = 1; std::getline(in, text); ++line_number) {
    if (absl::StripAsciiWhitespace(text).empty()) continue;
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& error) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", line_number, ": not valid JSON: ", error.what()));
    }
    if (!object.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", line_number, ": expected a JSON object, got ", Shown(object)));
    }
    if (absl::Status status = fn(JsonlLine(file, line_number, object)); !status.ok()) return status;
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(file, ": read error"));
  return absl::OkStatus();
}

absl::Status ForEachJsonlObjectInFile(const std::string& path, const JsonlLineFn& fn) {
  // Checked first: a FIFO or device would block or never end.
  absl::StatusOr<RegularFile> regular = RegularFile::Open(path);
  if (!regular.ok()) return regular.status();
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the file"));
  return ForEachJsonlObject(in, path, fn);
}

}  // namespace inferd::inferload
