// server/request_parsing.cc
//
// Protobuf's parser says only that parsing failed (and logs invalid UTF-8 on
// its own). When it fails, WireChecker walks the bytes again with the
// message's descriptor, the way the parser reads them, to find the first
// problem and where it is. The walk runs only for bytes protobuf refused, so
// a valid request costs one parse; when the walk finds nothing (a case it
// does not model) the message says the bytes are not valid protobuf.
#include "server/request_parsing.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/wire_format_lite.h"

namespace inferd::server {
namespace {

namespace pb = google::protobuf;
using pb::internal::WireFormatLite;

// Deeper than any inferd message; bounds the recursion on hostile input.
constexpr int kMaxDepth = 32;

class WireChecker {
 public:
  explicit WireChecker(std::string_view bytes)
      : in_(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size())) {
    in_.PushLimit(static_cast<int>(bytes.size()));
  }

  // The first problem in the fields of one `type` message, read up to the
  // current limit; "" when none is found.
  std::string CheckMessage(const pb::Descriptor* type, const std::string& path, int depth) {
    std::map<int, int> occurrences;  // field number -> times seen (for "stop[1]")
    while (in_.BytesUntilLimit() > 0) {
      const int offset = in_.CurrentPosition();
      uint32_t tag = 0;
      if (!ReadTag(&tag)) return absl::StrCat("invalid field tag at byte ", offset);
      const int number = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
      if (number == 0) return absl::StrCat("invalid field tag at byte ", offset);
      const pb::FieldDescriptor* field = type->FindFieldByNumber(number);
      const std::string name = FieldName(field, number, path, occurrences[number]++);
      const int value_offset = in_.CurrentPosition();
      switch (WireFormatLite::GetTagWireType(tag)) {
        case WireFormatLite::WIRETYPE_VARINT: {
          uint64_t value;
          if (!in_.ReadVarint64(&value)) return Truncated(name, "varint", value_offset);
          break;
        }
        case WireFormatLite::WIRETYPE_FIXED64: {
          uint64_t value;
          if (!in_.ReadLittleEndian64(&value)) return Truncated(name, "8-byte value", value_offset);
          break;
        }
        case WireFormatLite::WIRETYPE_FIXED32: {
          uint32_t value;
          if (!in_.ReadLittleEndian32(&value)) return Truncated(name, "4-byte value", value_offset);
          break;
        }
        case WireFormatLite::WIRETYPE_LENGTH_DELIMITED:
          if (std::string problem = CheckLengthDelimited(field, name, depth); !problem.empty()) {
            return problem;
          }
          break;
        case WireFormatLite::WIRETYPE_START_GROUP:
          // Not in proto3 messages; the parser skips it as an unknown field.
          if (!WireFormatLite::SkipField(&in_, tag)) {
            return absl::StrCat(name, ": malformed group at byte ", offset);
          }
          break;
        case WireFormatLite::WIRETYPE_END_GROUP:
          return absl::StrCat(name, ": end-group tag without a group at byte ", offset);
        default:
          return absl::StrCat(name, ": invalid wire type ",
                              static_cast<int>(WireFormatLite::GetTagWireType(tag)), " at byte ",
                              offset);
      }
    }
    return "";
  }

 private:
  // A tag as protobuf's parser reads it: at most 5 bytes, bits past 32
  // dropped. False when truncated or longer.
  bool ReadTag(uint32_t* tag) {
    uint32_t value = 0;
    for (int i = 0; i < 5; ++i) {
      uint8_t byte;
      if (!in_.ReadRaw(&byte, 1)) return false;
      value |= static_cast<uint32_t>(byte & 0x7f) << (7 * i);
      if (byte < 0x80) {
        *tag = value;
        return true;
      }
    }
    return false;
  }

  static std::string FieldName(const pb::FieldDescriptor* field, int number,
                               const std::string& path, int index) {
    const std::string prefix = path.empty() ? "" : path + ".";
    if (field == nullptr) return absl::StrCat(prefix, "field ", number);
    if (!field->is_repeated()) return prefix + field->name();
    return absl::StrCat(prefix, field->name(), "[", index, "]");
  }

  // Bytes of one element of a fixed-size scalar type; 0 for varint types.
  static int FixedSize(pb::FieldDescriptor::Type type) {
    switch (type) {
      case pb::FieldDescriptor::TYPE_FIXED32:
      case pb::FieldDescriptor::TYPE_SFIXED32:
      case pb::FieldDescriptor::TYPE_FLOAT:
        return 4;
      case pb::FieldDescriptor::TYPE_FIXED64:
      case pb::FieldDescriptor::TYPE_SFIXED64:
      case pb::FieldDescriptor::TYPE_DOUBLE:
        return 8;
      default:
        return 0;
    }
  }

  static std::string Truncated(const std::string& name, const char* what, int offset) {
    return absl::StrCat(name, ": truncated ", what, " at byte ", offset);
  }

  // A length-delimited value: a string (UTF-8 checked in proto3), a nested
  // message (walked), a packed repeated scalar (its elements read), or bytes.
  // A field whose declared type does not use this wire type is unknown to
  // the parser, which skips it.
  std::string CheckLengthDelimited(const pb::FieldDescriptor* field, const std::string& name,
                                   int depth) {
    const int offset = in_.CurrentPosition();
    uint32_t length;
    if (!in_.ReadVarint32(&length)) return Truncated(name, "length", offset);
    const int left = in_.BytesUntilLimit();
    if (length > static_cast<uint32_t>(left)) {
      return absl::StrCat(name, ": length ", length, " at byte ", offset,
                          " runs past the end of the message (", left, " bytes left)");
    }
    const int size = static_cast<int>(length);
    const pb::FieldDescriptor::Type type =
        field == nullptr ? pb::FieldDescriptor::TYPE_BYTES : field->type();
    if (type == pb::FieldDescriptor::TYPE_STRING) {
      std::string value;
      in_.ReadString(&value, size);
      if (field->file()->syntax() == pb::FileDescriptor::SYNTAX_PROTO3 &&
          !pb::internal::IsStructurallyValidUTF8(value.data(), size)) {
        return absl::StrCat(name, ": invalid UTF-8 in a string field (byte ",
                            pb::internal::UTF8SpnStructurallyValid(value),
                            " of the string; proto3 strings must be UTF-8)");
      }
      return "";
    }
    if (type == pb::FieldDescriptor::TYPE_MESSAGE) {
      if (depth >= kMaxDepth) return absl::StrCat(name, ": messages nested too deeply");
      const pb::io::CodedInputStream::Limit limit = in_.PushLimit(size);
      std::string problem = CheckMessage(field->message_type(), name, depth + 1);
      in_.PopLimit(limit);
      return problem;
    }
    if (field != nullptr && field->is_packable()) return CheckPacked(field, name, size);
    in_.Skip(size);
    return "";
  }

  // The elements of a packed repeated scalar of `size` bytes.
  std::string CheckPacked(const pb::FieldDescriptor* field, const std::string& name, int size) {
    const int start = in_.CurrentPosition();
    // "ids[3]" names the packed block, not an element: name the field.
    const std::string field_name = name.substr(0, name.rfind('['));
    const int fixed = FixedSize(field->type());
    if (fixed > 0) {
      if (size % fixed != 0) {
        return absl::StrCat(field_name, ": packed ", fixed, "-byte values of ", size,
                            " bytes at byte ", start);
      }
      in_.Skip(size);
      return "";
    }
    const pb::io::CodedInputStream::Limit limit = in_.PushLimit(size);
    std::string problem;
    while (in_.BytesUntilLimit() > 0) {
      const int offset = in_.CurrentPosition();
      uint64_t value;
      if (!in_.ReadVarint64(&value)) {
        problem = Truncated(field_name, "varint", offset);
        break;
      }
    }
    in_.PopLimit(limit);
    return problem;
  }

  pb::io::CodedInputStream in_;
};

}  // namespace

absl::Status ParseRequestBytes(std::string_view bytes, google::protobuf::Message* message) {
  if (message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::OkStatus();
  }
  const pb::Descriptor* type = message->GetDescriptor();
  message->Clear();
  std::string problem = WireChecker(bytes).CheckMessage(type, "", 0);
  if (problem.empty()) problem = "the bytes are not a valid protobuf encoding of it";
  return absl::InvalidArgumentError(
      absl::StrCat("request is not a valid ", type->full_name(), ": ", problem));
}

absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message) {
  if (!buffer.Valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no request message: expected one ", message->GetDescriptor()->full_name()));
  }
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("the request message could not be read");
  }
  if (slices.size() == 1) {
    return ParseRequestBytes(
        std::string_view(reinterpret_cast<const char*>(slices[0].begin()), slices[0].size()),
        message);
  }
  std::string bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return ParseRequestBytes(bytes, message);
}

}  // namespace inferd::server
