// common/regular_file.h — opening and reading files that come from outside
// (model files, certificates, key files, traces) without ever blocking or
// reading without bound.
//
// A path handed to inferd may name anything: a FIFO (open() for reading
// blocks until a writer appears: forever), a character device (/dev/zero
// never ends), a directory, a symlink loop. These helpers open with
// O_NONBLOCK, then require a regular file (fstat on the opened descriptor,
// so no race with a rename), then clear O_NONBLOCK. Every error names the
// path and what is wrong with it.
#ifndef INFERD_COMMON_REGULAR_FILE_H_
#define INFERD_COMMON_REGULAR_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace inferd {

// What a path is, for messages: "a directory", "a FIFO", "a character
// device", "a symlink loop", "missing", ...
std::string DescribePathKind(const std::string& path);

// An open descriptor of a regular file, closed on destruction.
class RegularFile {
 public:
  // NOT_FOUND when the path does not exist; PERMISSION_DENIED when it cannot
  // be read for lack of permission; INVALID_ARGUMENT when it is not a regular
  // file (naming what it is) or cannot be opened for another reason.
  static absl::StatusOr<RegularFile> Open(const std::string& path);

  RegularFile(RegularFile&& other) noexcept;
  RegularFile& operator=(RegularFile&& other) noexcept;
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  ~RegularFile();

  int fd() const { return fd_; }
  int64_t size() const { return size_; }

 private:
  RegularFile(int fd, int64_t size) : fd_(fd), size_(size) {}
  int fd_ = -1;
  int64_t size_ = 0;
};

// The whole content of a regular file of at most `max_bytes` (a larger file
// is INVALID_ARGUMENT naming both sizes: a wrong file, not a reason to
// allocate).
absl::StatusOr<std::string> ReadRegularFile(const std::string& path, int64_t max_bytes);

}  // namespace inferd

#endif  // INFERD_COMMON_REGULAR_FILE_H_
