#include "engine/util/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace polmatch {
namespace {

const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "of an unknown kind";
}

}  // namespace

absl::StatusOr<int> OpenRegularFile(const std::string& path) {
  absl::StatusOr<RegularFile> file = OpenRegularFileWithStat(path);
  if (!file.ok()) return file.status();
  return file->fd;
}

absl::StatusOr<RegularFile> OpenRegularFileWithStat(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty file name");
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int error = errno;
    const std::string message = absl::StrCat(path, ": ", std::strerror(error));
    if (error == ENOENT || error == ENOTDIR) return absl::NotFoundError(message);
    if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
    if (error == EISDIR) return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file (a directory)"));
    return absl::UnavailableError(message);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string message = absl::StrCat(path, ": ", std::strerror(errno));
    ::close(fd);
    return absl::UnavailableError(message);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file (", KindOf(st.st_mode), ")"));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    const std::string message = absl::StrCat(path, ": ", std::strerror(errno));
    ::close(fd);
    return absl::UnavailableError(message);
  }
  return RegularFile{fd, st};
}

absl::Status CheckRegularFile(const std::string& path) {
  absl::StatusOr<int> fd = OpenRegularFile(path);
  if (!fd.ok()) return fd.status();
  ::close(*fd);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadRegularFile(const std::string& path) {
  absl::StatusOr<int> fd = OpenRegularFile(path);
  if (!fd.ok()) return fd.status();
  std::string out;
  struct stat st {};
  if (::fstat(*fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string message = absl::StrCat(path, ": read error: ", std::strerror(errno));
      ::close(*fd);
      return absl::DataLossError(message);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(*fd);
  return out;
}

}  // namespace polmatch
