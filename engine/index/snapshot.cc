#include "engine/index/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/input_file.h"
#include "engine/util/framing.h"
#include "engine/util/mapping_guard.h"

namespace polmatch {
namespace {

constexpr char kMagic[8] = {'P', 'M', 'S', 'N', 'A', 'P', 0x1A, '\n'};
constexpr uint32_t kVersion = 1;

// Collects the snapshot in memory.
class StringSink {
 public:
  void Append(const char* p, size_t n) { out_.append(p, n); }
  void Finish() { AppendChecksum(&out_); }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

// Streams the snapshot to a file descriptor through a buffer, checksumming as it goes: the file
// is never held in memory a second time.
class FdSink {
 public:
  explicit FdSink(int fd) : fd_(fd), buffer_(new char[kBuffer]) {}
  void Append(const char* p, size_t n) {
    sum_.Update(absl::string_view(p, n));
    if (!error_.empty()) return;
    if (used_ + n > kBuffer) {
      Flush();
      if (n >= kBuffer) {
        WriteAll(p, n);
        return;
      }
    }
    std::memcpy(buffer_.get() + used_, p, n);
    used_ += n;
  }
  // Appends the checksum and flushes; the error (errno text) of the first failed write, if any.
  std::string Finish() {
    const uint64_t sum = sum_.Finish();
    Append(reinterpret_cast<const char*>(&sum), sizeof sum);
    Flush();
    return error_;
  }

 private:
  static constexpr size_t kBuffer = size_t{1} << 20;
  void Flush() {
    if (used_ > 0 && error_.empty()) WriteAll(buffer_.get(), used_);
    used_ = 0;
  }
  void WriteAll(const char* p, size_t n) {
    while (n > 0 && error_.empty()) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        error_ = std::strerror(errno);
        return;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }

  int fd_;
  std::unique_ptr<char[]> buffer_;
  size_t used_ = 0;
  Checksum64Stream sum_;
  std::string error_;
};

template <typename Sink>
class Writer {
 public:
  explicit Writer(Sink* sink) : sink_(sink) {}
  template <typename T>
  void Put(T v) {
    Append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void PutString(absl::string_view s) {
    Put<uint32_t>(static_cast<uint32_t>(s.size()));
    Append(s.data(), s.size());
    Align();
  }
  template <typename T>
  void PutVector(const Column<T>& v) {
    Put<uint64_t>(v.size());
    Append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    Align();
  }
  void Append(const char* p, size_t n) {
    if (n == 0) return;
    sink_->Append(p, n);
    size_ += n;
  }
  void Align() {
    static constexpr char kZeros[8] = {};
    const size_t aligned = (size_ + 7) & ~size_t{7};
    Append(kZeros, aligned - size_);
  }

 private:
  Sink* sink_;
  size_t size_ = 0;
};

class Reader {
 public:
  // With `keep` (the mapping `data` lies in), columns become views of `data`; else copies.
  Reader(absl::string_view data, std::shared_ptr<const void> keep)
      : data_(data), keep_(std::move(keep)) {}
  template <typename T>
  bool Get(T* v) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetString(std::string* s) {
    uint32_t n;
    if (!Get(&n) || data_.size() - pos_ < n) return false;
    s->assign(data_.data() + pos_, n);
    pos_ += n;
    return Align();
  }
  // `copy`: never a view (a column whose values index other columns: see SnapshotSource).
  template <typename T>
  bool GetVector(Column<T>* v, bool copy = false) {
    uint64_t n;
    if (!Get(&n) || n > (data_.size() - pos_) / sizeof(T)) return false;
    const char* p = data_.data() + pos_;
    if (keep_ != nullptr && !copy && n > 0 && reinterpret_cast<uintptr_t>(p) % alignof(T) == 0) {
      v->SetView(reinterpret_cast<const T*>(p), n, keep_);
    } else {
      std::vector<T>& own = v->vec();
      own.resize(n);
      if (n > 0) std::memcpy(own.data(), p, n * sizeof(T));
    }
    pos_ += n * sizeof(T);
    return Align();
  }
  bool Align() {
    const size_t aligned = (pos_ + 7) & ~size_t{7};
    if (aligned > data_.size()) return false;
    pos_ = aligned;
    return true;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
  std::shared_ptr<const void> keep_;
};

template <typename T>
bool Monotone(const Column<T>& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] < v[i - 1]) return false;
  }
  return true;
}

}  // namespace

struct SnapshotCodec {
  template <typename Sink>
  static void Serialize(const FirmStore& s, const Taxonomy& tax, Sink* sink) {
    Writer<Sink> w(sink);
    w.Append(kMagic, sizeof kMagic);
    w.template Put<uint32_t>(kVersion);
    w.template Put<uint32_t>(s.num_rows_);
    w.template Put<uint32_t>(s.padded_rows_);
    w.template Put<uint32_t>(s.unknown_region_rows_);
    w.template Put<uint32_t>(static_cast<uint32_t>(s.num_facts_));
    w.template Put<uint32_t>(static_cast<uint32_t>(s.num_tags_));
    for (int f = 0; f < s.num_facts_; ++f) w.PutString(tax.fact(FactId(f)).id);
    for (int t = 0; t < s.num_tags_; ++t) w.PutString(tax.tag(TagId(t)).id);
    w.PutVector(s.credit_codes_);
    w.PutVector(s.names_);
    w.PutVector(s.name_offsets_);
    w.PutVector(s.source_index_);
    w.PutVector(s.rows_by_code_);
    w.PutVector(s.region_dict_);
    w.PutVector(s.region_begin_);
    w.PutVector(s.industry_dict_);
    w.PutVector(s.industry_ids_);
    w.PutVector(s.founded_days_);
    w.PutVector(s.founded_known_);
    w.PutVector(s.fact_raw_);
    w.PutVector(s.fact_known_);
    w.PutVector(s.grant_begin_);
    w.PutVector(s.grant_rows_);
    w.PutVector(s.grant_from_);
    w.PutVector(s.grant_to_);
  }

  static absl::StatusOr<FirmStore> Parse(absl::string_view bytes, const Taxonomy& tax,
                                         std::shared_ptr<const void> keep) {
    constexpr absl::string_view kCorrupt = "snapshot is corrupt or truncated";
    auto corrupt = [&](absl::string_view why) {
      return absl::DataLossError(absl::StrCat(kCorrupt, ": ", why));
    };
    absl::StatusOr<absl::string_view> body =
        VerifyFrame(bytes, absl::string_view(kMagic, sizeof kMagic), "snapshot", kCorrupt);
    if (!body.ok()) return body.status();
    Reader r(*body, std::move(keep));
    uint32_t version = 0, rows = 0, padded = 0, unknown_region = 0, nfacts = 0, ntags = 0;
    if (!r.Get(&version)) return corrupt("header");
    if (version != kVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "snapshot version ", version, " is not supported (want ", kVersion, "); re-run polmatch index"));
    }
    if (!r.Get(&rows) || !r.Get(&padded) || !r.Get(&unknown_region) || !r.Get(&nfacts) ||
        !r.Get(&ntags)) {
      return corrupt("header");
    }
    // Every id takes at least 8 bytes (length + alignment): bound the counts by the file size
    // before allocating for them.
    if (nfacts > bytes.size() / 8 || ntags > bytes.size() / 8) return corrupt("header");
    std::vector<std::string> fact_ids(nfacts), tag_ids(ntags);
    for (auto& id : fact_ids) {
      if (!r.GetString(&id)) return corrupt("fact ids");
    }
    for (auto& id : tag_ids) {
      if (!r.GetString(&id)) return corrupt("tag ids");
    }
    FirmStore s;
    Column<int64_t> fact_raw;
    Column<uint64_t> fact_known;
    Column<uint32_t> grant_begin, grant_rows;
    Column<int32_t> grant_from, grant_to;
    // Views of the mapping only for plain values; offsets and indexes copied (validated below).
    constexpr bool kIndex = true;
    if (!r.GetVector(&s.credit_codes_) || !r.GetVector(&s.names_) || !r.GetVector(&s.name_offsets_, kIndex) ||
        !r.GetVector(&s.source_index_, kIndex) || !r.GetVector(&s.rows_by_code_, kIndex) ||
        !r.GetVector(&s.region_dict_) || !r.GetVector(&s.region_begin_, kIndex) ||
        !r.GetVector(&s.industry_dict_) || !r.GetVector(&s.industry_ids_, kIndex) ||
        !r.GetVector(&s.founded_days_) || !r.GetVector(&s.founded_known_) ||
        !r.GetVector(&fact_raw) || !r.GetVector(&fact_known) || !r.GetVector(&grant_begin, kIndex) ||
        !r.GetVector(&grant_rows, kIndex) || !r.GetVector(&grant_from) || !r.GetVector(&grant_to) ||
        !r.done()) {
      return corrupt("columns");
    }
    // Shapes: a file that passes the checksum but was written wrongly must still not be trusted.
    // (Read through const references: the columns may be views of the mapping.)
    return Check(std::move(s), rows, padded, unknown_region, nfacts, ntags, fact_ids, tag_ids,
                 std::move(fact_raw), std::move(fact_known), std::move(grant_begin),
                 std::move(grant_rows), std::move(grant_from), std::move(grant_to), tax);
  }

  static absl::StatusOr<FirmStore> Check(FirmStore s, uint32_t rows, uint32_t padded,
                                         uint32_t unknown_region, uint32_t nfacts, uint32_t ntags,
                                         const std::vector<std::string>& fact_ids,
                                         const std::vector<std::string>& tag_ids,
                                         Column<int64_t> fact_raw, Column<uint64_t> fact_known,
                                         Column<uint32_t> grant_begin, Column<uint32_t> grant_rows,
                                         Column<int32_t> grant_from, Column<int32_t> grant_to,
                                         const Taxonomy& tax) {
    auto corrupt = [&](absl::string_view why) {
      return absl::DataLossError(absl::StrCat("snapshot is corrupt or truncated: ", why));
    };
    const FirmStore& c = s;
    const Column<int64_t>& raw = fact_raw;
    const Column<uint64_t>& known = fact_known;
    const Column<uint32_t>& gbegin = grant_begin;
    const Column<uint32_t>& grows = grant_rows;
    const Column<int32_t>& gfrom = grant_from;
    const Column<int32_t>& gto = grant_to;
    const size_t words = padded / 64;
    const bool shapes_ok =
        padded >= rows && padded % 64 == 0 && unknown_region <= rows &&
        c.credit_codes_.size() == size_t{rows} * FirmStore::kCreditCodeLen &&
        c.name_offsets_.size() == size_t{rows} + 1 && Monotone(c.name_offsets_) &&
        c.name_offsets_.back() == c.names_.size() && c.source_index_.size() == rows &&
        c.rows_by_code_.size() == rows && c.region_dict_.size() % FirmStore::kRegionWidth == 0 &&
        c.region_begin_.size() == c.region_dict_.size() / FirmStore::kRegionWidth + 1 &&
        Monotone(c.region_begin_) && c.region_begin_.back() == rows &&
        c.industry_dict_.size() % FirmStore::kIndustryWidth == 0 && !c.industry_dict_.empty() &&
        c.industry_ids_.size() == padded && c.founded_days_.size() == padded &&
        c.founded_known_.size() == words && raw.size() == size_t{nfacts} * padded &&
        known.size() == size_t{nfacts} * words && gbegin.size() == size_t{ntags} + 1 &&
        Monotone(gbegin) && gbegin.front() == 0 && gbegin.back() == grows.size() &&
        gfrom.size() == grows.size() && gto.size() == grows.size();
    if (!shapes_ok) return corrupt("inconsistent column sizes");
    const size_t industries = c.industry_dict_.size() / FirmStore::kIndustryWidth;
    for (uint32_t v : c.rows_by_code_) {
      if (v >= rows) return corrupt("row index out of range");
    }
    for (uint16_t v : c.industry_ids_) {
      if (v >= industries) return corrupt("industry id out of range");
    }
    for (uint32_t v : grows) {
      if (v >= rows) return corrupt("grant row out of range");
    }
    s.num_rows_ = rows;
    s.padded_rows_ = padded;
    s.unknown_region_rows_ = unknown_region;
    // Remap facts and tags to the current tag library by id.
    s.num_facts_ = tax.num_facts();
    s.num_tags_ = tax.num_tags();
    absl::flat_hash_map<std::string, uint32_t> fact_at, tag_at;
    for (uint32_t i = 0; i < nfacts; ++i) fact_at[fact_ids[i]] = i;
    for (uint32_t i = 0; i < ntags; ++i) tag_at[tag_ids[i]] = i;
    bool same_library = nfacts == static_cast<uint32_t>(tax.num_facts()) &&
                        ntags == static_cast<uint32_t>(tax.num_tags());
    for (uint32_t i = 0; same_library && i < nfacts; ++i) same_library = fact_ids[i] == tax.fact(FactId(i)).id;
    for (uint32_t i = 0; same_library && i < ntags; ++i) same_library = tag_ids[i] == tax.tag(TagId(i)).id;
    if (!same_library) {  // a tag library with facts or tags added or reordered since: remap by id
      std::vector<int64_t> new_raw(size_t(s.num_facts_) * padded, 0);
      std::vector<uint64_t> new_known(size_t(s.num_facts_) * words, 0);
      for (int f = 0; f < s.num_facts_; ++f) {
        auto it = fact_at.find(tax.fact(FactId(f)).id);
        if (it == fact_at.end()) continue;  // a fact added since: unknown for every firm
        std::memcpy(&new_raw[size_t(f) * padded], raw.data() + size_t(it->second) * padded,
                    padded * sizeof(int64_t));
        std::memcpy(&new_known[size_t(f) * words], known.data() + size_t(it->second) * words,
                    words * sizeof(uint64_t));
      }
      std::vector<uint32_t> new_begin(1, 0), new_rows;
      std::vector<int32_t> new_from, new_to;
      for (int t = 0; t < s.num_tags_; ++t) {
        auto it = tag_at.find(tax.tag(TagId(t)).id);
        if (it != tag_at.end()) {
          for (uint32_t g = gbegin[it->second]; g < gbegin[it->second + 1]; ++g) {
            new_rows.push_back(grows[g]);
            new_from.push_back(gfrom[g]);
            new_to.push_back(gto[g]);
          }
        }
        new_begin.push_back(static_cast<uint32_t>(new_rows.size()));
      }
      fact_raw = std::move(new_raw);
      fact_known = std::move(new_known);
      grant_begin = std::move(new_begin);
      grant_rows = std::move(new_rows);
      grant_from = std::move(new_from);
      grant_to = std::move(new_to);
    }
    // In the common case, the columns as they are (views of a mapped file).
    s.fact_raw_ = std::move(fact_raw);
    s.fact_known_ = std::move(fact_known);
    s.grant_begin_ = std::move(grant_begin);
    s.grant_rows_ = std::move(grant_rows);
    s.grant_from_ = std::move(grant_from);
    s.grant_to_ = std::move(grant_to);
    return s;
  }
};

std::string SerializeSnapshot(const FirmStore& store, const Taxonomy& taxonomy) {
  StringSink sink;
  SnapshotCodec::Serialize(store, taxonomy, &sink);
  sink.Finish();
  return std::move(sink.out());
}

absl::StatusOr<FirmStore> ParseSnapshot(absl::string_view bytes, const Taxonomy& taxonomy) {
  return SnapshotCodec::Parse(bytes, taxonomy, nullptr);
}

namespace {

// True if the regular file at `path` (not followed if a link) is empty or starts with the magic.
bool EmptyOrSnapshot(const std::string& path, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return false;
  if (st.st_size == 0) return true;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  char head[sizeof kMagic] = {};
  const ssize_t n = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof head) && std::memcmp(head, kMagic, sizeof kMagic) == 0;
}

// Removes `PATH.tmp-PID` files left by killed writers of `path`: only with that exact name, a
// PID no longer running (or this process's own), and empty or starting with the magic.
void RemoveStaleTemporaries(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir_name = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string prefix = absl::StrCat(path.substr(dir_name.size()), ".tmp-");
  DIR* dir = ::opendir(dir_name.empty() ? "." : dir_name.c_str());
  if (dir == nullptr) return;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid <= 0 || (pid != ::getpid() && (::kill(pid, 0) == 0 || errno == EPERM))) continue;
    const std::string stale = dir_name + name;
    struct stat st {};
    if (::lstat(stale.c_str(), &st) == 0 && EmptyOrSnapshot(stale, st)) ::unlink(stale.c_str());
  }
  ::closedir(dir);
}

}  // namespace

absl::Status CheckSnapshotTarget(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty snapshot file name");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  if (!EmptyOrSnapshot(path, st)) {
    const char* what = S_ISDIR(st.st_mode)   ? "a directory"
                       : S_ISLNK(st.st_mode) ? "a symbolic link"
                       : S_ISREG(st.st_mode) ? "a file that is not a polmatch snapshot"
                                             : "not a regular file";
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": exists and is ", what, "; polmatch replaces only a snapshot it wrote (or an empty file)"));
  }
  return absl::OkStatus();
}

absl::Status WriteSnapshotFile(const std::string& path, const FirmStore& store,
                               const Taxonomy& taxonomy) {
  if (absl::Status target = CheckSnapshotTarget(path); !target.ok()) return target;
  RemoveStaleTemporaries(path);
  const std::string tmp = absl::StrCat(path, ".tmp-", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(tmp, ": ", std::strerror(errno)));
  // Streamed: the same bytes as SerializeSnapshot without a second copy of the store in memory.
  FdSink sink(fd);
  SnapshotCodec::Serialize(store, taxonomy, &sink);
  const std::string write_error = sink.Finish();
  if (!write_error.empty()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat(tmp, ": ", write_error));
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat(path, ": ", err));
  }
  return absl::OkStatus();
}

namespace {

// The mapping of a snapshot file, guarded against its truncation (see SnapshotSource).
class MappedSnapshot : public SnapshotSource {
 public:
  MappedSnapshot(std::string path, int fd, const struct stat& st, void* data, size_t size)
      : path_(std::move(path)), fd_(fd), st_(st), data_(data), size_(size) {
    guard_.emplace(data, size);
  }
  ~MappedSnapshot() override {
    guard_.reset();  // unguarded before unmapped
    ::munmap(data_, size_);
    ::close(fd_);
  }
  const char* data() const { return static_cast<const char*>(data_); }

  absl::Status Verify() const override {
    if (guard_->Damaged()) {
      return absl::DataLossError(absl::StrCat(path_, ": the snapshot shrank while it was read "
                                              "(truncated by another program?); run again"));
    }
    struct stat now {};
    if (::fstat(fd_, &now) != 0 || now.st_size != st_.st_size ||
        now.st_mtim.tv_sec != st_.st_mtim.tv_sec || now.st_mtim.tv_nsec != st_.st_mtim.tv_nsec) {
      return absl::DataLossError(absl::StrCat(path_, ": the snapshot was modified in place while it "
                                              "was read (replace it with polmatch index, a rename); run again"));
    }
    return absl::OkStatus();
  }
  void DropPages() const override { ::madvise(data_, size_, MADV_DONTNEED); }

 private:
  std::string path_;
  int fd_;
  struct stat st_;
  void* data_;
  size_t size_;
  std::optional<MappingGuard> guard_;
};

}  // namespace

absl::StatusOr<FirmStore> ReadSnapshotFile(const std::string& path, const Taxonomy& taxonomy,
                                           SnapshotLoad load, std::shared_ptr<const SnapshotSource>* source) {
  absl::StatusOr<RegularFile> opened = OpenRegularFileWithStat(path);  // a FIFO or device is refused, not read
  if (!opened.ok()) return opened.status();
  const int fd = opened->fd;
  const struct stat st = opened->st;
  const size_t size = opened->size();
  if (size == 0) {
    ::close(fd);
    return absl::DataLossError(absl::StrCat(path, ": snapshot is corrupt or truncated: empty file"));
  }
  // Map the file; in place, the columns stay views of the mapping, which lives as long as any of
  // them; else each column is copied out once and the mapping dropped.
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (data == MAP_FAILED) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    return absl::UnavailableError(absl::StrCat(path, ": ", error));
  }
  ::madvise(data, size, MADV_WILLNEED);
  auto mapping = std::make_shared<const MappedSnapshot>(path, fd, st, data, size);
  absl::StatusOr<FirmStore> store =
      SnapshotCodec::Parse(absl::string_view(mapping->data(), size), taxonomy,
                           load == SnapshotLoad::kInPlace ? mapping : nullptr);
  // Shrunk while its checksum was computed: zeros were read, and the error says why.
  if (absl::Status intact = mapping->Verify(); !intact.ok() && !store.ok()) return intact;
  if (!store.ok()) {
    return absl::Status(store.status().code(), absl::StrCat(path, ": ", store.status().message()));
  }
  if (source != nullptr) *source = mapping;
  return store;
}

}  // namespace polmatch
