// common/host_buffer.cc
#include "common/host_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/memory_limit.h"

namespace inferd {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr int64_t kSmall = 1 << 20;  // below this: aligned_alloc, no mapping of its own

}  // namespace

absl::StatusOr<HostBuffer> HostBuffer::Allocate(int64_t bytes) {
  HostBuffer b;
  if (bytes <= 0) return b;
  b.bytes_ = bytes;
  if (bytes < kSmall) {
    const size_t rounded = (static_cast<size_t>(bytes) + 63) / 64 * 64;
    b.data_ = std::aligned_alloc(64, rounded);
    if (b.data_ == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot allocate ", FormatBytes(static_cast<double>(bytes))));
    }
    return b;
  }
  // Map one huge page more than needed and start at the first 2 MiB boundary,
  // so khugepaged can back the whole range with huge pages.
  const size_t want = (static_cast<size_t>(bytes) + kHugePage - 1) / kHugePage * kHugePage;
  const size_t len = want + kHugePage;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot map ",
                                                     FormatBytes(static_cast<double>(bytes)),
                                                     " of memory: ", std::strerror(errno)));
  }
  const uintptr_t base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (base + kHugePage - 1) / kHugePage * kHugePage;
  // Give back the unaligned head and the tail beyond `want`.
  if (aligned > base) munmap(p, aligned - base);
  const uintptr_t end = base + len;
  if (end > aligned + want) munmap(reinterpret_cast<void*>(aligned + want), end - aligned - want);
  b.data_ = reinterpret_cast<void*>(aligned);
  b.mapped_ = want;
  madvise(b.data_, want, MADV_HUGEPAGE);  // a hint: fine if THP is off
  return b;
}

HostBuffer::HostBuffer(HostBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

HostBuffer::~HostBuffer() { Release(); }

void HostBuffer::Release() {
  if (data_ == nullptr) return;
  if (mapped_ != 0) {
    munmap(data_, mapped_);
  } else {
    std::free(data_);
  }
  data_ = nullptr;
  bytes_ = 0;
  mapped_ = 0;
}

}  // namespace inferd
