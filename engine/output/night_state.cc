// File: night_state.cc
//
// The state file (state.pmstate): its format, writer, and the parser and
// bounded-memory mmap reader `--previous` uses (see night.h).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/output/night.h"
#include "engine/util/byte_codec.h"
#include "engine/util/framing.h"
#include "engine/util/input_file.h"
#include "engine/util/mapping_guard.h"

namespace polmatch {
namespace {

constexpr char kMagic[8] = {'P', 'M', 'S', 'T', 'A', 'T', 'E', '\n'};
constexpr uint32_t kVersion = 2;
constexpr size_t kCodeLen = NightResult::kCodeLen;

}  // namespace

namespace {

// Passes bytes on and checksums them.
class ChecksummingSink : public ByteSink {
 public:
  explicit ChecksummingSink(ByteSink* next) : next_(next) {}
  absl::Status Write(absl::string_view bytes) override {
    sum_.Update(bytes);
    return next_->Write(bytes);
  }
  uint64_t checksum() const { return sum_.Finish(); }

 private:
  ByteSink* next_;
  Checksum64Stream sum_;
};

}  // namespace

// StateWriter: the one writer of the format.
struct StateWriter::Impl {
  Impl(ByteSink* sink, size_t chunk) : sink(sink), summed(sink), w(&summed, chunk), chunk(chunk) {}

  absl::Status Misuse(absl::string_view why) {
    broken = true;
    return absl::InternalError(absl::StrCat("state writer: ", why));
  }
  absl::Status Sunk(absl::Status s) {
    if (!s.ok()) broken = true;
    return s;
  }
  // Once the firms are complete: the policy count, before the first policy.
  absl::Status EnterPolicies() {
    if (policies_started) return absl::OkStatus();
    if (codes_bytes != uint64_t{num_firms} * kCodeLen || order_given != num_firms) {
      return Misuse("the credit codes or their order are incomplete");
    }
    PutBytesOf<uint32_t>(&w.buf(), num_policies);
    policies_started = true;
    return absl::OkStatus();
  }

  ByteSink* sink;
  ChecksummingSink summed;
  ChunkedWriter w;
  size_t chunk;
  bool begun = false, policies_started = false, finished = false, broken = false;
  uint32_t num_firms = 0, num_policies = 0, policies_given = 0;
  uint64_t codes_bytes = 0, order_given = 0;
};

StateWriter::StateWriter(ByteSink* sink, const StreamOptions& options)
    : impl_(std::make_unique<Impl>(sink, std::max<size_t>(options.chunk, 1))) {}
StateWriter::~StateWriter() = default;

absl::Status StateWriter::Begin(absl::string_view as_of, uint32_t num_firms, uint32_t num_policies) {
  Impl& m = *impl_;
  if (m.broken || m.begun) return m.Misuse("Begin called twice");
  m.begun = true;
  m.num_firms = num_firms;
  m.num_policies = num_policies;
  std::string& out = m.w.buf();
  out.append(kMagic, sizeof kMagic);
  PutBytesOf<uint32_t>(&out, kVersion);
  PutLengthPrefixed(&out, as_of);
  PutBytesOf<uint32_t>(&out, num_firms);
  return m.Sunk(m.w.MaybeFlush());
}

absl::Status StateWriter::AddCodes(absl::string_view codes) {
  Impl& m = *impl_;
  if (m.broken || !m.begun || m.order_given > 0 || m.policies_started) return m.Misuse("codes out of turn");
  if (m.codes_bytes + codes.size() > uint64_t{m.num_firms} * kCodeLen) return m.Misuse("more codes than firms");
  m.codes_bytes += codes.size();
  for (size_t at = 0; at < codes.size();) {
    const size_t n = std::min(codes.size() - at, m.chunk);
    m.w.buf().append(codes.data() + at, n);
    at += n;
    if (absl::Status s = m.Sunk(m.w.MaybeFlush()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status StateWriter::AddCodeOrder(const uint32_t* firms, size_t count) {
  Impl& m = *impl_;
  if (m.broken || !m.begun || m.codes_bytes != uint64_t{m.num_firms} * kCodeLen || m.policies_started) {
    return m.Misuse("code order out of turn");
  }
  if (m.order_given + count > m.num_firms) return m.Misuse("a longer code order than firms");
  m.order_given += count;
  for (size_t i = 0; i < count;) {
    const size_t n = std::min(count - i, m.chunk / 4 + 1);
    m.w.buf().append(reinterpret_cast<const char*>(firms + i), n * 4);
    i += n;
    if (absl::Status s = m.Sunk(m.w.MaybeFlush()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status StateWriter::AddPolicy(const PolicyNight& p) {
  Impl& m = *impl_;
  if (m.broken || !m.begun) return m.Misuse("policy out of turn");
  if (absl::Status s = m.EnterPolicies(); !s.ok()) return s;
  if (m.policies_given == m.num_policies) return m.Misuse("more policies than announced");
  ++m.policies_given;
  std::string& out = m.w.buf();
  PutLengthPrefixed(&out, p.id);
  PutBytesOf<uint8_t>(&out, p.auto_grant ? 1 : 0);
  for (MatchStatus s : kKeptStatuses) {
    const Roaring& r = p.by_status[s];
    const size_t n = r.getSizeInBytes(true);
    PutBytesOf<uint32_t>(&out, static_cast<uint32_t>(n));
    const size_t at = out.size();
    out.resize(at + n);
    r.write(out.data() + at, true);
  }
  PutBytesOf<uint32_t>(&out, static_cast<uint32_t>(p.benefits.size()));
  for (size_t i = 0; i < p.benefits.size(); ++i) {
    PutBytesOf<uint32_t>(&out, p.benefits[i].first);
    PutBytesOf<int64_t>(&out, p.benefits[i].second);
    if ((i & 0xffff) == 0xffff) {
      if (absl::Status s = m.Sunk(m.w.MaybeFlush()); !s.ok()) return s;
    }
  }
  return m.Sunk(m.w.MaybeFlush());
}

absl::Status StateWriter::Finish() {
  Impl& m = *impl_;
  if (m.broken || !m.begun || m.finished) return m.Misuse("Finish out of turn");
  if (absl::Status s = m.EnterPolicies(); !s.ok()) return s;
  if (m.policies_given != m.num_policies) {
    return m.Misuse(absl::StrCat(m.policies_given, " policies given, ", m.num_policies, " announced"));
  }
  m.finished = true;
  if (absl::Status s = m.Sunk(m.w.Flush()); !s.ok()) return s;
  const uint64_t sum = m.summed.checksum();
  return m.Sunk(m.sink->Write(absl::string_view(reinterpret_cast<const char*>(&sum), sizeof sum)));
}

absl::Status WriteState(const NightResult& night, ByteSink* sink, const StreamOptions& options) {
  StateWriter w(sink, options);
  if (absl::Status s = w.Begin(night.as_of, night.num_firms(), static_cast<uint32_t>(night.policies.size()));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = w.AddCodes(night.codes); !s.ok()) return s;
  if (absl::Status s = w.AddCodeOrder(night.code_order.data(), night.code_order.size()); !s.ok()) return s;
  for (const PolicyNight& p : night.policies) {
    if (absl::Status s = w.AddPolicy(p); !s.ok()) return s;
  }
  return w.Finish();
}

std::string SerializeState(const NightResult& night) {
  std::string out;
  StringSink sink(&out);
  (void)WriteState(night, &sink);
  return out;
}

namespace {

constexpr absl::string_view kCorrupt = "state file is corrupt";
// Pages of a mapped state are dropped this many bytes at a time (a multiple of the page size).
constexpr size_t kWindow = size_t{16} << 20;

absl::Status Corrupt(absl::string_view why) { return absl::DataLossError(absl::StrCat(kCorrupt, ": ", why)); }

absl::StatusOr<absl::string_view> StateFrame(absl::string_view bytes) {
  return VerifyFrame(bytes, absl::string_view(kMagic, sizeof kMagic), "state file", kCorrupt);
}

// The body after its frame was verified, in two parts: the header and the firms (up to and with
// the policy count), then one policy at a time.
absl::Status ParseFirms(ByteReader& in, NightResult* night, uint32_t* npolicies) {
  uint32_t version, nfirms;
  if (!in.Get(&version)) return Corrupt("truncated header");
  if (version != kVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("state file version ", version, " is not supported (want ", kVersion, ")"));
  }
  if (!in.GetString(&night->as_of) || !in.Get(&nfirms)) return Corrupt("truncated header");
  absl::string_view codes;
  if (static_cast<uint64_t>(nfirms) * (kCodeLen + 4) > in.remaining() ||
      !in.GetBytes(size_t{nfirms} * kCodeLen, &codes)) {
    return Corrupt("truncated codes");
  }
  night->codes = std::string(codes);
  night->code_order.resize(nfirms);
  absl::string_view order;
  in.GetBytes(size_t{nfirms} * 4, &order);
  if (nfirms > 0) std::memcpy(night->code_order.data(), order.data(), order.size());
  // A permutation (strictly ascending codes imply distinct ids) of ids in range.
  for (uint32_t i = 0; i < nfirms; ++i) {
    const uint32_t firm = night->code_order[i];
    if (firm >= nfirms) return Corrupt("code order is not a permutation");
    if (i > 0 && std::memcmp(night->codes.data() + size_t{night->code_order[i - 1]} * kCodeLen,
                             night->codes.data() + size_t{firm} * kCodeLen, kCodeLen) >= 0) {
      return Corrupt("codes out of order");
    }
  }
  if (!in.Get(npolicies)) return Corrupt("truncated policy count");
  return absl::OkStatus();
}

absl::Status ParsePolicy(ByteReader& in, uint32_t nfirms, PolicyNight* out) {
  PolicyNight& p = *out;
  p = PolicyNight();
  uint8_t auto_grant;
  if (!in.GetString(&p.id) || !in.Get(&auto_grant)) return Corrupt("truncated policy");
  p.auto_grant = auto_grant != 0;
  for (MatchStatus s : kKeptStatuses) {
    uint32_t n;
    absl::string_view buf;
    if (!in.Get(&n) || !in.GetBytes(n, &buf)) return Corrupt("truncated bitmap");
    try {
      p.by_status[s] = Roaring::readSafe(buf.data(), buf.size());
    } catch (const std::exception&) {
      return Corrupt("bad bitmap");
    }
    if (!p.by_status[s].isEmpty() && p.by_status[s].maximum() >= nfirms) {
      return Corrupt("bitmap refers past the last firm");
    }
  }
  uint32_t nbenefits;
  if (!in.Get(&nbenefits) || static_cast<uint64_t>(nbenefits) * 12 > in.remaining()) {
    return Corrupt("truncated benefits");
  }
  p.benefits.resize(nbenefits);
  absl::string_view raw_benefits;
  in.GetBytes(size_t{nbenefits} * 12, &raw_benefits);
  for (uint32_t k = 0; k < nbenefits; ++k) {
    auto& [firm, raw] = p.benefits[k];
    std::memcpy(&firm, raw_benefits.data() + size_t{k} * 12, 4);
    std::memcpy(&raw, raw_benefits.data() + size_t{k} * 12 + 4, 8);
    if (firm >= nfirms) return Corrupt("benefit refers past the last firm");
  }
  return absl::OkStatus();
}

// Every policy of `reader`, after its firms.
absl::StatusOr<NightResult> ReadAll(StateReader& reader) {
  NightResult night = std::move(reader.firms());
  while (true) {
    PolicyNight p;
    absl::StatusOr<bool> more = reader.Next(&p);
    if (!more.ok()) return more.status();
    if (!*more) break;
    night.policies.push_back(std::move(p));
  }
  return night;
}

}  // namespace

struct StateReader::Impl {
  ~Impl() {
    guard.reset();  // unguarded before unmapped
    if (map != nullptr) ::munmap(map, map_size);
  }
  // Drops the mapped pages before `offset` (whole windows) from this process.
  void DropUntil(size_t offset) {
    if (map == nullptr) return;
    offset -= offset % kWindow;
    if (offset > dropped) {
      ::madvise(static_cast<char*>(map) + dropped, offset - dropped, MADV_DONTNEED);
      dropped = offset;
    }
  }
  // `s`, unless the mapped file shrank meanwhile (what was read of it then is zeros).
  absl::Status Checked(absl::Status s) {
    if (guard && guard->Damaged()) {
      return absl::DataLossError(absl::StrCat(path, ": the state file shrank while it was read "
                                                    "(truncated by another program?)"));
    }
    return s;
  }

  std::string path;
  void* map = nullptr;
  size_t map_size = 0;
  std::optional<MappingGuard> guard;
  size_t body_offset = 0;  // of the body in the mapping
  size_t dropped = 0;
  ByteReader in{absl::string_view()};
  NightResult firms;
  uint32_t num_firms = 0, num_policies = 0, given = 0;
  bool done = false;
  absl::Status failed;
};

StateReader::StateReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StateReader::~StateReader() = default;
NightResult& StateReader::firms() { return impl_->firms; }
uint32_t StateReader::num_policies() const { return impl_->num_policies; }

absl::StatusOr<std::unique_ptr<StateReader>> StateReader::FromBytes(absl::string_view bytes) {
  absl::StatusOr<absl::string_view> body = StateFrame(bytes);
  if (!body.ok()) return body.status();
  auto m = std::make_unique<Impl>();
  m->in = ByteReader(*body);
  if (absl::Status s = ParseFirms(m->in, &m->firms, &m->num_policies); !s.ok()) return s;
  m->num_firms = m->firms.num_firms();
  return std::unique_ptr<StateReader>(new StateReader(std::move(m)));
}

absl::StatusOr<std::unique_ptr<StateReader>> StateReader::Open(const std::string& path) {
  absl::StatusOr<RegularFile> opened = OpenRegularFileWithStat(path);  // a FIFO or device is refused, not read
  if (!opened.ok()) return opened.status();
  const int fd = opened->fd;
  const size_t size = opened->size();
  if (size < sizeof kMagic + 8) {
    ::close(fd);
    return StateFrame(std::string(size, '\0')).status();  // the same error as for the bytes
  }
  // Parsed straight from the page cache, a window at a time (S2's state is 1.7 GB).
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  auto m = std::make_unique<Impl>();
  m->path = path;
  m->map = data;
  m->map_size = size;
  // A state file truncated by another program while it is read: zeros and an error, not SIGBUS.
  m->guard.emplace(data, size);
  ::madvise(data, size, MADV_SEQUENTIAL);
  const char* bytes = static_cast<const char*>(data);
  if (std::memcmp(bytes, kMagic, sizeof kMagic) != 0) {
    return m->Checked(StateFrame(absl::string_view(bytes, sizeof kMagic)).status());
  }
  Checksum64Stream sum;
  for (size_t at = 0; at < size - 8; at += kWindow) {
    sum.Update(absl::string_view(bytes + at, std::min(kWindow, size - 8 - at)));
    m->DropUntil(at);
  }
  uint64_t stored;
  std::memcpy(&stored, bytes + size - 8, 8);
  if (sum.Finish() != stored) return m->Checked(Corrupt("checksum mismatch"));
  ::madvise(data, size, MADV_DONTNEED);
  m->dropped = 0;
  m->body_offset = sizeof kMagic;
  m->in = ByteReader(absl::string_view(bytes + sizeof kMagic, size - sizeof kMagic - 8));
  if (absl::Status s = m->Checked(ParseFirms(m->in, &m->firms, &m->num_policies)); !s.ok()) return s;
  m->num_firms = m->firms.num_firms();
  m->DropUntil(m->body_offset + m->in.pos());
  return std::unique_ptr<StateReader>(new StateReader(std::move(m)));
}

absl::StatusOr<bool> StateReader::Next(PolicyNight* policy) {
  Impl& m = *impl_;
  if (!m.failed.ok()) return m.failed;
  if (m.done) return false;
  absl::Status s;
  if (m.given == m.num_policies) {
    if (m.in.remaining() != 0) s = Corrupt("trailing bytes");
    m.done = true;
  } else {
    s = ParsePolicy(m.in, m.num_firms, policy);
    ++m.given;
  }
  s = m.Checked(std::move(s));
  if (!s.ok()) {
    m.failed = s;
    return s;
  }
  if (m.done) return false;
  m.DropUntil(m.body_offset + m.in.pos());
  return true;
}

absl::StatusOr<NightResult> ParseState(absl::string_view bytes) {
  absl::StatusOr<std::unique_ptr<StateReader>> reader = StateReader::FromBytes(bytes);
  if (!reader.ok()) return reader.status();
  return ReadAll(**reader);
}

absl::StatusOr<NightResult> ReadStateFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<StateReader>> reader = StateReader::Open(path);
  if (!reader.ok()) return reader.status();
  return ReadAll(**reader);
}

}  // namespace polmatch
