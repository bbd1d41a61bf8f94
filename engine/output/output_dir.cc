#include "engine/output/output_dir.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

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

// In front of a new file's sink: while the bytes equal those of `prev` (the same file of the last
// run), nothing is written; at the first difference, the equal prefix is copied from `prev` and
// writing goes on as usual. A file found identical is then linked instead of written (steady
// state: gigabytes at S2 not written again).
class SameAsSink : public ByteSink {
 public:
  SameAsSink(int prev_fd, uint64_t prev_size, ByteSink* out) : prev_fd_(prev_fd), prev_size_(prev_size), out_(out) {}
  absl::Status Write(absl::string_view bytes) override {
    if (!diverged_) {
      if (offset_ + bytes.size() <= prev_size_ && Equal(bytes)) {
        offset_ += bytes.size();
        return absl::OkStatus();
      }
      if (absl::Status s = Diverge(); !s.ok()) return s;
    }
    return out_->Write(bytes);
  }
  // True when every byte was equal and as many: nothing was written.
  bool identical() const { return !diverged_ && offset_ == prev_size_; }
  // Writes the equal prefix when the file turned out shorter than `prev`.
  absl::Status Finish() { return identical() || diverged_ ? absl::OkStatus() : Diverge(); }

 private:
  bool Equal(absl::string_view bytes) {
    buf_.resize(std::min<size_t>(bytes.size(), size_t{4} << 20));
    for (size_t at = 0; at < bytes.size();) {
      const size_t n = std::min(buf_.size(), bytes.size() - at);
      if (!ReadFully(offset_ + at, n) || std::memcmp(buf_.data(), bytes.data() + at, n) != 0) return false;
      at += n;
    }
    return true;
  }
  bool ReadFully(uint64_t offset, size_t n) {
    for (size_t done = 0; done < n;) {
      const ssize_t r = ::pread(prev_fd_, buf_.data() + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      done += static_cast<size_t>(r);
    }
    return true;
  }
  absl::Status Diverge() {
    diverged_ = true;
    buf_.resize(size_t{4} << 20);
    for (uint64_t at = 0; at < offset_;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buf_.size(), offset_ - at));
      if (!ReadFully(at, n)) return absl::UnavailableError("cannot read the previous run's file");
      if (absl::Status s = out_->Write(absl::string_view(buf_.data(), n)); !s.ok()) return s;
      at += n;
    }
    return absl::OkStatus();
  }

  int prev_fd_;
  uint64_t prev_size_;
  ByteSink* out_;
  uint64_t offset_ = 0;
  bool diverged_ = false;
  std::string buf_;
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
                                        const std::function<absl::Status(ByteSink*)>& fill,
                                        const std::string& same_as) {
  const std::string path = (fs::path(tmp_) / name).string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(absl::StrCat("cannot create ", path));
  FdSink sink(fd, &path);
  int prev_fd = same_as.empty() ? -1 : ::open(same_as.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (prev_fd >= 0 && (::fstat(prev_fd, &st) != 0 || !S_ISREG(st.st_mode))) {
    ::close(prev_fd);
    prev_fd = -1;
  }
  std::optional<SameAsSink> same;
  if (prev_fd >= 0) same.emplace(prev_fd, static_cast<uint64_t>(st.st_size), &sink);
  absl::Status s = fill(same ? static_cast<ByteSink*>(&*same) : &sink);
  if (s.ok() && same) s = same->Finish();
  if (s.ok() && same && same->identical()) {
    // Identical to last run's file (durable since that run): link it instead.
    ::close(fd);
    if (::unlink(path.c_str()) == 0 && ::link(same_as.c_str(), path.c_str()) == 0) {
      ::close(prev_fd);
      return absl::OkStatus();
    }
    // Not linkable (another filesystem): copy it.
    ::close(prev_fd);
    prev_fd = -1;
    return WriteFile(name, [&](ByteSink* out) {
      const int in = ::open(same_as.c_str(), O_RDONLY | O_CLOEXEC);
      if (in < 0) return Errno(absl::StrCat("cannot read ", same_as));
      std::string buf(size_t{4} << 20, '\0');
      for (;;) {
        const ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          absl::Status e = Errno(absl::StrCat("cannot read ", same_as));
          ::close(in);
          return e;
        }
        if (n == 0) break;
        if (absl::Status w = out->Write(absl::string_view(buf.data(), static_cast<size_t>(n))); !w.ok()) {
          ::close(in);
          return w;
        }
      }
      ::close(in);
      return absl::OkStatus();
    });
  }
  if (prev_fd >= 0) ::close(prev_fd);
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
