#include "engine/output/output_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

bool PidAlive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// The entries of `dir` (without . and ..), sorted; false if it cannot be listed.
bool ListDir(const std::string& dir, std::vector<std::string>* names) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names->push_back(it->path().filename().string());
  }
  std::sort(names->begin(), names->end());
  return !ec;
}

bool IsRegular(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// True if `path` is a regular file whose first line is `line`.
bool FirstLineIs(const std::string& path, const std::string& line) {
  if (!IsRegular(path)) return false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  std::string buf(line.size() + 1, '\0');
  size_t got = 0;
  while (got < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return got == buf.size() && buf.compare(0, line.size(), line) == 0 && buf.back() == '\n';
}

// What an existing directory holds, against a kind of output set.
struct DirScan {
  bool empty = true;
  bool marked = false;      // the marker is there, with the kind's first line
  bool has_proof = false;   // the kind's unmarked_proof file is there
  std::string foreign;      // the first entry polmatch does not write there, if any
};

std::optional<DirScan> ScanDir(const std::string& dir, const OutputDirKind& kind) {
  std::vector<std::string> names;
  if (!ListDir(dir, &names)) return std::nullopt;
  DirScan scan;
  for (const std::string& name : names) {
    scan.empty = false;
    const std::string path = (fs::path(dir) / name).string();
    const bool listed = std::find(kind.files.begin(), kind.files.end(), name) != kind.files.end();
    if (name == kOutputMarkerFile && FirstLineIs(path, kind.marker)) {
      scan.marked = true;
    } else if (listed && IsRegular(path)) {
      scan.has_proof = scan.has_proof || name == kind.unmarked_proof;
    } else if (scan.foreign.empty()) {
      scan.foreign = name;
    }
  }
  return scan;
}

// --out as an absolute, normalized path with a last component to replace.
absl::StatusOr<fs::path> TargetPath(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("empty output directory name");
  std::error_code ec;
  fs::path target = fs::absolute(dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(dir, ": ", ec.message()));
  target = target.lexically_normal();
  if (target.filename().empty()) target = target.parent_path();
  if (target == target.root_path() || target.filename() == "." || target.filename() == "..") {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": not a directory polmatch can replace"));
  }
  return target;
}

void SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Streams the file at `from` into `out`.
absl::Status CopyFileTo(const std::string& from, ByteSink* out) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno(absl::StrCat("cannot read ", from));
  std::string buf(size_t{4} << 20, '\0');
  for (;;) {
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status e = Errno(absl::StrCat("cannot read ", from));
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
}

}  // namespace

const OutputDirKind& NightDirKind() {
  static const OutputDirKind* const kind = new OutputDirKind{
      "polmatch night directory",
      // SPEC §5 and §7: every file a night may hold.
      {"summary.json", "grants.csv", "lists.csv", "pushes.jsonl", "state.pmstate", "proposals.csv"},
      "state.pmstate"};
  return *kind;
}

absl::Status AtomicOutputDir::CheckTarget(const std::string& dir, const OutputDirKind& kind) {
  absl::StatusOr<fs::path> target = TargetPath(dir);
  if (!target.ok()) return target.status();
  struct stat st {};
  if (::lstat(target->c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();  // created by Commit()
    return absl::InvalidArgumentError(absl::StrCat(dir, ": ", std::strerror(errno)));
  }
  constexpr char kWhat[] = "polmatch replaces only a new or empty directory, or one it wrote";
  if (S_ISLNK(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": is a symbolic link; ", kWhat));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": exists and is not a directory; ", kWhat));
  }
  std::optional<DirScan> scan = ScanDir(target->string(), kind);
  if (!scan) return absl::InvalidArgumentError(absl::StrCat(dir, ": cannot list the directory"));
  if (scan->empty) return absl::OkStatus();
  if (!scan->foreign.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": holds ", scan->foreign, ", which polmatch did not write; ", kWhat));
  }
  if (!scan->marked && !scan->has_proof) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": has no ", kOutputMarkerFile,
                                                   " marker (not written by polmatch); ", kWhat));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AtomicOutputDir>> AtomicOutputDir::Create(const std::string& dir,
                                                                         const OutputDirKind& kind) {
  if (absl::Status s = CheckTarget(dir, kind); !s.ok()) return s;
  absl::StatusOr<fs::path> target = TargetPath(dir);
  if (!target.ok()) return target.status();
  const fs::path parent = target->parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", parent.string(), ": ", ec.message()));
  const std::string name = target->filename().string();
  const fs::path tmp = parent / absl::StrCat(".", name, ".new-", ::getpid());
  std::unique_ptr<AtomicOutputDir> out(new AtomicOutputDir(target->string(), parent.string(), tmp.string(), kind));
  // Temporaries of killed runs into the same target: removed when they are plainly polmatch's
  // (the exact name, a dead PID, the marker, nothing but listed files); anything else is left.
  std::vector<std::string> siblings;
  (void)ListDir(parent.string(), &siblings);
  for (const std::string& sibling : siblings) {
    for (const absl::string_view infix : {".new-", ".old-"}) {
      const std::string prefix = absl::StrCat(".", name, infix);
      if (sibling.size() <= prefix.size() || sibling.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string digits = sibling.substr(prefix.size());
      pid_t pid = 0;
      if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos ||
          (pid = static_cast<pid_t>(std::stol(digits))) <= 0) {
        continue;
      }
      if (pid != ::getpid() && PidAlive(pid)) continue;
      const std::string path = (parent / sibling).string();
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      std::optional<DirScan> scan = ScanDir(path, kind);
      if (scan && scan->marked && scan->foreign.empty()) (void)out->RemoveSet(path);
    }
  }
  if (::mkdir(tmp.c_str(), 0755) != 0) return Errno(absl::StrCat("cannot create ", tmp.string()));
  // The marker first: a run killed from here on leaves a temporary recognisably polmatch's.
  const std::string marker = (tmp / kOutputMarkerFile).string();
  const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(absl::StrCat("cannot create ", marker));
  out->unsynced_.emplace_back(fd, marker);
  FdSink sink(fd, &out->unsynced_.back().second);
  if (absl::Status s = sink.Write(absl::StrCat(kind.marker, "\nWritten by polmatch; it replaces this directory "
                                               "only while it holds nothing but its own files.\n"));
      !s.ok()) {
    return s;
  }
  return out;
}

bool AtomicOutputDir::RemoveSet(const std::string& dir) const {
  for (const std::string& name : kind_.files) ::unlink((fs::path(dir) / name).c_str());
  ::unlink((fs::path(dir) / kOutputMarkerFile).c_str());
  return ::rmdir(dir.c_str()) == 0;
}

AtomicOutputDir::~AtomicOutputDir() {
  for (const auto& [fd, path] : unsynced_) ::close(fd);
  if (committed_) return;
  (void)RemoveSet(tmp_);
}

absl::Status AtomicOutputDir::LinkFile(const std::string& name, const std::string& existing) {
  if (std::find(kind_.files.begin(), kind_.files.end(), name) == kind_.files.end()) {
    return absl::InternalError(absl::StrCat(name, " is not a file of a ", kind_.marker,
                                            ": add it to its OutputDirKind (engine/output/output_dir.h)"));
  }
  const std::string path = (fs::path(tmp_) / name).string();
  (void)::unlink(path.c_str());
  if (::link(existing.c_str(), path.c_str()) == 0) return absl::OkStatus();
  // Not linkable (another filesystem): copied.
  return WriteFile(name, [&](ByteSink* out) { return CopyFileTo(existing, out); });
}

absl::Status AtomicOutputDir::WriteFile(const std::string& name,
                                        const std::function<absl::Status(ByteSink*)>& fill,
                                        const std::string& same_as) {
  if (std::find(kind_.files.begin(), kind_.files.end(), name) == kind_.files.end()) {
    return absl::InternalError(absl::StrCat(name, " is not a file of a ", kind_.marker,
                                            ": add it to its OutputDirKind (engine/output/output_dir.h)"));
  }
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
    return WriteFile(name, [&](ByteSink* out) { return CopyFileTo(same_as, out); });
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
      if (fs::exists(old, ec)) return absl::UnavailableError(absl::StrCat("cannot replace ", target_, ": ", old.string(), " exists"));
      if (::rename(target_.c_str(), old.c_str()) != 0) return Errno("cannot move the previous outputs aside");
      if (::rename(tmp_.c_str(), target_.c_str()) != 0) return Errno("cannot move the new outputs in");
      committed_ = true;
      if (!RemoveSet(old.string())) kept_ = old.string();
    } else {
      committed_ = true;
      if (!RemoveSet(tmp_)) kept_ = tmp_;  // tmp_ now holds the previous set
    }
  } else if (::rename(tmp_.c_str(), target_.c_str()) != 0) {
    return Errno(absl::StrCat("cannot create ", target_));
  }
  committed_ = true;
  SyncDir(parent_);
  return absl::OkStatus();
}

absl::Status WriteDirectoryAtomically(const std::string& dir, const std::vector<OutputFile>& files,
                                      const std::function<void(const std::string&)>& after_each_file,
                                      const OutputDirKind& kind) {
  absl::StatusOr<std::unique_ptr<AtomicOutputDir>> out = AtomicOutputDir::Create(dir, kind);
  if (!out.ok()) return out.status();
  for (const OutputFile& f : files) {
    absl::Status s = (*out)->WriteFile(f.name, [&](ByteSink* sink) { return sink->Write(f.contents); });
    if (!s.ok()) return s;
    if (after_each_file) after_each_file(f.name);
  }
  return (*out)->Commit();
}

}  // namespace polmatch
