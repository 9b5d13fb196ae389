// engine/model/gguf_file.cc — ParseGguf (a bounds-checked reader over the
// file's bytes) and GgufFile (the read-only mapping).
#include "engine/model/gguf_file.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/regular_file.h"

namespace inferd::engine {
namespace {

constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxKeyBytes = 65535;  // the spec's bound on key length
constexpr uint64_t kMaxNameBytes = 64;    // the spec's bound on tensor names
constexpr int kMaxArrayDepth = 8;         // arrays of arrays nest at most this deep
constexpr uint64_t kMaxAlignment = 1 << 20;
constexpr uint64_t kDefaultAlignment = 32;

std::string ShapeString(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

// Reads little-endian values from [pos, size), each read checked; `where()`
// is the context an error names.
class Reader {
 public:
  Reader(const uint8_t* bytes, uint64_t size, const std::string& origin)
      : bytes_(bytes), size_(size), origin_(origin) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  absl::Status Error(absl::string_view where, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(origin_, ": ", where, ": ", what));
  }
  absl::Status Truncated(absl::string_view where, uint64_t need) const {
    return Error(where, absl::StrCat("truncated: needs ", need, " bytes at offset ", pos_,
                                     ", the file has ", left(), " left"));
  }
  template <typename T>
  absl::Status Read(absl::string_view where, T* out) {
    if (left() < sizeof(T)) return Truncated(where, sizeof(T));
    T v{};
    std::memcpy(&v, bytes_ + pos_, sizeof(T));  // the host is little-endian (x86-64, aarch64)
    pos_ += sizeof(T);
    *out = v;
    return absl::OkStatus();
  }
  // A GGUF string: u64 length, then that many bytes (not NUL-terminated).
  absl::Status ReadString(absl::string_view where, uint64_t max_len, std::string* out) {
    uint64_t len = 0;
    if (absl::Status s = Read(where, &len); !s.ok()) return s;
    if (len > left()) {
      return Error(where, absl::StrCat("string length ", len, " exceeds the ", left(),
                                       " bytes left in the file"));
    }
    if (len > max_len) {
      return Error(where, absl::StrCat("string length ", len, " exceeds the limit of ", max_len));
    }
    out->assign(reinterpret_cast<const char*>(bytes_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return absl::OkStatus();
  }

 private:
  const uint8_t* bytes_;
  uint64_t size_;
  const std::string& origin_;
  uint64_t pos_ = 0;
};

bool KnownValueType(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::kF64); }

// The fewest bytes one value of type `t` takes on disk (strings and arrays:
// their u64 length; arrays also their element type).
uint64_t MinValueBytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16:
      return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32:
      return 4;
    case GgufValueType::kString:
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64:
      return 8;
    case GgufValueType::kArray:
      return 12;
  }
  return 1;
}

absl::Status ReadValue(Reader& r, const std::string& where, GgufValueType type, int depth,
                       GgufValue* out);

absl::Status ReadArray(Reader& r, const std::string& where, int depth, GgufValue* out) {
  if (depth >= kMaxArrayDepth) {
    return r.Error(where, absl::StrCat("arrays nest deeper than ", kMaxArrayDepth));
  }
  uint32_t elem = 0;
  if (absl::Status s = r.Read(where + " (array element type)", &elem); !s.ok()) return s;
  if (!KnownValueType(elem)) {
    return r.Error(where, absl::StrCat("unknown array element type ", elem));
  }
  out->elem_type = static_cast<GgufValueType>(elem);
  uint64_t count = 0;
  if (absl::Status s = r.Read(where + " (array length)", &count); !s.ok()) return s;
  // Each element takes at least MinValueBytes: a count the rest of the file
  // cannot hold is a lie, caught before anything is sized from it.
  if (count > r.left() / MinValueBytes(out->elem_type)) {
    return r.Error(where,
                   absl::StrCat("array length ", count, " of ", GgufValueTypeName(out->elem_type),
                                " exceeds what the ", r.left(), " bytes left can hold"));
  }
  out->array.reserve(static_cast<size_t>(count));
  for (uint64_t k = 0; k < count; ++k) {
    GgufValue v;
    if (absl::Status s =
            ReadValue(r, absl::StrCat(where, "[", k, "]"), out->elem_type, depth + 1, &v);
        !s.ok()) {
      return s;
    }
    out->array.push_back(std::move(v));
  }
  return absl::OkStatus();
}

absl::Status ReadValue(Reader& r, const std::string& where, GgufValueType type, int depth,
                       GgufValue* out) {
  out->type = type;
  switch (type) {
    case GgufValueType::kU8: {
      uint8_t v = 0;
      if (absl::Status s = r.Read(where, &v); !s.ok()) return s;
      out->u = v;
      return absl::OkStatus();
    }
    case GgufValueType::kI8: {
      int8_t v = 0;
      if (absl::Status s = r.Read(where, &v); !s.ok()) return s;
      out->i = v;
      return absl::OkStatus();
    }
    case GgufValueType::kU16: {
      uint16_t v = 0;
      if (absl::Status s = r.Read(where, &v); !s.ok()) return s;
      out->u = v;
      return absl::OkStatus();
    }
    case GgufValueType::kI16: {
      int16_t v = 0;
      if (absl::Status s = r.Read(where, &v); !s.ok()) return s;
      out->i = v;
      return absl::OkStatus();
    }
    case GgufValueType::kU32: {
      uint32_t v = 0;
      if (absl::Status s = r.Read(where, &v); !s.ok()) return s;
      out->u = v;
      return absl::OkStatus();
    }
    case GgufValueType::kI32: {
      int32_t v = 0;
      if (absl::Status s = r.Read(where, &v); !s.ok()) return s;
      out->i = v;
      return absl::OkStatus();
    }
    case GgufValueType::kU64:
      return r.Read(where, &out->u);
    case GgufValueType::kI64:
      return r.Read(where, &out->i);
    case GgufValueType::kF32: {
      float v = 0;
      if (absl::Status s = r.Read(where, &v); !s.ok()) return s;
      out->f = v;
      return absl::OkStatus();
    }
    case GgufValueType::kF64:
      return r.Read(where, &out->f);
    case GgufValueType::kBool: {
      uint8_t v = 0;
      if (absl::Status s = r.Read(where, &v); !s.ok()) return s;
      if (v > 1) return r.Error(where, absl::StrCat("bool value ", int{v}, " is neither 0 nor 1"));
      out->i = v;
      return absl::OkStatus();
    }
    case GgufValueType::kString:
      return r.ReadString(where, std::numeric_limits<uint64_t>::max(), &out->str);
    case GgufValueType::kArray:
      return ReadArray(r, where, depth, out);
  }
  return r.Error(where, "unknown value type");
}

bool KnownGgmlType(uint32_t t) {
  switch (static_cast<GgmlType>(t)) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ8_0:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
    case GgmlType::kBF16:
      return true;
  }
  return false;
}

absl::Status ReadTensorInfo(Reader& r, uint64_t index, GgufTensorInfo* t) {
  const std::string where = absl::StrCat("tensor #", index);
  if (absl::Status s = r.ReadString(where + " field `name`", kMaxNameBytes, &t->name); !s.ok()) {
    return s;
  }
  const std::string tw = absl::StrCat("tensor `", t->name, "`");
  uint32_t n_dims = 0;
  if (absl::Status s = r.Read(tw + " field `n_dims`", &n_dims); !s.ok()) return s;
  if (n_dims == 0 || n_dims > kMaxDims) {
    return r.Error(tw, absl::StrCat("field `n_dims`: ", n_dims, " is not in [1, ", kMaxDims, "]"));
  }
  uint64_t numel = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    uint64_t dim = 0;
    if (absl::Status s = r.Read(absl::StrCat(tw, " field `dims[", d, "]`"), &dim); !s.ok()) {
      return s;
    }
    if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return r.Error(tw, absl::StrCat("field `dims[", d, "]`: ", dim, " is not a positive int64"));
    }
    if (__builtin_mul_overflow(numel, dim, &numel) ||
        numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return r.Error(
          tw, absl::StrCat("field `dims`: the element count overflows at dims[", d, "] = ", dim));
    }
    t->dims.push_back(static_cast<int64_t>(dim));
  }
  t->numel = static_cast<int64_t>(numel);
  uint32_t type = 0;
  if (absl::Status s = r.Read(tw + " field `type`", &type); !s.ok()) return s;
  if (!KnownGgmlType(type)) {
    return r.Error(tw, absl::StrCat("field `type`: ggml type id ", type,
                                    " is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, "
                                    "Q4_K, Q6_K)"));
  }
  t->type = static_cast<GgmlType>(type);
  const uint64_t block = static_cast<uint64_t>(GgmlBlockElements(t->type));
  if (static_cast<uint64_t>(t->dims[0]) % block != 0) {
    return r.Error(
        tw, absl::StrCat("field `dims`: dims[0] = ", t->dims[0], " of ", GgmlTypeName(t->type),
                         " is not a multiple of its block of ", block, " elements"));
  }
  if (__builtin_mul_overflow(numel / block, static_cast<uint64_t>(GgmlBlockBytes(t->type)),
                             &t->nbytes)) {
    return r.Error(tw, absl::StrCat("field `dims`: ", ShapeString(t->dims), " of ",
                                    GgmlTypeName(t->type), " overflows the byte size"));
  }
  if (absl::Status s = r.Read(tw + " field `offset`", &t->offset); !s.ok()) return s;
  return absl::OkStatus();
}

}  // namespace

const char* GgufValueTypeName(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8:
      return "uint8";
    case GgufValueType::kI8:
      return "int8";
    case GgufValueType::kU16:
      return "uint16";
    case GgufValueType::kI16:
      return "int16";
    case GgufValueType::kU32:
      return "uint32";
    case GgufValueType::kI32:
      return "int32";
    case GgufValueType::kF32:
      return "float32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "string";
    case GgufValueType::kArray:
      return "array";
    case GgufValueType::kU64:
      return "uint64";
    case GgufValueType::kI64:
      return "int64";
    case GgufValueType::kF64:
      return "float64";
  }
  return "unknown";
}

bool GgufValue::IsInteger() const {
  switch (type) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kU16:
    case GgufValueType::kI16:
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kU64:
    case GgufValueType::kI64:
      return true;
    default:
      return false;
  }
}

std::optional<int64_t> GgufValue::AsInt() const {
  switch (type) {
    case GgufValueType::kU8:
    case GgufValueType::kU16:
    case GgufValueType::kU32:
    case GgufValueType::kU64:
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(u);
    case GgufValueType::kI8:
    case GgufValueType::kI16:
    case GgufValueType::kI32:
    case GgufValueType::kI64:
      return i;
    default:
      return std::nullopt;
  }
}

std::optional<double> GgufValue::AsDouble() const {
  if (type == GgufValueType::kF32 || type == GgufValueType::kF64) return f;
  std::optional<int64_t> v = AsInt();
  if (!v.has_value()) return std::nullopt;
  return static_cast<double>(*v);
}

const char* GgmlTypeName(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kQ4_0:
      return "Q4_0";
    case GgmlType::kQ4_1:
      return "Q4_1";
    case GgmlType::kQ5_0:
      return "Q5_0";
    case GgmlType::kQ5_1:
      return "Q5_1";
    case GgmlType::kQ8_0:
      return "Q8_0";
    case GgmlType::kQ4_K:
      return "Q4_K";
    case GgmlType::kQ5_K:
      return "Q5_K";
    case GgmlType::kQ6_K:
      return "Q6_K";
    case GgmlType::kBF16:
      return "BF16";
  }
  return "unknown";
}

int64_t GgmlBlockElements(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return 1;
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ8_0:
      return 32;
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
      return 256;
  }
  return 1;
}

int64_t GgmlBlockBytes(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return 4;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return 2;
    case GgmlType::kQ4_0:
      return 2 + 16;  // fp16 scale, 32 4-bit values
    case GgmlType::kQ4_1:
      return 2 + 2 + 16;  // fp16 scale and offset, 32 4-bit values
    case GgmlType::kQ5_0:
      return 2 + 4 + 16;  // fp16 scale, 32 fifth bits, 32 4-bit values
    case GgmlType::kQ5_1:
      return 2 + 2 + 4 + 16;  // fp16 scale and offset, fifth bits, 4-bit values
    case GgmlType::kQ8_0:
      return 2 + 32;  // fp16 scale, 32 int8 values
    case GgmlType::kQ4_K:
      return 2 + 2 + 12 + 128;  // fp16 d, dmin; 6-bit scales/mins of 8 sub-blocks; 256 4-bit
    case GgmlType::kQ5_K:
      return 2 + 2 + 12 + 32 + 128;  // as Q4_K, plus the 5th bit of each code
    case GgmlType::kQ6_K:
      return 128 + 64 + 16 + 2;  // low 4 bits, high 2 bits, int8 scales of 16, fp16 d
  }
  return 1;
}

absl::StatusOr<GgufContents> ParseGguf(const uint8_t* bytes, uint64_t size,
                                       const std::string& origin) {
  Reader r(bytes, size, origin);
  GgufContents out;
  uint8_t magic[4] = {};
  for (uint8_t& b : magic) {
    if (absl::Status s = r.Read("header field `magic`", &b); !s.ok()) return s;
  }
  if (std::memcmp(magic, "GGUF", 4) != 0) {
    return r.Error("header field `magic`", absl::StrCat("bytes ", absl::StrJoin(magic, " "),
                                                        " are not \"GGUF\" (not a GGUF file)"));
  }
  if (absl::Status s = r.Read("header field `version`", &out.version); !s.ok()) return s;
  if (out.version != 2 && out.version != 3) {
    std::string why = "supported: 2 and 3";
    if (out.version == 1) why = "version 1 (32-bit counts) is not supported; supported: 2 and 3";
    if (out.version == 0x02000000u || out.version == 0x03000000u) {
      why = "a big-endian file? only little-endian GGUF is supported";
    }
    return r.Error("header field `version`", absl::StrCat(out.version, ": ", why));
  }
  uint64_t n_tensors = 0, n_kv = 0;
  if (absl::Status s = r.Read("header field `tensor_count`", &n_tensors); !s.ok()) return s;
  if (absl::Status s = r.Read("header field `metadata_kv_count`", &n_kv); !s.ok()) return s;
  // A key/value pair takes at least 8 + 4 + 1 bytes, a tensor info 8 + 4 + 8 + 4 + 8.
  if (n_kv > r.left() / 13) {
    return r.Error("header field `metadata_kv_count`",
                   absl::StrCat(n_kv, " pairs cannot fit in the ", r.left(), " bytes left"));
  }
  if (n_tensors > r.left() / 32) {
    return r.Error("header field `tensor_count`",
                   absl::StrCat(n_tensors, " tensors cannot fit in the ", r.left(), " bytes left"));
  }
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    if (absl::Status s =
            r.ReadString(absl::StrCat("metadata #", k, " field `key`"), kMaxKeyBytes, &key);
        !s.ok()) {
      return s;
    }
    const std::string where = absl::StrCat("metadata `", key, "`");
    if (key.empty()) return r.Error(absl::StrCat("metadata #", k), "field `key` is empty");
    if (out.metadata.count(key) != 0) return r.Error(where, "key is listed twice");
    uint32_t type = 0;
    if (absl::Status s = r.Read(where + " field `value_type`", &type); !s.ok()) return s;
    if (!KnownValueType(type)) {
      return r.Error(where, absl::StrCat("field `value_type`: unknown type id ", type));
    }
    GgufValue v;
    if (absl::Status s = ReadValue(r, where, static_cast<GgufValueType>(type), 0, &v); !s.ok()) {
      return s;
    }
    out.metadata.emplace(std::move(key), std::move(v));
  }
  if (auto it = out.metadata.find("general.alignment"); it != out.metadata.end()) {
    const GgufValue& a = it->second;
    if (a.type != GgufValueType::kU32) {
      return r.Error("metadata `general.alignment`",
                     absl::StrCat("expected uint32, got ", GgufValueTypeName(a.type)));
    }
    if (a.u == 0 || (a.u & (a.u - 1)) != 0 || a.u > kMaxAlignment) {
      return r.Error("metadata `general.alignment`",
                     absl::StrCat(a.u, " is not a power of two up to ", kMaxAlignment));
    }
    out.alignment = a.u;
  } else {
    out.alignment = kDefaultAlignment;
  }

  out.tensors.resize(static_cast<size_t>(n_tensors));
  std::map<std::string, uint64_t> seen;
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo& t = out.tensors[static_cast<size_t>(k)];
    if (absl::Status s = ReadTensorInfo(r, k, &t); !s.ok()) return s;
    if (auto [it, inserted] = seen.emplace(t.name, k); !inserted) {
      return r.Error(
          absl::StrCat("tensor `", t.name, "`"),
          absl::StrCat("field `name`: tensors #", it->second, " and #", k, " have the same name"));
    }
  }
  // The data section starts at the next multiple of the alignment.
  const uint64_t end_of_infos = r.pos();
  out.data_offset = (end_of_infos + out.alignment - 1) / out.alignment * out.alignment;
  const uint64_t data_size = out.data_offset <= size ? size - out.data_offset : 0;
  for (const GgufTensorInfo& t : out.tensors) {
    const std::string tw = absl::StrCat("tensor `", t.name, "`");
    if (t.offset % out.alignment != 0) {
      return r.Error(tw, absl::StrCat("field `offset`: ", t.offset,
                                      " is not a multiple of the alignment ", out.alignment));
    }
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      return r.Error(tw, absl::StrCat("field `offset`: bytes [", t.offset, ", +", t.nbytes, ") of ",
                                      ShapeString(t.dims), " ", GgmlTypeName(t.type),
                                      " lie past the end of the ", data_size,
                                      "-byte data section (file truncated?)"));
    }
  }
  std::vector<const GgufTensorInfo*> by_offset;
  for (const GgufTensorInfo& t : out.tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensorInfo& prev = *by_offset[k - 1];
    if (by_offset[k]->offset < prev.offset + prev.nbytes) {
      return r.Error(
          absl::StrCat("tensor `", by_offset[k]->name, "`"),
          absl::StrCat("field `offset`: ", by_offset[k]->offset, " overlaps the bytes of tensor `",
                       prev.name, "` [", prev.offset, ", ", prev.offset + prev.nbytes, ")"));
    }
  }
  return out;
}

bool IsGgufPath(const std::string& path) {
  std::error_code ec;
  return std::filesystem::path(path).extension() == ".gguf" &&
         !std::filesystem::is_directory(path, ec);
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  absl::StatusOr<RegularFile> opened = RegularFile::Open(path);
  if (!opened.ok()) return opened.status();
  const uint64_t size = static_cast<uint64_t>(opened->size());
  if (size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty file, not a GGUF file"));
  }
  void* addr = mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, opened->fd(), 0);
  if (addr == MAP_FAILED) {
    return absl::InternalError(absl::StrCat(path, ": mmap failed: ", std::strerror(errno)));
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  const size_t len = static_cast<size_t>(size);
  file->mapping_ = std::shared_ptr<const void>(
      addr, [len](const void* p) { munmap(const_cast<void*>(p), len); });
  file->path_ = path;
  file->size_ = size;
  absl::StatusOr<GgufContents> contents = ParseGguf(static_cast<const uint8_t*>(addr), size, path);
  if (!contents.ok()) return contents.status();
  file->contents_ = *std::move(contents);
  for (size_t k = 0; k < file->contents_.tensors.size(); ++k) {
    file->by_name_.emplace(file->contents_.tensors[k].name, k);
  }
  return file;
}

const GgufValue* GgufFile::Find(absl::string_view key) const {
  auto it = contents_.metadata.find(std::string(key));
  return it == contents_.metadata.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::FindTensor(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &contents_.tensors[it->second];
}

const uint8_t* GgufFile::TensorData(const GgufTensorInfo& t) const {
  return static_cast<const uint8_t*>(mapping_.get()) + contents_.data_offset + t.offset;
}

}  // namespace inferd::engine
