// engine/tokenizer/protobuf_wire.cc — see protobuf_wire.h.
#include "engine/tokenizer/protobuf_wire.h"

#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/absl_compat.h"

namespace inferd::engine {

namespace {

constexpr uint64_t kMaxFieldNumber = (uint64_t{1} << 29) - 1;

const char* WireTypeName(WireType type) {
  switch (type) {
    case WireType::kVarint:
      return "varint (0)";
    case WireType::kFixed64:
      return "fixed64 (1)";
    case WireType::kLengthDelimited:
      return "length-delimited (2)";
    case WireType::kStartGroup:
      return "start-group (3)";
    case WireType::kEndGroup:
      return "end-group (4)";
    case WireType::kFixed32:
      return "fixed32 (5)";
  }
  return "unknown";
}

}  // namespace

WireReader::WireReader(std::string_view bytes, std::string_view origin, std::string path,
                       size_t offset)
    : bytes_(bytes), origin_(origin), path_(std::move(path)), offset_(offset) {}

std::string WireReader::FieldPath(std::string_view name) const {
  if (path_.empty()) return std::string(name);
  if (name.empty()) return path_;
  return absl::StrCat(path_, ".", ToAbsl(name));
}

absl::Status WireReader::Error(std::string_view name, std::string_view problem) const {
  const std::string field = FieldPath(name);
  return absl::InvalidArgumentError(absl::StrCat(ToAbsl(origin_), ": ", field,
                                                 field.empty() ? "" : ": ", ToAbsl(problem),
                                                 " (at byte ", offset_ + field_start_, ")"));
}

absl::Status WireReader::ReadRawVarint(std::string_view name, uint64_t* value) {
  uint64_t result = 0;
  for (int i = 0;; ++i) {
    if (pos_ >= bytes_.size()) return Error(name, "truncated varint");
    const auto b = static_cast<uint8_t>(bytes_[pos_++]);
    // The tenth byte holds bit 63 only (and no continuation bit).
    if (i == 9 && b > 1) return Error(name, "varint does not fit in 64 bits");
    result |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) break;
  }
  *value = result;
  return absl::OkStatus();
}

absl::Status WireReader::ReadKey(std::string_view name, uint32_t* field, WireType* type) {
  uint64_t key = 0;
  if (absl::Status s = ReadRawVarint(name, &key); !s.ok()) return s;
  const uint64_t number = key >> 3;
  const auto wire = static_cast<uint8_t>(key & 7);
  if (number == 0 || number > kMaxFieldNumber) {
    return Error(name, absl::StrCat("invalid field number ", number));
  }
  if (wire > 5) return Error(name, absl::StrCat("invalid wire type ", wire));
  *field = static_cast<uint32_t>(number);
  *type = static_cast<WireType>(wire);
  return absl::OkStatus();
}

absl::Status WireReader::NextField(bool* done) {
  field_start_ = pos_;
  *done = pos_ >= bytes_.size();
  if (*done) return absl::OkStatus();
  if (absl::Status s = ReadKey("", &field_, &type_); !s.ok()) return s;
  if (type_ == WireType::kEndGroup) {
    return Error(absl::StrCat("field ", field_), "end-group without a start-group");
  }
  return absl::OkStatus();
}

absl::Status WireReader::ExpectType(std::string_view name, WireType want) const {
  if (type_ == want) return absl::OkStatus();
  return Error(name, absl::StrCat("field ", field_, " has wire type ", WireTypeName(type_),
                                  ", expected ", WireTypeName(want)));
}

absl::Status WireReader::ReadVarint(std::string_view name, uint64_t* value) {
  if (absl::Status s = ExpectType(name, WireType::kVarint); !s.ok()) return s;
  return ReadRawVarint(name, value);
}

absl::Status WireReader::ReadInt32(std::string_view name, int32_t* value) {
  uint64_t v = 0;
  if (absl::Status s = ReadVarint(name, &v); !s.ok()) return s;
  *value = static_cast<int32_t>(static_cast<uint32_t>(v));
  return absl::OkStatus();
}

absl::Status WireReader::ReadBool(std::string_view name, bool* value) {
  uint64_t v = 0;
  if (absl::Status s = ReadVarint(name, &v); !s.ok()) return s;
  *value = v != 0;
  return absl::OkStatus();
}

absl::Status WireReader::ReadFloat(std::string_view name, float* value) {
  if (absl::Status s = ExpectType(name, WireType::kFixed32); !s.ok()) return s;
  if (bytes_.size() - pos_ < 4) return Error(name, "truncated fixed32 value");
  uint32_t bits = 0;
  for (int i = 3; i >= 0; --i) bits = (bits << 8) | static_cast<uint8_t>(bytes_[pos_ + i]);
  pos_ += 4;
  std::memcpy(value, &bits, sizeof(*value));
  return absl::OkStatus();
}

absl::Status WireReader::ReadBytes(std::string_view name, std::string_view* value) {
  if (absl::Status s = ExpectType(name, WireType::kLengthDelimited); !s.ok()) return s;
  uint64_t len = 0;
  if (absl::Status s = ReadRawVarint(name, &len); !s.ok()) return s;
  if (len > bytes_.size() - pos_) {
    return Error(name, absl::StrCat("length ", len, " runs past the end of the message (",
                                    bytes_.size() - pos_, " bytes left)"));
  }
  *value = bytes_.substr(pos_, static_cast<size_t>(len));
  pos_ += static_cast<size_t>(len);
  return absl::OkStatus();
}

absl::StatusOr<WireReader> WireReader::ReadMessage(std::string_view name) {
  std::string_view body;
  if (absl::Status s = ReadBytes(name, &body); !s.ok()) return s;
  const size_t body_offset = offset_ + pos_ - body.size();
  return WireReader(body, origin_, FieldPath(name), body_offset);
}

absl::Status WireReader::SkipScalar(std::string_view name, WireType type) {
  size_t need = 0;
  switch (type) {
    case WireType::kVarint: {
      uint64_t ignored = 0;
      return ReadRawVarint(name, &ignored);
    }
    case WireType::kLengthDelimited: {
      uint64_t len = 0;
      if (absl::Status s = ReadRawVarint(name, &len); !s.ok()) return s;
      if (len > bytes_.size() - pos_) {
        return Error(name, absl::StrCat("length ", len, " runs past the end of the message (",
                                        bytes_.size() - pos_, " bytes left)"));
      }
      pos_ += static_cast<size_t>(len);
      return absl::OkStatus();
    }
    case WireType::kFixed64:
      need = 8;
      break;
    case WireType::kFixed32:
      need = 4;
      break;
    case WireType::kStartGroup:
    case WireType::kEndGroup:
      return Error(name, "unexpected group marker");
  }
  if (bytes_.size() - pos_ < need) {
    return Error(name, absl::StrCat("truncated ", WireTypeName(type), " value"));
  }
  pos_ += need;
  return absl::OkStatus();
}

absl::Status WireReader::SkipGroup() {
  const std::string name = absl::StrCat("field ", field_);
  std::vector<uint32_t> open = {field_};  // field numbers of the open groups
  while (!open.empty()) {
    if (pos_ >= bytes_.size()) {
      return Error(name, absl::StrCat("group of field ", open.back(), " is not closed"));
    }
    uint32_t field = 0;
    WireType type = WireType::kVarint;
    if (absl::Status s = ReadKey(name, &field, &type); !s.ok()) return s;
    if (type == WireType::kStartGroup) {
      if (open.size() >= static_cast<size_t>(kMaxGroupDepth)) {
        return Error(name, absl::StrCat("groups nested deeper than ", kMaxGroupDepth));
      }
      open.push_back(field);
    } else if (type == WireType::kEndGroup) {
      if (field != open.back()) {
        return Error(name, absl::StrCat("end-group of field ", field, " closes the group of field ",
                                        open.back()));
      }
      open.pop_back();
    } else if (absl::Status s = SkipScalar(name, type); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status WireReader::SkipField() {
  if (type_ == WireType::kStartGroup) return SkipGroup();
  return SkipScalar(absl::StrCat("field ", field_), type_);
}

}  // namespace inferd::engine
