// tests/unit/model/gguf_writer.h — builds GGUF files in memory for tests,
// following the public spec (ggml's docs/gguf.md), and remembers where each
// field was written so that tests can corrupt one field of a valid file.
#ifndef INFERD_TESTS_UNIT_MODEL_GGUF_WRITER_H_
#define INFERD_TESTS_UNIT_MODEL_GGUF_WRITER_H_

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace inferd::testing {

class GgufWriter {
 public:
  // Field offsets recorded as "header.version", "kv.<key>.type",
  // "tensor.<name>.n_dims", ".dims", ".type", ".offset", ".name_len".
  std::map<std::string, size_t> at;

  explicit GgufWriter(uint32_t version = 3) {
    Raw("GGUF", 4);
    at["header.version"] = bytes_.size();
    U32(version);
    at["header.tensor_count"] = bytes_.size();
    U64(0);
    at["header.kv_count"] = bytes_.size();
    U64(0);
  }

  void U8(uint8_t v) { Raw(&v, 1); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void F32(float v) { Raw(&v, 4); }
  void Str(const std::string& s) {
    U64(s.size());
    Raw(s.data(), s.size());
  }

  // A metadata key and its type id; the caller writes the value.
  void Key(const std::string& key, uint32_t type) {
    at["kv." + key] = bytes_.size();
    Str(key);
    at["kv." + key + ".type"] = bytes_.size();
    U32(type);
    ++kv_count_;
  }
  void KvU32(const std::string& key, uint32_t v) {
    Key(key, 4);
    U32(v);
  }
  void KvF32(const std::string& key, float v) {
    Key(key, 6);
    F32(v);
  }
  void KvStr(const std::string& key, const std::string& v) {
    Key(key, 8);
    Str(v);
  }
  void KvStrArray(const std::string& key, const std::vector<std::string>& v) {
    Key(key, 9);
    U32(8);
    at["kv." + key + ".len"] = bytes_.size();
    U64(v.size());
    for (const std::string& s : v) Str(s);
  }
  void KvBool(const std::string& key, bool v) {
    Key(key, 7);
    U8(v ? 1 : 0);
  }
  void KvI32Array(const std::string& key, const std::vector<int32_t>& v) {
    Key(key, 9);
    U32(5);
    at["kv." + key + ".len"] = bytes_.size();
    U64(v.size());
    for (int32_t x : v) Raw(&x, 4);
  }
  void KvF32Array(const std::string& key, const std::vector<float>& v) {
    Key(key, 9);
    U32(6);
    at["kv." + key + ".len"] = bytes_.size();
    U64(v.size());
    for (float f : v) F32(f);
  }

  // A tensor of ggml type `type` with GGUF dims (innermost first) and raw
  // bytes `data`, placed at the next aligned offset of the data section
  // (or at `offset` when given).
  void Tensor(const std::string& name, uint32_t type, const std::vector<uint64_t>& dims,
              std::vector<uint8_t> data, int64_t offset = -1) {
    at["tensor." + name + ".name_len"] = bytes_.size();
    Str(name);
    at["tensor." + name + ".n_dims"] = bytes_.size();
    U32(static_cast<uint32_t>(dims.size()));
    at["tensor." + name + ".dims"] = bytes_.size();
    for (uint64_t d : dims) U64(d);
    at["tensor." + name + ".type"] = bytes_.size();
    U32(type);
    at["tensor." + name + ".offset"] = bytes_.size();
    uint64_t off = offset >= 0 ? static_cast<uint64_t>(offset) : Align(data_.size());
    U64(off);
    if (data_.size() < off + data.size()) data_.resize(off + data.size());
    std::memcpy(data_.data() + off, data.data(), data.size());
    ++tensor_count_;
  }

  // The whole file: counts patched in, padding, the data section.
  std::string Finish(uint64_t alignment = 32) {
    std::vector<uint8_t> out = bytes_;
    std::memcpy(out.data() + at["header.tensor_count"], &tensor_count_, 8);
    std::memcpy(out.data() + at["header.kv_count"], &kv_count_, 8);
    while (out.size() % alignment != 0) out.push_back(0);
    at["data"] = out.size();
    out.insert(out.end(), data_.begin(), data_.end());
    return std::string(out.begin(), out.end());
  }

  static std::vector<uint8_t> F32Data(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
  }

 private:
  void Raw(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), c, c + n);
  }
  uint64_t Align(uint64_t n) const { return (n + 31) / 32 * 32; }

  std::vector<uint8_t> bytes_;
  std::vector<uint8_t> data_;
  uint64_t tensor_count_ = 0;
  uint64_t kv_count_ = 0;
};

// Overwrites sizeof(T) bytes of `file` at `offset` with `v`.
template <typename T>
void Patch(std::string* file, size_t offset, T v) {
  std::memcpy(file->data() + offset, &v, sizeof(T));
}

}  // namespace inferd::testing

#endif  // INFERD_TESTS_UNIT_MODEL_GGUF_WRITER_H_
