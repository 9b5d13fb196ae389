// engine/model/gguf_file.h — parsing of GGUF files (llama.cpp's model
// format, versions 2 and 3; the public spec is ggml's docs/gguf.md).
//
// Layout: "GGUF", u32 version, u64 tensor count, u64 metadata count; the
// metadata key/value pairs (typed scalars, strings, arrays, arrays of
// arrays); one info per tensor (name, dims innermost first, ggml type,
// offset inside the data section); padding to the alignment
// (general.alignment, default 32); the data section. Little-endian only.
//
// The bytes come from outside: every count, string and array length is
// checked against the bytes that are left before anything is sized from it;
// dims (1 to 4, each >= 1, no overflow of elements or bytes), types (F32,
// F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K; any other is rejected naming its id),
// the alignment, each tensor's offset (aligned, inside the file) and
// overlaps are validated. Errors name the file, the key or tensor, and the
// field. A GgufFile maps the whole file read-only and hands out pointers
// into the mapping: tensor data is never copied by the parser.
#ifndef INFERD_ENGINE_MODEL_GGUF_FILE_H_
#define INFERD_ENGINE_MODEL_GGUF_FILE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inferd::engine {

// The value types of GGUF metadata (their on-disk ids).
enum class GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
const char* GgufValueTypeName(GgufValueType t);

// One metadata value. Integers of every width are held in `u` (unsigned
// types) or `i` (signed types, and bool as 0/1), floats in `f`.
struct GgufValue {
  GgufValueType type = GgufValueType::kU8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string str;
  GgufValueType elem_type = GgufValueType::kU8;  // kArray only
  std::vector<GgufValue> array;                  // kArray only

  bool IsInteger() const;
  // The value as a signed integer when it is an integer type that fits.
  std::optional<int64_t> AsInt() const;
  // The value as a double when it is an integer or float type.
  std::optional<double> AsDouble() const;
};

// The ggml tensor types inferd reads (their on-disk ids); any other id is
// rejected at parse time.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kBF16 = 30,
};
const char* GgmlTypeName(GgmlType t);
// Elements per block and bytes per block (1 and the element size for the
// float types).
int64_t GgmlBlockElements(GgmlType t);
int64_t GgmlBlockBytes(GgmlType t);

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<int64_t> dims;  // GGUF order: dims[0] is the contiguous (innermost) one
  uint64_t offset = 0;        // inside the data section, a multiple of the alignment
  uint64_t nbytes = 0;
  int64_t numel = 0;
};

// What the parser reads from a GGUF file's bytes.
struct GgufContents {
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;  // where the data section starts in the file
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensorInfo> tensors;  // in file order
};

// Parses a whole GGUF file held in `bytes` (`size` bytes); `origin` (a path)
// prefixes errors. Every tensor lies inside [data_offset, size).
absl::StatusOr<GgufContents> ParseGguf(const uint8_t* bytes, uint64_t size,
                                       const std::string& origin);

// True when `path` names a GGUF file for --model: a *.gguf path that is not
// a directory.
bool IsGgufPath(const std::string& path);

// A GGUF file mapped read-only (MAP_SHARED: the page cache, no copy) and
// parsed. Pointers returned by TensorData stay valid while `mapping()` is
// held. A file truncated under a running server can SIGBUS it, as with
// --load-format mmap.
class GgufFile {
 public:
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);

  const std::string& path() const { return path_; }
  const GgufContents& contents() const { return contents_; }
  const std::map<std::string, GgufValue>& metadata() const { return contents_.metadata; }
  // nullptr when absent.
  const GgufValue* Find(absl::string_view key) const;
  const GgufTensorInfo* FindTensor(absl::string_view name) const;
  // The tensor's bytes inside the mapping.
  const uint8_t* TensorData(const GgufTensorInfo& t) const;
  const std::shared_ptr<const void>& mapping() const { return mapping_; }

 private:
  GgufFile() = default;
  std::string path_;
  std::shared_ptr<const void> mapping_;
  uint64_t size_ = 0;
  GgufContents contents_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_GGUF_FILE_H_
