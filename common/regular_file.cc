// common/regular_file.cc
#include "common/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace inferd {

namespace {

std::string KindOfMode(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

absl::Status OpenError(const std::string& path, int error) {
  if (error == ENOENT) {
    return absl::NotFoundError(absl::StrCat(path, ": file not found"));
  }
  if (error == EACCES || error == EPERM) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot open for reading: ", std::strerror(error)));
  }
  if (error == ELOOP) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": a symlink loop (too many levels of symbolic links)"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": cannot open for reading: ", std::strerror(error)));
}

}  // namespace

std::string DescribePathKind(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return KindOfMode(st.st_mode);
  const int error = errno;
  if (error == ELOOP) return "a symlink loop";
  if (error == ENOENT) {
    struct stat link;
    if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) return "a dangling symlink";
    return "missing";
  }
  return absl::StrCat("unreadable (", std::strerror(error), ")");
}

absl::StatusOr<RegularFile> RegularFile::Open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO without a writer returns at once instead of
  // waiting for one.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return OpenError(path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot stat: ", std::strerror(error)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is ", KindOfMode(st.st_mode), ", not a regular file"));
  }
  // Regular files ignore O_NONBLOCK; clear it anyway so reads behave plainly.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return RegularFile(fd, static_cast<int64_t>(st.st_size));
}

RegularFile::RegularFile(RegularFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

RegularFile& RegularFile::operator=(RegularFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::string> ReadRegularFile(const std::string& path, int64_t max_bytes) {
  absl::StatusOr<RegularFile> file = RegularFile::Open(path);
  if (!file.ok()) return file.status();
  if (file->size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", file->size(),
                                                   " bytes, more than the ", max_bytes,
                                                   " this file may hold: wrong file?"));
  }
  std::string data;
  data.resize(static_cast<size_t>(file->size()));
  size_t done = 0;
  // Read until EOF: the file may have grown (never past max_bytes) or shrunk
  // since fstat.
  while (true) {
    if (done == data.size()) {
      if (static_cast<int64_t>(data.size()) >= max_bytes + 1) break;
      data.resize(std::min<size_t>(data.size() + 4096, static_cast<size_t>(max_bytes) + 1));
    }
    const ssize_t n = ::read(file->fd(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(absl::StrCat(path, ": read error: ", std::strerror(errno)));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  if (static_cast<int64_t>(done) > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": more than the ", max_bytes,
                                                   " bytes this file may hold: wrong file?"));
  }
  data.resize(done);
  return data;
}

}  // namespace inferd
