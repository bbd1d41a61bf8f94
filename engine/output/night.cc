#include "engine/output/night.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <cstring>
#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/input_file.h"
#include "engine/util/mapping_guard.h"
#include "engine/util/framing.h"
#include "engine/util/amounts.h"
#include "engine/util/json_string.h"
#include "engine/util/parallel.h"
#include "google/protobuf/util/json_util.h"

namespace polmatch {
namespace {

// ---- bytes ------------------------------------------------------------------------------------

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out->append(buf, sizeof(T));
}
void PutString(std::string* out, absl::string_view s) {
  Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out->append(s.data(), s.size());
}

class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}
  template <typename T>
  bool Get(T* v) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetBytes(size_t n, absl::string_view* out) {
    if (data_.size() - pos_ < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool GetString(std::string* out) {
    uint32_t n;
    absl::string_view s;
    if (!Get(&n) || !GetBytes(n, &s)) return false;
    *out = std::string(s);
    return true;
  }
  size_t remaining() const { return data_.size() - pos_; }
  size_t pos() const { return pos_; }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

constexpr char kMagic[8] = {'P', 'M', 'S', 'T', 'A', 'T', 'E', '\n'};
constexpr uint32_t kVersion = 2;
constexpr size_t kCodeLen = NightResult::kCodeLen;


void AppendCsvField(std::string* out, absl::string_view s) {
  bool plain = true;
  for (char c : s) plain &= c != ',' && c != '"' && c != '\n' && c != '\r';
  if (plain) {
    out->append(s.data(), s.size());
    return;
  }
  out->push_back('"');
  for (char c : s) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

// FormatYuan(Decimal::FromRawUnchecked(raw)) appended, without allocating for the common case of
// a non-negative whole number of fen (benefits are rounded to the fen).
void AppendYuan(std::string* out, int64_t raw) {
  constexpr int64_t kFen = Decimal::kOne / 100;
  if (raw < 0 || raw % kFen != 0) {
    out->append(FormatYuan(Decimal::FromRawUnchecked(raw)));
    return;
  }
  char buf[32];
  char* end = buf + sizeof buf;
  char* p = end;
  const int64_t fen = raw / kFen;
  *--p = static_cast<char>('0' + fen % 10);
  *--p = static_cast<char>('0' + fen / 10 % 10);
  *--p = '.';
  int64_t yuan = fen / 100;
  do {
    *--p = static_cast<char>('0' + yuan % 10);
    yuan /= 10;
  } while (yuan > 0);
  out->append(p, static_cast<size_t>(end - p));
}

std::vector<uint32_t> CodeOrder(const NightResult& night) {
  std::vector<uint32_t> order(night.num_firms());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return night.code(a) < night.code(b); });
  return order;
}

}  // namespace

MatchStatus PolicyNight::StatusOf(uint32_t firm) const {
  for (MatchStatus s : kKeptStatuses) {
    if (by_status[s].contains(firm)) return s;
  }
  return INELIGIBLE;
}

std::optional<Decimal> PolicyNight::BenefitOf(uint32_t firm) const {
  auto it = std::lower_bound(benefits.begin(), benefits.end(), std::make_pair(firm, INT64_MIN));
  if (it == benefits.end() || it->first != firm) return std::nullopt;
  return Decimal::FromRawUnchecked(it->second);
}

NightBuilder::NightBuilder(std::string as_of, std::vector<std::string> policy_ids,
                           std::vector<bool> auto_grant) {
  night_.as_of = std::move(as_of);
  night_.policies.resize(policy_ids.size());
  for (size_t i = 0; i < policy_ids.size(); ++i) {
    night_.policies[i].id = std::move(policy_ids[i]);
    night_.policies[i].auto_grant = i < auto_grant.size() && auto_grant[i];
  }
}

void NightBuilder::SetListed(size_t policy, std::string benefit_note) {
  night_.policies[policy].listed = true;
  night_.policies[policy].benefit_note = std::move(benefit_note);
}

uint32_t NightBuilder::AddFirm(std::string credit_code, std::string name) {
  credit_code.resize(kCodeLen, ' ');
  night_.codes.append(credit_code);
  night_.names.push_back(std::move(name));
  return night_.num_firms() - 1;
}

void NightBuilder::Set(uint32_t firm, size_t policy, const Outcome& o) {
  PolicyNight& p = night_.policies[policy];
  if (o.status != INELIGIBLE && o.status != STATUS_UNSPECIFIED) p.by_status[o.status].add(firm);
  if (o.benefit && (o.status == ELIGIBLE || o.status == EXCLUDED || o.status == NOT_SELECTED)) {
    p.benefits.emplace_back(firm, o.benefit->raw());
  }
}

NightResult NightBuilder::Finish() && {
  night_.code_order = CodeOrder(night_);
  for (PolicyNight& p : night_.policies) {
    for (Roaring& r : p.by_status) r.runOptimize();
    std::sort(p.benefits.begin(), p.benefits.end());
  }
  return std::move(night_);
}

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
  Put<uint32_t>(&out, kVersion);
  PutString(&out, night.as_of);
  Put<uint32_t>(&out, night.num_firms());
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
  Put<uint32_t>(&out, static_cast<uint32_t>(night.policies.size()));
  for (const PolicyNight& p : night.policies) {
    PutString(&out, p.id);
    Put<uint8_t>(&out, p.auto_grant ? 1 : 0);
    for (MatchStatus s : kKeptStatuses) {
      const Roaring& r = p.by_status[s];
      const size_t n = r.getSizeInBytes(true);
      Put<uint32_t>(&out, static_cast<uint32_t>(n));
      const size_t at = out.size();
      out.resize(at + n);
      r.write(out.data() + at, true);
    }
    Put<uint32_t>(&out, static_cast<uint32_t>(p.benefits.size()));
    for (size_t i = 0; i < p.benefits.size(); ++i) {
      Put<uint32_t>(&out, p.benefits[i].first);
      Put<int64_t>(&out, p.benefits[i].second);
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
  Reader in(body);
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

BatchSummary Summarize(const NightResult& night) {
  BatchSummary s;
  s.set_as_of(night.as_of);
  s.set_firms(static_cast<int32_t>(night.num_firms()));
  for (const PolicyNight& p : night.policies) {
    PolicySummary* ps = s.add_policies();
    ps->set_policy(p.id);
    ps->set_eligible(static_cast<int32_t>(p.by_status[ELIGIBLE].cardinality()));
    ps->set_undetermined(static_cast<int32_t>(p.by_status[UNDETERMINED].cardinality()));
    ps->set_near_miss(static_cast<int32_t>(p.by_status[NEAR_MISS].cardinality()));
    ps->set_excluded(static_cast<int32_t>(p.by_status[EXCLUDED].cardinality()));
    ps->set_not_selected(static_cast<int32_t>(p.by_status[NOT_SELECTED].cardinality()));
    ps->set_auto_granted(p.auto_grant ? ps->eligible() : 0);
    YuanTotal total;  // the benefits of ELIGIBLE firms: both ascending by firm, walked together
    auto b = p.benefits.begin();
    for (uint32_t firm : p.by_status[ELIGIBLE]) {
      while (b != p.benefits.end() && b->first < firm) ++b;
      for (; b != p.benefits.end() && b->first == firm; ++b) total.Add(Decimal::FromRawUnchecked(b->second));
    }
    ps->set_benefit_total_yuan(total.ToFixed2());
  }
  return s;
}

std::string SummaryJson(const NightResult& night) { return SummaryJson(Summarize(night)); }

std::string SummaryJson(const BatchSummary& summary) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  opts.add_whitespace = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(summary, &out, opts);
  return out;
}

namespace {

// The ELIGIBLE rows of the AUTO_GRANT policies `pick` accepts, sorted by policy id then credit
// code: `header`, then `policy_id,credit_code,name,` and what `last` appends for the firm's raw
// benefit (kNoBenefit when none). `last` returns false to leave the row out.
constexpr int64_t kNoBenefit = INT64_MIN;
template <typename Pick, typename Last>
absl::Status WriteEligibleRows(const NightResult& night, ByteSink* sink, const StreamOptions& options,
                               absl::string_view header, Pick pick, Last last) {
  ChunkedWriter w(sink, options.chunk);
  std::string& out = w.buf();
  out.append(header.data(), header.size());
  std::vector<uint32_t> rank;
  // (rank, raw benefit or kNoBenefit) of one policy's ELIGIBLE firms, sorted by rank.
  std::vector<std::pair<uint32_t, int64_t>> firms;
  for (const PolicyNight& p : night.policies) {
    if (!p.auto_grant || !pick(p)) continue;
    if (rank.empty()) {
      rank.resize(night.num_firms());
      for (uint32_t i = 0; i < rank.size(); ++i) rank[night.code_order[i]] = i;
    }
    firms.clear();
    firms.reserve(p.by_status[ELIGIBLE].cardinality());
    auto b = p.benefits.begin();
    for (uint32_t firm : p.by_status[ELIGIBLE]) {  // ascending id: BenefitOf by walking along
      while (b != p.benefits.end() && b->first < firm) ++b;
      firms.emplace_back(rank[firm], b != p.benefits.end() && b->first == firm ? b->second : kNoBenefit);
    }
    std::sort(firms.begin(), firms.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    std::string id;
    AppendCsvField(&id, p.id);
    std::string field;
    // Lines in blocks: the codes and names (scattered in memory at S2) of a block are looked up
    // and prefetched first, so their cache misses overlap instead of stalling line by line.
    constexpr size_t kBlock = 32;
    absl::string_view codes[kBlock], names[kBlock];
    for (size_t at = 0; at < firms.size(); at += kBlock) {
      const size_t n = std::min(kBlock, firms.size() - at);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t firm = night.code_order[firms[at + i].first];
        codes[i] = night.code(firm);
        __builtin_prefetch(codes[i].data());
      }
      for (size_t i = 0; i < n; ++i) {
        names[i] = night.name(night.code_order[firms[at + i].first]);
        __builtin_prefetch(names[i].data());
      }
      for (size_t i = 0; i < n; ++i) {
        field.clear();
        if (!last(p, firms[at + i].second, &field)) continue;
        out.append(id);
        out.push_back(',');
        out.append(codes[i].data(), codes[i].size());
        out.push_back(',');
        AppendCsvField(&out, names[i]);
        out.push_back(',');
        out.append(field);
        out.push_back('\n');
      }
      if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
    }
  }
  return w.Flush();
}

}  // namespace

absl::Status WriteGrantsCsv(const NightResult& night, ByteSink* sink, const StreamOptions& options) {
  // Only a known, positive amount is a grant: a zero amount is not (SPEC §5).
  return WriteEligibleRows(
      night, sink, options, "policy_id,credit_code,name,benefit_yuan\n",
      [](const PolicyNight& p) { return !p.listed; },
      [](const PolicyNight&, int64_t raw, std::string* field) {
        if (raw == kNoBenefit || raw <= 0) return false;
        AppendYuan(field, raw);
        return true;
      });
}

absl::Status WriteListsCsv(const NightResult& night, ByteSink* sink, const StreamOptions& options) {
  return WriteEligibleRows(
      night, sink, options, "policy_id,credit_code,name,benefit_note\n",
      [](const PolicyNight& p) { return p.listed; },
      [](const PolicyNight& p, int64_t, std::string* field) {
        AppendCsvField(field, p.benefit_note);
        return true;
      });
}

std::string GrantsCsv(const NightResult& night) {
  std::string out;
  StringSink sink(&out);
  (void)WriteGrantsCsv(night, &sink);
  return out;
}

std::string ListsCsv(const NightResult& night) {
  std::string out;
  StringSink sink(&out);
  (void)WriteListsCsv(night, &sink);
  return out;
}

namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr uint32_t kGoneBit = 0x80000000u;  // in MergedFirms::at: a previous firm id

// Tonight's and last night's registries merged in credit-code order: a push's firm is identified
// by its merged position, which is also the output order.
struct MergedFirms {
  bool same_firms = false;            // the same codes by firm id (ids correspond one to one)
  uint32_t size = 0;                  // merged positions
  std::vector<uint32_t> m_of_cur;     // merged position of each current firm
  std::vector<uint32_t> m_of_prev;    // of each previous firm (registry changed only)
  std::vector<uint32_t> prev_of_cur;  // previous id of each current firm, kNone = new (changed only)
  std::vector<uint32_t> cur_of_prev;  // current id of each previous firm, kNone = gone (changed only)
  std::vector<uint32_t> at_storage;
  const uint32_t* at = nullptr;       // merged position → current id, or previous id | kGoneBit
};

MergedFirms MergeFirms(const NightResult& night, const NightResult* previous) {
  MergedFirms m;
  const uint32_t n = night.num_firms();
  m.same_firms = previous != nullptr && previous->codes == night.codes;
  if (previous == nullptr || m.same_firms) {
    m.size = n;
    m.m_of_cur.resize(n);
    for (uint32_t i = 0; i < n; ++i) m.m_of_cur[night.code_order[i]] = i;
    m.at = night.code_order.data();
    return m;
  }
  const auto& co = night.code_order;
  const auto& po = previous->code_order;
  m.m_of_cur.assign(n, kNone);
  m.prev_of_cur.assign(n, kNone);
  m.m_of_prev.assign(previous->num_firms(), kNone);
  m.cur_of_prev.assign(previous->num_firms(), kNone);
  m.at_storage.reserve(size_t{n} + previous->num_firms());
  size_t i = 0, j = 0;
  while (i < co.size() || j < po.size()) {
    const uint32_t pos = static_cast<uint32_t>(m.at_storage.size());
    if (j == po.size() || (i < co.size() && night.code(co[i]) < previous->code(po[j]))) {
      m.m_of_cur[co[i]] = pos;
      m.at_storage.push_back(co[i++]);
    } else if (i == co.size() || previous->code(po[j]) < night.code(co[i])) {
      m.m_of_prev[po[j]] = pos;
      m.at_storage.push_back(po[j++] | kGoneBit);
    } else {
      m.m_of_cur[co[i]] = pos;
      m.m_of_prev[po[j]] = pos;
      m.prev_of_cur[co[i]] = po[j];
      m.cur_of_prev[po[j]] = co[i];
      m.at_storage.push_back(co[i]);
      ++i;
      ++j;
    }
  }
  m.size = static_cast<uint32_t>(m.at_storage.size());
  m.at = m.at_storage.data();
  return m;
}

// One policy of the output (tonight's, or last night's withdrawn one).
struct PushKey {
  std::string json_id;               // the id as a JSON string
  const PolicyNight* cur = nullptr;  // tonight's policy, if any
  const PolicyNight* prev = nullptr; // last night's, if any (with a --previous)
  bool unchanged = false;            // same firms, same bitmaps and benefits: nothing to push
};

// The firms of one group of merged positions [lo, hi): current ids and previous ids. `all` = the
// group holds every position (no filtering).
struct FirmGroup {
  uint32_t lo = 0, hi = 0;
  bool all = true;
  Roaring cur;
  Roaring prev;  // previous ids (registry changed only; else `cur` serves both)
};

// A key's pushes, ascending by merged position.
struct PushList {
  std::vector<uint32_t> pos;
  std::vector<uint16_t> meta;       // see Meta()
  std::vector<int64_t> benefits;    // raw, for the entries with has_benefit, in order
  std::vector<int64_t> previous_benefits;  // raw, for the entries with has_previous_benefit
};

struct PushEntry {
  uint32_t pos;
  uint16_t meta;
  int64_t benefit;
  int64_t previous_benefit;
};

// status | change << 3 | has_benefit << 5 | previous_status << 6 | has_previous_benefit << 9 |
// reason << 10
uint16_t Meta(MatchStatus status, Push::Change change, bool has_benefit,
              MatchStatus previous = STATUS_UNSPECIFIED, bool has_previous_benefit = false,
              Push::Reason reason = Push::REASON_UNSPECIFIED) {
  return static_cast<uint16_t>(status | (change << 3) | (has_benefit ? 1 << 5 : 0) | (previous << 6) |
                               (has_previous_benefit ? 1 << 9 : 0) | (reason << 10));
}
MatchStatus MetaStatus(uint16_t m) { return static_cast<MatchStatus>(m & 7); }
Push::Change MetaChange(uint16_t m) { return static_cast<Push::Change>((m >> 3) & 3); }
bool MetaHasBenefit(uint16_t m) { return (m >> 5) & 1; }
MatchStatus MetaPrevious(uint16_t m) { return static_cast<MatchStatus>((m >> 6) & 7); }
bool MetaHasPreviousBenefit(uint16_t m) { return (m >> 9) & 1; }
Push::Reason MetaReason(uint16_t m) { return static_cast<Push::Reason>((m >> 10) & 3); }

Roaring Pushable(const PolicyNight& p, StatusMask statuses) {
  Roaring r;
  for (MatchStatus s : kKeptStatuses) {
    if ((statuses >> s) & 1) r |= p.by_status[s];
  }
  return r;
}

bool SamePolicy(const PolicyNight& a, const PolicyNight& b) {
  if (a.benefits != b.benefits) return false;
  for (MatchStatus s : kKeptStatuses) {
    if (!(a.by_status[s] == b.by_status[s])) return false;
  }
  return true;
}

// The pushes of one key, in the semantics of SPEC §5 (see PushesJsonl).
void BuildPushList(const PushKey& key, const MergedFirms& m, const FirmGroup& g, StatusMask statuses,
                   std::vector<PushEntry>* entries, PushList* out) {
  entries->clear();
  out->pos.clear();
  out->meta.clear();
  out->benefits.clear();
  out->previous_benefits.clear();
  const PolicyNight* cur = key.cur;
  const PolicyNight* prev = key.prev;
  if (key.unchanged) return;
  // `r` restricted to the group's `ids` (`*storage` holds the intersection when one is needed).
  auto in_group = [&](const Roaring& r, const Roaring& ids, Roaring* storage) -> const Roaring& {
    if (g.all) return r;
    *storage = r & ids;
    return *storage;
  };
  const Roaring& prev_ids = m.same_firms ? g.cur : g.prev;
  Roaring prev_pushable, prev_pushable_storage, status_storage;
  const Roaring* prev_pushable_g = &prev_pushable;
  if (prev != nullptr) {
    prev_pushable = Pushable(*prev, statuses);
    prev_pushable_g = &in_group(prev_pushable, prev_ids, &prev_pushable_storage);
  }
  // A revocation, with what was pushed before.
  const auto revoke = [&](uint32_t pos, MatchStatus now, uint32_t pf, Push::Reason reason) {
    const std::optional<Decimal> before = prev->BenefitOf(pf);
    entries->push_back({pos, Meta(now, Push::REVOKED, false, prev->StatusOf(pf), before.has_value(), reason), 0,
                        before ? before->raw() : 0});
  };
  if (cur != nullptr) {
    for (MatchStatus status : kKeptStatuses) {
      if (((statuses >> status) & 1) == 0) continue;
      auto b = cur->benefits.begin();
      for (uint32_t firm : in_group(cur->by_status[status], g.cur, &status_storage)) {
        std::optional<Decimal> benefit;  // == cur->BenefitOf(firm), walking along
        while (b != cur->benefits.end() && b->first < firm) ++b;
        if (b != cur->benefits.end() && b->first == firm) benefit = Decimal::FromRawUnchecked(b->second);
        uint16_t meta = Meta(status, Push::NEW, benefit.has_value());
        int64_t previous_benefit = 0;
        if (prev != nullptr) {
          const uint32_t pf = m.same_firms ? firm : m.prev_of_cur[firm];
          if (pf != kNone && prev_pushable.contains(pf)) {
            const MatchStatus before = prev->StatusOf(pf);
            const std::optional<Decimal> before_benefit = prev->BenefitOf(pf);
            if (before == status && before_benefit == benefit) continue;
            meta = Meta(status, Push::CHANGED, benefit.has_value(), before, before_benefit.has_value());
            previous_benefit = before_benefit ? before_benefit->raw() : 0;
          }
        }
        entries->push_back({m.m_of_cur[firm], meta, benefit ? benefit->raw() : 0, previous_benefit});
      }
    }
    if (prev != nullptr) {
      // Revocations of firms still registered: pushable before, not now.
      const Roaring pushable = Pushable(*cur, statuses);
      const Push::Reason reason = cur->in_force ? Push::CONDITION_LOST : Push::POLICY_ENDED;
      if (m.same_firms) {
        for (uint32_t firm : *prev_pushable_g - pushable) {
          revoke(m.m_of_cur[firm], cur->StatusOf(firm), firm, reason);
        }
      } else {
        for (uint32_t pf : *prev_pushable_g) {
          const uint32_t firm = m.cur_of_prev[pf];
          if (firm != kNone && !pushable.contains(firm)) revoke(m.m_of_cur[firm], cur->StatusOf(firm), pf, reason);
        }
      }
    }
  }
  if (prev != nullptr) {
    for (uint32_t pf : *prev_pushable_g) {
      const uint32_t firm = m.same_firms ? pf : m.cur_of_prev[pf];
      if (firm == kNone) {
        // A firm gone from the registry: revoke its pushes.
        revoke(m.m_of_prev[pf], INELIGIBLE, pf, Push::FIRM_GONE);
      } else if (cur == nullptr) {
        // A policy withdrawn from the catalog.
        revoke(m.m_of_cur[firm], INELIGIBLE, pf, Push::POLICY_ENDED);
      }
    }
  }
  bool sorted = true;
  for (size_t i = 1; i < entries->size() && sorted; ++i) sorted = (*entries)[i - 1].pos < (*entries)[i].pos;
  if (!sorted) {
    std::sort(entries->begin(), entries->end(),
              [](const PushEntry& a, const PushEntry& b) { return a.pos < b.pos; });
  }
  out->pos.resize(entries->size());
  out->meta.resize(entries->size());
  for (size_t i = 0; i < entries->size(); ++i) {
    out->pos[i] = (*entries)[i].pos;
    out->meta[i] = (*entries)[i].meta;
  }
  for (const PushEntry& e : *entries) {
    if (MetaHasBenefit(e.meta)) out->benefits.push_back(e.benefit);
    if (MetaHasPreviousBenefit(e.meta)) out->previous_benefits.push_back(e.previous_benefit);
  }
}

}  // namespace

absl::Status WritePushesJsonl(const NightResult& night, const NightResult* previous, ByteSink* sink,
                              const StreamOptions& options) {
  const StatusMask statuses = options.push_statuses & ~(1 << INELIGIBLE) & ~(1 << STATUS_UNSPECIFIED);
  const PushTextSource* texts = options.push_texts;
  const MergedFirms m = MergeFirms(night, previous);
  // Keys: tonight's policies and last night's, merged by id (both are in ascending id order).
  std::vector<PushKey> keys;
  std::vector<int> text_policy;  // PushTextSource::PolicyIndex of each key
  {
    size_t i = 0, j = 0;
    const size_t np = previous != nullptr ? previous->policies.size() : 0;
    while (i < night.policies.size() || j < np) {
      PushKey k;
      if (j == np || (i < night.policies.size() && night.policies[i].id < previous->policies[j].id)) {
        k.cur = &night.policies[i++];
      } else if (i == night.policies.size() || previous->policies[j].id < night.policies[i].id) {
        k.prev = &previous->policies[j++];
      } else {
        k.cur = &night.policies[i++];
        k.prev = &previous->policies[j++];
      }
      const std::string& id = k.cur != nullptr ? k.cur->id : k.prev->id;
      AppendJsonString(id, &k.json_id);
      text_policy.push_back(texts != nullptr && k.cur != nullptr ? texts->PolicyIndex(id) : -1);
      keys.push_back(std::move(k));
    }
  }
  for (PushKey& k : keys) {
    k.unchanged = k.cur != nullptr && k.prev != nullptr && m.same_firms && SamePolicy(*k.cur, *k.prev);
  }
  // Memory stays bounded: the merged positions are cut into groups of at most ~kGroupPushes
  // pushes (estimated from the bitmaps' counts); a group's pushes are listed per key, written,
  // and dropped before the next.
  uint64_t estimate = 0;
  for (const PushKey& k : keys) {
    if (k.unchanged) continue;
    for (const PolicyNight* p : {k.cur, k.prev}) {
      if (p == nullptr) continue;
      for (MatchStatus st : kKeptStatuses) {
        if ((statuses >> st) & 1) estimate += p->by_status[st].cardinality();
      }
    }
  }
  constexpr uint32_t kWindow = 1 << 16;
  const uint64_t groups = std::max<uint64_t>(1, (estimate + options.group_pushes - 1) / options.group_pushes);
  const uint64_t group_size = std::max<uint64_t>(1, (m.size + groups - 1) / groups);

  std::vector<PushList> lists(keys.size());
  std::string status_names[8], change_names[3], reason_names[4];
  for (int s = 0; s < 7; ++s) {
    if (MatchStatus_IsValid(s)) status_names[s] = MatchStatus_Name(static_cast<MatchStatus>(s));
  }
  for (int c = 0; c < 3; ++c) change_names[c] = Push::Change_Name(static_cast<Push::Change>(c));
  for (int r = 0; r < 4; ++r) reason_names[r] = Push::Reason_Name(static_cast<Push::Reason>(r));
  struct Item {
    uint32_t key;
    uint32_t index;
    uint32_t benefit;
    uint32_t previous_benefit;
  };
  // One line of pushes.jsonl.
  const auto append_push = [&](const Item& it, std::string* line, PushWords* words) {
    const PushList& l = lists[it.key];
    const uint32_t firm = m.at[l.pos[it.index]];
    const bool gone = (firm & kGoneBit) != 0;
    const absl::string_view code = gone ? previous->code(firm & ~kGoneBit) : night.code(firm);
    const uint16_t meta = l.meta[it.index];
    line->append("{\"credit_code\":\"");
    line->append(code.data(), code.size());
    line->append("\",\"policy\":");
    line->append(keys[it.key].json_id);
    line->append(",\"status\":\"");
    line->append(status_names[MetaStatus(meta)]);
    line->append("\",\"benefit_yuan\":\"");
    if (MetaHasBenefit(meta)) AppendYuan(line, l.benefits[it.benefit]);
    line->append("\",\"change\":\"");
    line->append(change_names[MetaChange(meta)]);
    line->append("\"");
    if (!gone && !night.name(firm).empty()) {
      line->append(",\"name\":");
      AppendJsonString(night.name(firm), line);
    }
    if (texts != nullptr) {
      PushFacts f;
      f.policy = text_policy[it.key];
      f.firm = gone ? UINT32_MAX : firm;
      f.status = MetaStatus(meta);
      f.change = MetaChange(meta);
      if (MetaHasBenefit(meta)) f.benefit = Decimal::FromRawUnchecked(l.benefits[it.benefit]);
      f.previous_status = MetaPrevious(meta);
      if (MetaHasPreviousBenefit(meta)) {
        f.previous_benefit = Decimal::FromRawUnchecked(l.previous_benefits[it.previous_benefit]);
      }
      f.reason = MetaReason(meta);
      texts->Describe(f, words);
      for (const auto& [name, value] : {std::pair<const char*, const std::string*>{"title", &words->title},
                                        {"message", &words->message},
                                        {"missing", &words->missing}}) {
        if (value->empty()) continue;
        line->append(",\"");
        line->append(name);
        line->append("\":");
        AppendJsonString(*value, line);
      }
      if (!words->data_needed.empty()) {
        line->append(",\"data_needed\":[");
        for (size_t i = 0; i < words->data_needed.size(); ++i) {
          if (i > 0) line->push_back(',');
          AppendJsonString(words->data_needed[i], line);
        }
        line->append("]");
      }
    }
    if (MetaChange(meta) != Push::NEW) {
      line->append(",\"previous_status\":\"");
      line->append(status_names[MetaPrevious(meta)]);
      line->append("\",\"previous_benefit_yuan\":\"");
      if (MetaHasPreviousBenefit(meta)) AppendYuan(line, l.previous_benefits[it.previous_benefit]);
      line->append("\"");
    }
    if (MetaChange(meta) == Push::REVOKED) {
      line->append(",\"reason\":\"");
      line->append(reason_names[MetaReason(meta)]);
      line->append("\"");
      if (texts != nullptr && !words->lost_condition.empty()) {
        line->append(",\"lost_condition\":");
        AppendJsonString(words->lost_condition, line);
      }
    }
    line->append("}\n");
  };
  const int threads = texts != nullptr ? std::max(1, options.threads) : 1;
  std::vector<std::string> parts(threads);
  std::vector<PushWords> words(threads);
  std::vector<size_t> cursor(keys.size()), benefit_cursor(keys.size()), previous_cursor(keys.size());
  std::vector<uint32_t> count(kWindow + 1);
  std::vector<uint32_t> offsets;
  std::vector<Item> items, sorted;
  ChunkedWriter w(sink, options.chunk);
  std::string& out = w.buf();
  for (uint64_t lo = 0; lo < m.size || lo == 0; lo += group_size) {
    FirmGroup g;
    g.lo = static_cast<uint32_t>(lo);
    g.hi = static_cast<uint32_t>(std::min<uint64_t>(m.size, lo + group_size));
    g.all = g.lo == 0 && g.hi == m.size;
    if (!g.all) {
      std::vector<uint32_t> ids;
      for (uint32_t f = 0; f < m.m_of_cur.size(); ++f) {
        if (m.m_of_cur[f] >= g.lo && m.m_of_cur[f] < g.hi) ids.push_back(f);
      }
      g.cur.addMany(ids.size(), ids.data());
      g.cur.runOptimize();
      if (previous != nullptr && !m.same_firms) {
        ids.clear();
        for (uint32_t f = 0; f < m.m_of_prev.size(); ++f) {
          if (m.m_of_prev[f] >= g.lo && m.m_of_prev[f] < g.hi) ids.push_back(f);
        }
        g.prev.addMany(ids.size(), ids.data());
        g.prev.runOptimize();
      }
    }
    // Each key's pushes in the group, on `threads` threads.
    {
      std::atomic<size_t> next{0};
      ParallelFor(std::min<int>(options.threads, static_cast<int>(keys.size())), [&](int) {
        std::vector<PushEntry> entries;
        for (size_t k; (k = next.fetch_add(1)) < keys.size();) {
          BuildPushList(keys[k], m, g, statuses, &entries, &lists[k]);
        }
      });
    }
    std::vector<uint32_t> live;  // keys with pushes
    for (uint32_t k = 0; k < lists.size(); ++k) {
      if (!lists[k].pos.empty()) live.push_back(k);
    }
    std::fill(cursor.begin(), cursor.end(), 0);
    std::fill(benefit_cursor.begin(), benefit_cursor.end(), 0);
    std::fill(previous_cursor.begin(), previous_cursor.end(), 0);
    // Written window by window of merged positions: within a window, ordered by position
    // (credit code) then key (policy id) with a counting sort.
    for (uint32_t base = g.lo; base < g.hi && !live.empty(); base += kWindow) {
      const uint32_t end = base + std::min(kWindow, g.hi - base);
      items.clear();
      offsets.clear();
      std::fill(count.begin(), count.end(), 0);
      for (uint32_t k : live) {
        const PushList& l = lists[k];
        size_t& c = cursor[k];
        size_t& bc = benefit_cursor[k];
        size_t& pc = previous_cursor[k];
        for (; c < l.pos.size() && l.pos[c] < end; ++c) {
          items.push_back({k, static_cast<uint32_t>(c), static_cast<uint32_t>(bc), static_cast<uint32_t>(pc)});
          offsets.push_back(l.pos[c] - base);
          ++count[l.pos[c] - base + 1];
          bc += MetaHasBenefit(l.meta[c]);
          pc += MetaHasPreviousBenefit(l.meta[c]);
        }
      }
      for (uint32_t i = 1; i <= kWindow; ++i) count[i] += count[i - 1];
      sorted.resize(items.size());
      for (size_t i = 0; i < items.size(); ++i) sorted[count[offsets[i]]++] = items[i];
      if (threads == 1) {
        for (const Item& it : sorted) {
          append_push(it, &out, &words[0]);
          if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
        }
        continue;
      }
      // With words, lines are made on `threads` threads, a batch at a time, and written in order.
      constexpr size_t kBatch = 1 << 14;
      for (size_t b0 = 0; b0 < sorted.size(); b0 += kBatch) {
        const size_t b1 = std::min(sorted.size(), b0 + kBatch);
        const size_t per = (b1 - b0 + threads - 1) / threads;
        ParallelFor(threads, [&](int t) {
          parts[t].clear();
          for (size_t i = b0 + t * per; i < std::min(b1, b0 + (t + 1) * per); ++i) {
            append_push(sorted[i], &parts[t], &words[t]);
          }
        });
        for (const std::string& part : parts) {
          out.append(part);
          if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
        }
      }
    }
    if (m.size == 0) break;
  }
  return w.Flush();
}

std::string PushesJsonl(const NightResult& night, const NightResult* previous,
                        const StreamOptions& options) {
  std::string out;
  StringSink sink(&out);
  (void)WritePushesJsonl(night, previous, &sink, options);
  return out;
}

std::string PushesJsonl(const NightResult& night, const NightResult* previous) {
  std::string out;
  StringSink sink(&out);
  (void)WritePushesJsonl(night, previous, &sink);
  return out;
}

}  // namespace polmatch
