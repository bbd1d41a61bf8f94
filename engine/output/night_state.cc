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
#include <functional>
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

absl::Status WriteState(const NightResult& night, ByteSink* sink, const StreamOptions& options) {
  ChecksummingSink summed(sink);
  ChunkedWriter w(&summed, options.chunk);
  std::string& out = w.buf();
  out.append(kMagic, sizeof kMagic);
  PutBytesOf<uint32_t>(&out, kVersion);
  PutLengthPrefixed(&out, night.as_of);
  PutBytesOf<uint32_t>(&out, night.num_firms());
  for (size_t at = 0; at < night.codes.size();) {
    const size_t n = std::min(night.codes.size() - at, options.chunk);
    out.append(night.codes, at, n);
    at += n;
    if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
  }
  for (size_t i = 0; i < night.code_order.size();) {
    const size_t n = std::min(night.code_order.size() - i, options.chunk / 4 + 1);
    out.append(reinterpret_cast<const char*>(night.code_order.data() + i), n * 4);
    i += n;
    if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
  }
  PutBytesOf<uint32_t>(&out, static_cast<uint32_t>(night.policies.size()));
  for (const PolicyNight& p : night.policies) {
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
        if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
      }
    }
    if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
  }
  if (absl::Status s = w.Flush(); !s.ok()) return s;
  const uint64_t sum = summed.checksum();
  return sink->Write(absl::string_view(reinterpret_cast<const char*>(&sum), sizeof sum));
}

std::string SerializeState(const NightResult& night) {
  std::string out;
  StringSink sink(&out);
  (void)WriteState(night, &sink);
  return out;
}

namespace {

constexpr absl::string_view kCorrupt = "state file is corrupt";

// The state after its frame was verified. `consumed`, if set, is told how many bytes of `body`
// were parsed so far (ReadStateFile drops them from memory).
absl::StatusOr<NightResult> ParseStateBody(absl::string_view body,
                                           const std::function<void(size_t)>& consumed) {
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(kCorrupt, ": ", why));
  };
  ByteReader in(body);
  NightResult night;
  uint32_t version, nfirms, npolicies;
  if (!in.Get(&version)) return corrupt("truncated header");
  if (version != kVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("state file version ", version, " is not supported (want ", kVersion, ")"));
  }
  if (!in.GetString(&night.as_of) || !in.Get(&nfirms)) return corrupt("truncated header");
  absl::string_view codes;
  if (static_cast<uint64_t>(nfirms) * (kCodeLen + 4) > in.remaining() ||
      !in.GetBytes(size_t{nfirms} * kCodeLen, &codes)) {
    return corrupt("truncated codes");
  }
  night.codes = std::string(codes);
  night.code_order.resize(nfirms);
  absl::string_view order;
  in.GetBytes(size_t{nfirms} * 4, &order);
  if (nfirms > 0) std::memcpy(night.code_order.data(), order.data(), order.size());
  // A permutation (strictly ascending codes imply distinct ids) of ids in range.
  for (uint32_t i = 0; i < nfirms; ++i) {
    const uint32_t firm = night.code_order[i];
    if (firm >= nfirms) return corrupt("code order is not a permutation");
    if (i > 0 && std::memcmp(night.codes.data() + size_t{night.code_order[i - 1]} * kCodeLen,
                             night.codes.data() + size_t{firm} * kCodeLen, kCodeLen) >= 0) {
      return corrupt("codes out of order");
    }
  }
  if (!in.Get(&npolicies)) return corrupt("truncated policy count");
  for (uint32_t i = 0; i < npolicies; ++i) {
    PolicyNight p;
    uint8_t auto_grant;
    if (!in.GetString(&p.id) || !in.Get(&auto_grant)) return corrupt("truncated policy");
    p.auto_grant = auto_grant != 0;
    for (MatchStatus s : kKeptStatuses) {
      uint32_t n;
      absl::string_view buf;
      if (!in.Get(&n) || !in.GetBytes(n, &buf)) return corrupt("truncated bitmap");
      try {
        p.by_status[s] = Roaring::readSafe(buf.data(), buf.size());
      } catch (const std::exception&) {
        return corrupt("bad bitmap");
      }
      if (!p.by_status[s].isEmpty() && p.by_status[s].maximum() >= nfirms) {
        return corrupt("bitmap refers past the last firm");
      }
    }
    uint32_t nbenefits;
    if (!in.Get(&nbenefits) || static_cast<uint64_t>(nbenefits) * 12 > in.remaining()) {
      return corrupt("truncated benefits");
    }
    p.benefits.resize(nbenefits);
    absl::string_view raw_benefits;
    in.GetBytes(size_t{nbenefits} * 12, &raw_benefits);
    for (uint32_t k = 0; k < nbenefits; ++k) {
      auto& [firm, raw] = p.benefits[k];
      std::memcpy(&firm, raw_benefits.data() + size_t{k} * 12, 4);
      std::memcpy(&raw, raw_benefits.data() + size_t{k} * 12 + 4, 8);
      if (firm >= nfirms) return corrupt("benefit refers past the last firm");
    }
    night.policies.push_back(std::move(p));
    if (consumed) consumed(in.pos());
  }
  if (in.remaining() != 0) return corrupt("trailing bytes");
  return night;
}

}  // namespace

absl::StatusOr<NightResult> ParseState(absl::string_view bytes) {
  absl::StatusOr<absl::string_view> body =
      VerifyFrame(bytes, absl::string_view(kMagic, sizeof kMagic), "state file", kCorrupt);
  if (!body.ok()) return body.status();
  return ParseStateBody(*body, {});
}

absl::StatusOr<NightResult> ReadStateFile(const std::string& path) {
  absl::StatusOr<int> opened = OpenRegularFile(path);  // a FIFO or device is refused, not read
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return absl::NotFoundError(absl::StrCat(path, ": not a regular file"));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < sizeof kMagic + 8) {
    ::close(fd);
    return ParseState(std::string(size, '\0'));  // the same error as for the bytes
  }
  // Parsed straight from the page cache, and in a bounded window: pages are dropped from this
  // process once checksummed, and again once parsed (S2's state is 1.7 GB).
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  const char* bytes = static_cast<const char*>(data);
  // A state file truncated by another program while it is read: zeros and an error, not SIGBUS.
  std::optional<MappingGuard> guard(std::in_place, data, size);
  ::madvise(data, size, MADV_SEQUENTIAL);
  constexpr size_t kStep = size_t{64} << 20;  // a multiple of the page size
  size_t dropped = 0;
  auto drop_until = [&](size_t offset) {
    offset -= offset % kStep;
    if (offset > dropped) {
      ::madvise(static_cast<char*>(data) + dropped, offset - dropped, MADV_DONTNEED);
      dropped = offset;
    }
  };
  absl::StatusOr<NightResult> night;
  if (std::memcmp(bytes, kMagic, sizeof kMagic) != 0) {
    night = ParseState(absl::string_view(bytes, sizeof kMagic));
  } else {
    Checksum64Stream sum;
    for (size_t at = 0; at < size - 8; at += kStep) {
      sum.Update(absl::string_view(bytes + at, std::min(kStep, size - 8 - at)));
      drop_until(at);
    }
    uint64_t stored;
    std::memcpy(&stored, bytes + size - 8, 8);
    if (sum.Finish() != stored) {
      night = absl::DataLossError(absl::StrCat(kCorrupt, ": checksum mismatch"));
    } else {
      ::madvise(data, size, MADV_DONTNEED);
      dropped = 0;
      night = ParseStateBody(absl::string_view(bytes + sizeof kMagic, size - sizeof kMagic - 8),
                             [&](size_t n) { drop_until(sizeof kMagic + n); });
    }
  }
  const bool shrank = guard->Damaged();
  guard.reset();  // unguarded before unmapped
  ::munmap(data, size);
  if (shrank) {
    return absl::DataLossError(absl::StrCat(path, ": the state file shrank while it was read "
                                            "(truncated by another program?)"));
  }
  return night;
}

}  // namespace polmatch
