// engine/model/safetensors.cc — SafetensorsFile: header validation, and
// positional reads of one tensor into place with dtype conversion.
//
// Layout: [u64 LE header length N][N bytes of JSON header][data section].
// Header: {"__metadata__": {str: str}?, "<tensor>": {"dtype": "F32"|"F16"|
// "BF16", "shape": [int...], "data_offsets": [begin, end]}, ...}, offsets
// relative to the data section.
#include "engine/model/safetensors.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/check.h"
#include "common/json_fields.h"
#include "common/regular_file.h"
#include "engine/model/dtype.h"
#include "kernels/ops.h"

namespace inferd::engine {
namespace {

using Json = nlohmann::json;

// A header larger than this is refused (real ones are well under 10 MB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

absl::Status Invalid(const std::string& origin, absl::string_view tensor, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ": tensor `", tensor, "`: ", what));
}

// Reads a non-negative JSON integer.
bool AsU64(const Json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(v.get<int64_t>());
    return true;
  }
  return false;
}

absl::StatusOr<TensorInfo> ParseTensor(const std::string& origin, const std::string& name,
                                       const Json& entry, uint64_t data_size) {
  if (!entry.is_object()) {
    return Invalid(origin, name, absl::StrCat("expected an object, got ", JsonTypeName(entry)));
  }
  TensorInfo info;
  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return Invalid(origin, name, "field `dtype` is missing or not a string");
  }
  std::optional<DType> dtype = ParseDType(dtype_it->get<std::string>());
  if (!dtype.has_value()) {
    return Invalid(origin, name,
                   absl::StrCat("dtype ", dtype_it->get<std::string>(),
                                " is not supported (supported: F32, F16, BF16)"));
  }
  info.dtype = *dtype;

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return Invalid(origin, name, "field `shape` is missing or not an array");
  }
  uint64_t numel = 1;
  for (const Json& d : *shape_it) {
    uint64_t dim;
    if (!AsU64(d, &dim) || dim > static_cast<uint64_t>(INT64_MAX)) {
      return Invalid(origin, name,
                     absl::StrCat("shape ", shape_it->dump(),
                                  " has an entry that is not a "
                                  "non-negative integer"));
    }
    if (__builtin_mul_overflow(numel, dim, &numel)) {
      return Invalid(origin, name, absl::StrCat("shape ", shape_it->dump(), " overflows"));
    }
    info.shape.push_back(static_cast<int64_t>(dim));
  }
  uint64_t nbytes;
  if (__builtin_mul_overflow(numel, DTypeSize(info.dtype), &nbytes)) {
    return Invalid(origin, name, absl::StrCat("shape ", shape_it->dump(), " overflows"));
  }

  auto off_it = entry.find("data_offsets");
  if (off_it == entry.end() || !off_it->is_array() || off_it->size() != 2 ||
      !AsU64((*off_it)[0], &info.begin) || !AsU64((*off_it)[1], &info.end)) {
    return Invalid(origin, name, "field `data_offsets` must be [begin, end] (non-negative ints)");
  }
  if (info.begin > info.end) {
    return Invalid(origin, name,
                   absl::StrCat("data_offsets [", info.begin, ", ", info.end, "] has begin > end"));
  }
  if (info.end > data_size) {
    return Invalid(
        origin, name,
        absl::StrCat("data_offsets [", info.begin, ", ", info.end,
                     "] lie outside the data section of ", data_size, " bytes (file truncated?)"));
  }
  if (info.end - info.begin != nbytes) {
    return Invalid(origin, name,
                   absl::StrCat("data_offsets [", info.begin, ", ", info.end, "] span ",
                                info.end - info.begin, " bytes but shape ", shape_it->dump(),
                                " of ", SafetensorsDTypeName(info.dtype), " needs ", nbytes));
  }
  return info;
}

absl::Status CheckMetadata(const std::string& origin, const Json& meta) {
  if (!meta.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": `__metadata__` must be an object, got ", JsonTypeName(meta)));
  }
  for (const auto& [key, value] : meta.items()) {
    if (!value.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": `__metadata__` entry `", key,
                                                     "` must be a string, got ",
                                                     JsonTypeName(value)));
    }
  }
  return absl::OkStatus();
}

// Tensors with bytes must not share any.
absl::Status CheckOverlaps(const std::string& origin,
                           const std::map<std::string, TensorInfo>& tensors) {
  std::vector<std::tuple<uint64_t, uint64_t, const std::string*>> spans;
  for (const auto& [name, info] : tensors) {
    if (info.end > info.begin) spans.emplace_back(info.begin, info.end, &name);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (std::get<0>(spans[i]) < std::get<1>(spans[i - 1])) {
      return Invalid(
          origin, *std::get<2>(spans[i]),
          absl::StrCat("data_offsets overlap those of tensor `", *std::get<2>(spans[i - 1]), "`"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, TensorInfo>> ParseHeaderJson(const std::string& origin,
                                                                  absl::string_view text,
                                                                  uint64_t data_size) {
  // Duplicate top-level keys are an error (nlohmann would keep the last one).
  std::set<std::string> keys;
  std::string duplicate;
  Json::parser_callback_t on_event = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key && duplicate.empty() &&
        !keys.insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text.begin(), text.end(), on_event);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": invalid JSON header: ", e.what()));
  }
  if (!header.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": header must be a JSON object, got ", JsonTypeName(header)));
  }
  if (!duplicate.empty()) return Invalid(origin, duplicate, "listed twice in the header");
  std::map<std::string, TensorInfo> tensors;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (absl::Status s = CheckMetadata(origin, entry); !s.ok()) return s;
      continue;
    }
    absl::StatusOr<TensorInfo> info = ParseTensor(origin, name, entry, data_size);
    if (!info.ok()) return info.status();
    tensors.emplace(name, *std::move(info));
  }
  if (absl::Status s = CheckOverlaps(origin, tensors); !s.ok()) return s;
  return tensors;
}

}  // namespace

namespace {

// ParseHeader of a file of `file_size` bytes whose first `size` bytes (the
// length and as much of the header as exists) are `bytes`.
absl::StatusOr<std::map<std::string, TensorInfo>> ParseHeaderSized(const uint8_t* bytes,
                                                                   uint64_t size,
                                                                   uint64_t file_size,
                                                                   const std::string& origin) {
  if (file_size < 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": truncated: ", file_size, " bytes, shorter than the 8-byte header length"));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": header length ", header_len,
                                                   " exceeds the limit of ", kMaxHeaderBytes));
  }
  if (header_len > file_size - 8 || header_len > size - 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": truncated: header length ", header_len, " exceeds the file size ", file_size));
  }
  const absl::string_view text(reinterpret_cast<const char*>(bytes + 8), header_len);
  try {
    return ParseHeaderJson(origin, text, file_size - 8 - header_len);
  } catch (const Json::exception& e) {  // defensive: the readers check types first
    return absl::InvalidArgumentError(absl::StrCat(origin, ": bad header: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<std::map<std::string, TensorInfo>> SafetensorsFile::ParseHeader(
    const uint8_t* bytes, uint64_t size, const std::string& origin) {
  return ParseHeaderSized(bytes, size, size, origin);
}

SafetensorsFile::SafetensorsFile(std::string path, RegularFile file)
    : path_(std::move(path)), file_(std::move(file)) {}

namespace {

// Reads exactly `n` bytes at `offset`; DATA_LOSS on a short file.
absl::Status PreadAll(int fd, const std::string& path, uint64_t offset, uint64_t n, void* dst) {
  auto* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n, uint64_t{1} << 30));
    const ssize_t got = pread(fd, out, want, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat(path, ": read failed: ", std::strerror(errno)));
    }
    if (got == 0) {
      return absl::DataLossError(absl::StrCat(path, ": the file ends at byte ", offset,
                                              ", before the data its header describes "
                                              "(truncated or replaced while loading?)"));
    }
    out += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<uint64_t>(got);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  // A FIFO, device or directory is refused without blocking.
  absl::StatusOr<RegularFile> opened = RegularFile::Open(path);
  if (!opened.ok()) return opened.status();
  const uint64_t size = static_cast<uint64_t>(opened->size());
  // The 8-byte length and the header: read and checked like ParseHeader does,
  // without reading the data section.
  uint8_t len_bytes[8] = {};
  const uint64_t head = std::min<uint64_t>(size, 8);
  if (absl::Status s = PreadAll(opened->fd(), path, 0, head, len_bytes); !s.ok()) return s;
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  std::string prefix(reinterpret_cast<const char*>(len_bytes), head);
  if (size >= 8 && header_len <= kMaxHeaderBytes && header_len <= size - 8) {
    prefix.resize(8 + header_len);
    if (absl::Status s = PreadAll(opened->fd(), path, 8, header_len, prefix.data() + 8); !s.ok()) {
      return s;
    }
  }
  // ParseHeader sees the length, the header and the true file size (the data
  // section's bytes are not needed to check the offsets).
  absl::StatusOr<std::map<std::string, TensorInfo>> tensors =
      ParseHeaderSized(reinterpret_cast<const uint8_t*>(prefix.data()), prefix.size(), size, path);
  if (!tensors.ok()) return tensors.status();
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile(path, *std::move(opened)));
  file->tensors_ = *std::move(tensors);
  file->data_start_ = 8 + header_len;
  return file;
}

absl::Status SafetensorsFile::ReadInto(const std::string& name, DType dtype, void* dst) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(absl::StrCat(path_, ": no tensor `", name, "`"));
  }
  const TensorInfo& info = it->second;
  const uint64_t elem = static_cast<uint64_t>(DTypeSize(info.dtype));
  const uint64_t numel = (info.end - info.begin) / elem;
  const uint64_t offset = data_start_ + info.begin;
  if (info.dtype == dtype) return PreadAll(file_.fd(), path_, offset, numel * elem, dst);
  // Convert chunk by chunk through a small bounce buffer (and fp32 between
  // two 16-bit types).
  constexpr uint64_t kChunk = uint64_t{1} << 20;  // elements
  std::vector<uint8_t> raw(static_cast<size_t>(std::min(numel, kChunk) * elem));
  std::vector<float> wide;
  auto* out = static_cast<uint8_t*>(dst);
  const uint64_t out_elem = static_cast<uint64_t>(DTypeSize(dtype));
  for (uint64_t i = 0; i < numel; i += kChunk) {
    const uint64_t n = std::min(kChunk, numel - i);
    if (absl::Status s = PreadAll(file_.fd(), path_, offset + i * elem, n * elem, raw.data());
        !s.ok()) {
      return s;
    }
    void* o = out + i * out_elem;
    if (dtype == DType::kF32) {
      kernels::ConvertToF32(raw.data(), info.dtype, static_cast<int64_t>(n),
                            static_cast<float*>(o));
    } else if (info.dtype == DType::kF32) {
      kernels::ConvertFromF32(reinterpret_cast<const float*>(raw.data()), static_cast<int64_t>(n),
                              o, dtype);
    } else {
      wide.resize(static_cast<size_t>(n));
      kernels::ConvertToF32(raw.data(), info.dtype, static_cast<int64_t>(n), wide.data());
      kernels::ConvertFromF32(wide.data(), static_cast<int64_t>(n), o, dtype);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SafetensorsFile::Mapped> SafetensorsFile::Map(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(absl::StrCat(path_, ": no tensor `", name, "`"));
  }
  const TensorInfo& info = it->second;
  std::lock_guard<std::mutex> lock(map_mutex_);
  if (mapping_ == nullptr) {
    // The header was checked against the size at Open; the file may have
    // changed since, and touching a page past its end would be SIGBUS.
    struct stat st;
    if (fstat(file_.fd(), &st) != 0) {
      return absl::InternalError(absl::StrCat(path_, ": fstat failed: ", std::strerror(errno)));
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < static_cast<uint64_t>(file_.size())) {
      return absl::DataLossError(absl::StrCat(path_, ": the file is now ", size,
                                              " bytes, shorter than the ", file_.size(),
                                              " it had when opened (truncated or replaced while "
                                              "loading?)"));
    }
    if (size == 0) return absl::InternalError(absl::StrCat(path_, ": an empty file is not mapped"));
    void* addr = mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, file_.fd(), 0);
    if (addr == MAP_FAILED) {
      return absl::InternalError(absl::StrCat(path_, ": mmap failed: ", std::strerror(errno)));
    }
    const size_t len = static_cast<size_t>(size);
    mapping_ = std::shared_ptr<const void>(
        addr, [len](const void* p) { munmap(const_cast<void*>(p), len); });
    mapped_size_ = size;
  }
  const uint64_t begin = data_start_ + info.begin;
  const uint64_t end = data_start_ + info.end;
  INFERD_CHECK_LE(end, mapped_size_) << path_ << " " << name;
  const auto* base = static_cast<const uint8_t*>(mapping_.get());
  if (end > begin) {
    // Read ahead what the first steps will touch anyway.
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    const uint64_t first = begin / page * page;
    madvise(const_cast<uint8_t*>(base + first), static_cast<size_t>(end - first), MADV_WILLNEED);
  }
  return Mapped{mapping_, base + begin};
}

absl::Status SafetensorsFile::LoadF32(const std::string& name, std::vector<float>* out) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(absl::StrCat(path_, ": no tensor `", name, "`"));
  }
  const TensorInfo& info = it->second;
  out->resize((info.end - info.begin) / static_cast<uint64_t>(DTypeSize(info.dtype)));
  return ReadInto(name, DType::kF32, out->data());
}

}  // namespace inferd::engine
