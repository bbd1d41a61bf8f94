#include "engine/output/output_dir.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status WriteFileSynced(const std::string& path, const std::string& contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(absl::StrCat("cannot create ", path));
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = Errno(absl::StrCat("cannot write ", path));
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status s = Errno(absl::StrCat("cannot sync ", path));
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return Errno(absl::StrCat("cannot close ", path));
  return absl::OkStatus();
}

void SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

absl::Status WriteDirectoryAtomically(const std::string& dir, const std::vector<OutputFile>& files,
                                      const std::function<void(const std::string&)>& after_each_file) {
  fs::path target = fs::absolute(dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();
  const fs::path parent = target.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", parent.string(), ": ", ec.message()));
  // A fresh temporary sibling (same filesystem, so the exchange is a rename).
  const fs::path tmp = parent / absl::StrCat(".", target.filename().string(), ".new-", ::getpid());
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec) || ec) {
    return absl::UnavailableError(absl::StrCat("cannot create ", tmp.string(), ": ", ec.message()));
  }
  for (const OutputFile& f : files) {
    absl::Status s = WriteFileSynced((tmp / f.name).string(), f.contents);
    if (!s.ok()) {
      fs::remove_all(tmp, ec);
      return s;
    }
    if (after_each_file) after_each_file(f.name);
  }
  SyncDir(tmp.string());
  if (fs::exists(target)) {
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
      if (errno != EINVAL && errno != ENOSYS) return Errno(absl::StrCat("cannot replace ", target.string()));
      // Filesystems without RENAME_EXCHANGE: two renames (a crash between them leaves the
      // previous set complete under the .old name).
      const fs::path old = parent / absl::StrCat(".", target.filename().string(), ".old-", ::getpid());
      fs::remove_all(old, ec);
      if (::rename(target.c_str(), old.c_str()) != 0) return Errno("cannot move the previous outputs aside");
      if (::rename(tmp.c_str(), target.c_str()) != 0) return Errno("cannot move the new outputs in");
      fs::remove_all(old, ec);
    } else {
      fs::remove_all(tmp, ec);  // now holds the previous set
    }
  } else if (::rename(tmp.c_str(), target.c_str()) != 0) {
    return Errno(absl::StrCat("cannot create ", target.string()));
  }
  SyncDir(parent.string());
  return absl::OkStatus();
}

}  // namespace polmatch
