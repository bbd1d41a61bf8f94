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

// Writes to a file, asking the kernel to start writing back every 64 MiB (so a huge output keeps
// the disk busy from the start instead of piling up dirty pages until the final fsync).
class FdSink : public ByteSink {
 public:
  FdSink(int fd, const std::string* path) : fd_(fd), path_(path) {}
  absl::Status Write(absl::string_view bytes) override {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno(absl::StrCat("cannot write ", *path_));
      }
      done += static_cast<size_t>(n);
    }
    written_ += bytes.size();
    if (written_ - flushed_ >= kWriteback) {
      ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(written_ - flushed_),
                        SYNC_FILE_RANGE_WRITE);
      flushed_ = written_;
    }
    return absl::OkStatus();
  }

 private:
  static constexpr uint64_t kWriteback = uint64_t{64} << 20;
  int fd_;
  const std::string* path_;
  uint64_t written_ = 0, flushed_ = 0;
};

void SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<AtomicOutputDir>> AtomicOutputDir::Create(const std::string& dir) {
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
  return std::unique_ptr<AtomicOutputDir>(
      new AtomicOutputDir(target.string(), parent.string(), tmp.string()));
}

AtomicOutputDir::~AtomicOutputDir() {
  for (const auto& [fd, path] : unsynced_) ::close(fd);
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

absl::Status AtomicOutputDir::WriteFile(const std::string& name,
                                        const std::function<absl::Status(ByteSink*)>& fill) {
  const std::string path = (fs::path(tmp_) / name).string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(absl::StrCat("cannot create ", path));
  FdSink sink(fd, &path);
  absl::Status s = fill(&sink);
  if (!s.ok()) {
    ::close(fd);
    return s;
  }
  // Writeback starts now; Commit() waits for it (fsync) while the next files are being made.
  ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  std::lock_guard<std::mutex> lock(mu_);
  unsynced_.emplace_back(fd, path);
  return absl::OkStatus();
}

absl::Status AtomicOutputDir::Commit() {
  std::error_code ec;
  absl::Status synced;
  for (const auto& [fd, path] : unsynced_) {
    if (synced.ok() && ::fsync(fd) != 0) synced = Errno(absl::StrCat("cannot sync ", path));
    if (::close(fd) != 0 && synced.ok()) synced = Errno(absl::StrCat("cannot close ", path));
  }
  unsynced_.clear();
  if (!synced.ok()) return synced;
  SyncDir(tmp_);
  if (fs::exists(target_)) {
    if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0) {
      if (errno != EINVAL && errno != ENOSYS) return Errno(absl::StrCat("cannot replace ", target_));
      // Filesystems without RENAME_EXCHANGE: two renames (a crash between them leaves the
      // previous set complete under the .old name).
      const fs::path target(target_);
      const fs::path old = fs::path(parent_) / absl::StrCat(".", target.filename().string(), ".old-", ::getpid());
      fs::remove_all(old, ec);
      if (::rename(target_.c_str(), old.c_str()) != 0) return Errno("cannot move the previous outputs aside");
      if (::rename(tmp_.c_str(), target_.c_str()) != 0) return Errno("cannot move the new outputs in");
      committed_ = true;
      fs::remove_all(old, ec);
    } else {
      committed_ = true;
      fs::remove_all(tmp_, ec);  // now holds the previous set
    }
  } else if (::rename(tmp_.c_str(), target_.c_str()) != 0) {
    return Errno(absl::StrCat("cannot create ", target_));
  }
  committed_ = true;
  SyncDir(parent_);
  return absl::OkStatus();
}

absl::Status WriteDirectoryAtomically(const std::string& dir, const std::vector<OutputFile>& files,
                                      const std::function<void(const std::string&)>& after_each_file) {
  absl::StatusOr<std::unique_ptr<AtomicOutputDir>> out = AtomicOutputDir::Create(dir);
  if (!out.ok()) return out.status();
  for (const OutputFile& f : files) {
    absl::Status s = (*out)->WriteFile(f.name, [&](ByteSink* sink) { return sink->Write(f.contents); });
    if (!s.ok()) return s;
    if (after_each_file) after_each_file(f.name);
  }
  return (*out)->Commit();
}

}  // namespace polmatch
