// engine/tokenizer/protobuf_wire.h — a bounds-checked reader of the protobuf
// wire format, for the messages inferd reads from outside files
// (sentencepiece's tokenizer.model) without libprotobuf.
//
// A WireReader walks the fields of one message in a byte buffer it does not
// own. It never reads past the buffer: every varint, fixed-size value and
// length is checked against the bytes left before it is used. Malformed
// input (truncated varints, varints over 64 bits, lengths past the end,
// field number 0, wire types 6 and 7, unbalanced groups, groups nested
// deeper than kMaxGroupDepth) and a known field read with the wrong wire
// type are errors naming the origin (the file), the field path
// ("pieces[3].score") and the byte offset in the file.
#ifndef INFERD_ENGINE_TOKENIZER_PROTOBUF_WIRE_H_
#define INFERD_ENGINE_TOKENIZER_PROTOBUF_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace inferd::engine {

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

class WireReader {
 public:
  // Skipped unknown groups may nest this deep (protobuf's default recursion
  // limit is 100).
  static constexpr int kMaxGroupDepth = 64;

  // Reads the message in `bytes`, which begin at byte `offset` of `origin`
  // (offsets in errors are file offsets). `path` is the message's field
  // path ("" for the top-level message). `bytes` must outlive the reader.
  WireReader(std::string_view bytes, std::string_view origin, std::string path = "",
             size_t offset = 0);

  // Reads the next field's key; *done is true (and nothing is read) at the
  // end of the message.
  absl::Status NextField(bool* done);
  uint32_t field_number() const { return field_; }
  WireType wire_type() const { return type_; }

  // The current field's value, which must have the matching wire type.
  // `name` is the field's name within this message, for errors.
  absl::Status ReadVarint(std::string_view name, uint64_t* value);
  // int32 and enum fields: the low 32 bits of the varint (negative values
  // are ten-byte varints), as protobuf reads them.
  absl::Status ReadInt32(std::string_view name, int32_t* value);
  absl::Status ReadBool(std::string_view name, bool* value);
  absl::Status ReadFloat(std::string_view name, float* value);  // fixed32
  // A string/bytes field; the view points into the buffer.
  absl::Status ReadBytes(std::string_view name, std::string_view* value);
  // A nested message field: a reader over its bytes whose errors name
  // path.name.
  absl::StatusOr<WireReader> ReadMessage(std::string_view name);

  // Skips the current field's value, whatever its wire type (groups
  // included).
  absl::Status SkipField();

  // InvalidArgument "<origin>: <path.name>: <problem> (at byte N)", N being
  // where the current field starts.
  absl::Status Error(std::string_view name, std::string_view problem) const;

 private:
  absl::Status ReadRawVarint(std::string_view name, uint64_t* value);
  absl::Status ReadKey(std::string_view name, uint32_t* field, WireType* type);
  absl::Status ExpectType(std::string_view name, WireType want) const;
  // Skips one value of `type` (not a group).
  absl::Status SkipScalar(std::string_view name, WireType type);
  absl::Status SkipGroup();
  std::string FieldPath(std::string_view name) const;

  std::string_view bytes_;
  std::string_view origin_;
  std::string path_;
  size_t offset_ = 0;       // file offset of bytes_[0]
  size_t pos_ = 0;          // next byte to read in bytes_
  size_t field_start_ = 0;  // where the current field's key starts in bytes_
  uint32_t field_ = 0;
  WireType type_ = WireType::kVarint;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_PROTOBUF_WIRE_H_
