#include "engine/ingest/firm_table.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/ingest/firm_sources.h"
#include "engine/ingest/jsonl_reader.h"
#include "engine/util/dates.h"
#include "engine/util/status_macros.h"

namespace polmatch {
namespace {

constexpr int32_t kOpenFrom = std::numeric_limits<int32_t>::min();
constexpr int32_t kOpenTo = std::numeric_limits<int32_t>::max();

int32_t DayOf(absl::CivilDay d) { return static_cast<int32_t>(DaysSince1970(d)); }
absl::CivilDay DayFrom(int32_t n) { return DayFrom1970(n); }

std::atomic<size_t> g_block_bytes{size_t{4} << 20};

}  // namespace

namespace ingest_internal {
void AdviseHugePages(const void* p, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (bytes < 4 * kHuge) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}
void SetJsonBlockBytesForTest(size_t bytes) { g_block_bytes = std::max<size_t>(bytes, 1); }
}  // namespace ingest_internal

FirmTable::FirmTable(int num_facts)
    : num_facts_(num_facts), known_words_(std::max<size_t>(1, (num_facts + 63) / 64)) {}

void FirmTable::Clear() {
  num_rows_ = 0;
  codes_.clear();
  regions_.clear();
  industries_.clear();
  founded_.clear();
  founded_known_.clear();
  names_.clear();
  name_offsets_.clear();
  name_lengths_.clear();
  facts_.clear();
  fact_known_.clear();
  grants_.clear();
  sources_.clear();
  source_ids_.clear();
  index_.clear();
}

void FirmTable::Reserve(size_t rows, size_t name_bytes) {
  const auto reserve = [](auto& v, size_t n) {
    v.reserve(n);
    ingest_internal::AdviseHugePages(v.data(), v.capacity() * sizeof(v[0]));
  };
  reserve(codes_, rows * kCodeWidth);
  reserve(regions_, rows * kRegionWidth);
  reserve(industries_, rows * kIndustryWidth);
  reserve(founded_, rows);
  reserve(founded_known_, rows);
  reserve(names_, name_bytes);
  reserve(name_offsets_, rows);
  reserve(name_lengths_, rows);
  reserve(facts_, rows * num_facts_);
  reserve(fact_known_, rows * known_words_);
  index_.reserve(rows);
}

uint32_t FirmTable::InternSource(absl::string_view source) {
  auto [it, inserted] =
      source_ids_.try_emplace(std::string(source), static_cast<uint32_t>(sources_.size()));
  if (inserted) sources_.emplace_back(source);
  return it->second;
}

void FirmTable::AppendFirmGrants(const Firm& f, uint32_t row, bool first) {
  for (const TagGrantRecord& g : f.tags) {
    grants_.push_back(Grant{row, g.tag.value, g.valid_from ? DayOf(*g.valid_from) : kOpenFrom,
                            g.valid_to ? DayOf(*g.valid_to) : kOpenTo, InternSource(g.source),
                            first ? 1u : 0u});
  }
}

void FirmTable::Append(const Firm& f) {
  const size_t row = num_rows_++;
  codes_.resize(codes_.size() + kCodeWidth);
  std::memcpy(&codes_[row * kCodeWidth], f.credit_code.data(),
              std::min(f.credit_code.size(), kCodeWidth));
  regions_.resize(regions_.size() + kRegionWidth, '\0');
  std::memcpy(&regions_[row * kRegionWidth], f.region.data(),
              std::min(f.region.size(), kRegionWidth));
  industries_.resize(industries_.size() + kIndustryWidth, '\0');
  std::memcpy(&industries_[row * kIndustryWidth], f.industry.data(),
              std::min(f.industry.size(), kIndustryWidth - 1));
  founded_.push_back(f.founded ? DayOf(*f.founded) : 0);
  founded_known_.push_back(f.founded ? 1 : 0);
  name_offsets_.push_back(names_.size());
  name_lengths_.push_back(static_cast<uint32_t>(f.name.size()));
  names_.insert(names_.end(), f.name.begin(), f.name.end());
  facts_.resize(facts_.size() + num_facts_, 0);
  fact_known_.resize(fact_known_.size() + known_words_, 0);
  const size_t n = std::min<size_t>(f.facts.size(), num_facts_);
  for (size_t k = 0; k < n; ++k) {
    if (!f.facts[k]) continue;
    facts_[row * num_facts_ + k] = f.facts[k]->raw();
    fact_known_[row * known_words_ + k / 64] |= uint64_t{1} << (k % 64);
  }
  AppendFirmGrants(f, static_cast<uint32_t>(row), true);
}

absl::Status FirmTable::Admit(const Slot* slot, bool partial, uint32_t file) {
  if (slot == nullptr) {
    return partial ? absl::InvalidArgumentError(ingest_internal::kNoBaseRecord) : absl::OkStatus();
  }
  if (slot->file == file) {
    return absl::InvalidArgumentError(ingest_internal::DuplicateCode(slot->line));
  }
  return absl::OkStatus();
}

absl::Status FirmTable::Add(const Firm& f, uint32_t file, int line, bool* merged) {
  *merged = false;
  Key key{};
  std::memcpy(key.data(), f.credit_code.data(), std::min(f.credit_code.size(), kCodeWidth));
  auto it = index_.find(key);
  RETURN_IF_ERROR(Admit(it == index_.end() ? nullptr : &it->second, f.partial(), file));
  if (it == index_.end()) {
    index_.emplace(key, Slot{static_cast<uint32_t>(num_rows_), file, line});
    Append(f);
    return absl::OkStatus();
  }
  it->second.file = file;
  it->second.line = line;
  *merged = true;
  const size_t row = it->second.row;
  if (!f.name.empty()) {
    name_offsets_[row] = names_.size();
    name_lengths_[row] = static_cast<uint32_t>(f.name.size());
    names_.insert(names_.end(), f.name.begin(), f.name.end());
  }
  if (!f.region.empty()) {
    std::memset(&regions_[row * kRegionWidth], 0, kRegionWidth);
    std::memcpy(&regions_[row * kRegionWidth], f.region.data(),
                std::min(f.region.size(), kRegionWidth));
  }
  if (!f.industry.empty()) {
    std::memset(&industries_[row * kIndustryWidth], 0, kIndustryWidth);
    std::memcpy(&industries_[row * kIndustryWidth], f.industry.data(),
                std::min(f.industry.size(), kIndustryWidth - 1));
  }
  if (f.founded) {
    founded_[row] = DayOf(*f.founded);
    founded_known_[row] = 1;
  }
  const size_t n = std::min<size_t>(f.facts.size(), num_facts_);
  for (size_t k = 0; k < n; ++k) {
    if (!f.facts[k]) continue;
    facts_[row * num_facts_ + k] = f.facts[k]->raw();
    fact_known_[row * known_words_ + k / 64] |= uint64_t{1} << (k % 64);
  }
  AppendFirmGrants(f, static_cast<uint32_t>(row), false);
  return absl::OkStatus();
}

void FirmTable::MergeRow(size_t row, const FirmTable& src, size_t r,
                         const std::vector<uint32_t>& source_map) {
  const absl::string_view name = src.name(r);
  if (!name.empty()) {
    name_offsets_[row] = names_.size();
    name_lengths_[row] = static_cast<uint32_t>(name.size());
    names_.insert(names_.end(), name.begin(), name.end());
  }
  if (src.regions_[r * kRegionWidth] != '\0') {
    std::memcpy(&regions_[row * kRegionWidth], &src.regions_[r * kRegionWidth], kRegionWidth);
  }
  if (src.industries_[r * kIndustryWidth] != '\0') {
    std::memcpy(&industries_[row * kIndustryWidth], &src.industries_[r * kIndustryWidth],
                kIndustryWidth);
  }
  if (src.founded_known_[r]) {
    founded_[row] = src.founded_[r];
    founded_known_[row] = 1;
  }
  for (int k = 0; k < num_facts_; ++k) {
    if (!src.fact_known(r, k)) continue;
    facts_[row * num_facts_ + k] = src.facts_[r * num_facts_ + k];
    fact_known_[row * known_words_ + k / 64] |= uint64_t{1} << (k % 64);
  }
  (void)source_map;
}

void FirmTable::AppendRows(const FirmTable& src, size_t begin, size_t end) {
  if (begin >= end) return;
  const auto append = [&](auto& to, const auto& from, size_t width) {
    to.insert(to.end(), from.begin() + begin * width, from.begin() + end * width);
  };
  append(codes_, src.codes_, kCodeWidth);
  append(regions_, src.regions_, kRegionWidth);
  append(industries_, src.industries_, kIndustryWidth);
  append(founded_, src.founded_, 1);
  append(founded_known_, src.founded_known_, 1);
  append(facts_, src.facts_, num_facts_);
  append(fact_known_, src.fact_known_, known_words_);
  for (size_t r = begin; r < end; ++r) {
    const absl::string_view name = src.name(r);
    name_offsets_.push_back(names_.size());
    name_lengths_.push_back(static_cast<uint32_t>(name.size()));
    names_.insert(names_.end(), name.begin(), name.end());
  }
  num_rows_ += end - begin;
}

int64_t FirmTable::AddAll(const FirmTable& block, uint32_t file, const std::vector<int>& lines,
                          std::vector<Refusal>* refused) {
  std::vector<uint32_t> source_map(block.sources_.size());
  for (size_t i = 0; i < block.sources_.size(); ++i) source_map[i] = InternSource(block.sources_[i]);
  const size_t n = block.num_rows_;
  // Where each block row went, and whether it created its row, merged or was refused.
  enum : uint8_t { kRefused, kCreated, kMerged };
  std::vector<uint32_t> target(n);
  std::vector<uint8_t> outcome(n);
  int64_t merged = 0;
  constexpr size_t kAhead = 8;
  const auto key_of = [&](size_t r) {
    Key key;
    std::memcpy(key.data(), &block.codes_[r * kCodeWidth], kCodeWidth);
    return key;
  };
  for (size_t r = 0; r < std::min(n, kAhead); ++r) index_.prefetch(key_of(r));
  size_t run = 0;  // rows [run, r) are new rows not yet appended
  for (size_t r = 0; r < n; ++r) {
    if (r + kAhead < n) index_.prefetch(key_of(r + kAhead));
    const bool partial = block.regions_[r * kRegionWidth] == '\0';
    auto [it, inserted] = index_.try_emplace(
        key_of(r), Slot{static_cast<uint32_t>(num_rows_ + (r - run)), file, lines[r]});
    absl::Status admitted = Admit(inserted ? nullptr : &it->second, partial, file);
    if (!admitted.ok()) {
      if (inserted) index_.erase(it);
      AppendRows(block, run, r);
      run = r + 1;
      outcome[r] = kRefused;
      refused->push_back(Refusal{lines[r], std::string(admitted.message())});
      continue;
    }
    target[r] = it->second.row;
    if (inserted) {
      outcome[r] = kCreated;
      continue;
    }
    outcome[r] = kMerged;
    it->second.file = file;
    it->second.line = lines[r];
    AppendRows(block, run, r);
    MergeRow(it->second.row, block, r, source_map);
    run = r + 1;
    ++merged;
  }
  AppendRows(block, run, n);
  for (const Grant& g : block.grants_) {
    if (outcome[g.row] == kRefused) continue;
    Grant out = g;
    out.row = target[g.row];
    out.source = source_map[g.source];
    out.first = outcome[g.row] == kCreated ? 1u : 0u;
    grants_.push_back(out);
  }
  return merged;
}

void FirmTable::Finish() {
  index_ = {};
  // Only rows that received grants from a later record need a look.
  std::vector<uint32_t> later_rows;
  for (const Grant& g : grants_) {
    if (!g.first) later_rows.push_back(g.row);
  }
  if (later_rows.empty()) return;
  std::sort(later_rows.begin(), later_rows.end());
  later_rows.erase(std::unique(later_rows.begin(), later_rows.end()), later_rows.end());
  auto needs = [&](uint32_t row) {
    return std::binary_search(later_rows.begin(), later_rows.end(), row);
  };
  // Group the grants of those rows (arrival order kept) and filter each group.
  absl::flat_hash_map<uint32_t, std::vector<Grant>> kept;
  std::vector<Grant> out;
  out.reserve(grants_.size());
  for (const Grant& g : grants_) {
    if (!needs(g.row)) {
      out.push_back(g);
      continue;
    }
    std::vector<Grant>& held = kept[g.row];
    const bool dup =
        !g.first && std::any_of(held.begin(), held.end(), [&](const Grant& h) {
          return h.tag == g.tag && h.from == g.from && h.to == g.to && h.source == g.source;
        });
    if (dup) continue;
    held.push_back(g);
    out.push_back(g);
  }
  grants_ = std::move(out);
}

Firm FirmTable::ToFirm(size_t row) const {
  Firm f;
  f.credit_code = std::string(code(row));
  f.name = std::string(name(row));
  const char* region = region_bytes(row);
  f.region = region[0] == '\0' ? std::string() : std::string(region, kRegionWidth);
  const char* industry = industry_bytes(row);
  f.industry = std::string(industry, strnlen(industry, kIndustryWidth));
  if (founded_known(row)) f.founded = DayFrom(founded_day(row));
  f.facts.assign(num_facts_, std::nullopt);
  for (int k = 0; k < num_facts_; ++k) {
    if (fact_known(row, k)) f.facts[k] = Decimal::FromRawUnchecked(fact_raw(row, k));
  }
  for (const Grant& g : grants_) {
    if (g.row != row) continue;
    TagGrantRecord r;
    r.tag = TagId(g.tag);
    if (g.from != kOpenFrom) r.valid_from = DayFrom(g.from);
    if (g.to != kOpenTo) r.valid_to = DayFrom(g.to);
    r.source = sources_[g.source];
    f.tags.push_back(std::move(r));
  }
  return f;
}

namespace {

using ingest_internal::IngestTally;

// A run of whole lines of a JSON Lines file and what parsing it gave.
struct Block {
  explicit Block(int num_facts) : rows(num_facts) {}
  std::string bytes;
  int first_line = 1;  // number of the block's first line
  int line_count = 0;  // its newlines
  bool parsed = false;
  // Results.
  FirmTable rows;
  std::vector<int> row_lines;                        // the line of each row
  std::vector<std::pair<int, std::string>> rejects;  // line, reason
  int64_t accepted = 0;
  int64_t skipped = 0;  // records of another owner (RecordOwner)
  // The block's first line that decides the file's encoding (EncodingSniffer), if any: UTF-8, or
  // GB18030 (which refuses the file unless an earlier block decided UTF-8).
  int decided_line = 0;
  bool decided_gb18030 = false;
};

// Parses the lines of a block as ReadJsonLines does.
void ParseBlock(Block* b, const Taxonomy& taxonomy, const RecordOwner& owner) {
  b->rows.Clear();
  b->row_lines.clear();
  b->rejects.clear();
  b->accepted = 0;
  b->skipped = 0;
  IngestStats skips;
  b->decided_line = 0;
  b->decided_gb18030 = false;
  ingest_internal::EncodingSniffer sniffer;
  FirmProfile profile;
  std::string scratch;
  absl::string_view rest(b->bytes);
  int line_number = b->first_line - 1;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    absl::string_view line = rest.substr(0, nl);
    rest = nl == absl::string_view::npos ? absl::string_view() : rest.substr(nl + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_number == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") {
      line.remove_prefix(3);
      sniffer.DecideUtf8();
      b->decided_line = 1;
    }
    if (!sniffer.decided()) {
      b->decided_gb18030 = sniffer.ShowsGb18030(line);
      if (sniffer.decided()) b->decided_line = line_number;
    }
    if (ingest_internal::IsBlank(line)) continue;
    absl::Status parsed = ingest_internal::ParseFirmJsonInto(line, &profile, &scratch);
    if (!parsed.ok()) {
      if (ingest_internal::OwnsRecord(owner, nullptr, &skips)) {
        b->rejects.emplace_back(line_number, std::string(parsed.message()));
      }
      continue;
    }
    if (!ingest_internal::OwnsRecord(owner, &profile, &skips)) continue;
    absl::StatusOr<Firm> firm = FirmFromRecord(profile, taxonomy);
    if (!firm.ok()) {
      b->rejects.emplace_back(line_number, std::string(firm.status().message()));
      continue;
    }
    ++b->accepted;
    b->rows.Append(*firm);
    b->row_lines.push_back(line_number);
  }
  b->skipped = skips.skipped;
}

int CountLines(absl::string_view bytes) {
  return static_cast<int>(std::count(bytes.begin(), bytes.end(), '\n'));
}

// Reads a JSON Lines file in blocks of whole lines, parses them on `threads` threads and adds
// their records to `table` in file order.
absl::Status ReadJsonLinesParallel(int fd, const std::string& name, uint32_t file,
                                   const Taxonomy& taxonomy, int threads, FirmTable* table,
                                   std::vector<Rejection>* rejects, IngestStats* stats,
                                   uint64_t* bytes_done, uint64_t bytes_total,
                                   const LoadProgress& progress, uint64_t estimate_bytes,
                                   const RecordOwner& owner) {
  const size_t block_bytes = g_block_bytes;
  std::mutex pool_mu;
  std::vector<std::unique_ptr<Block>> pool;
  auto recycle = [&](std::unique_ptr<Block> b) {
    std::lock_guard<std::mutex> lock(pool_mu);
    pool.push_back(std::move(b));
  };
  std::string carry;
  bool eof = false;
  bool read_error = false;
  int next_line = 1;
  int lines_consumed = 0;
  bool reserved = false;
  // The next block: whole lines, or the rest of the file; nullptr at the end.
  auto read_block = [&]() -> std::unique_ptr<Block> {
    if (eof && carry.empty()) return nullptr;
    // Blocks are recycled: their buffers keep their capacity (no page faults per block).
    std::unique_ptr<Block> b;
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (!pool.empty()) {
        b = std::move(pool.back());
        pool.pop_back();
      }
    }
    if (b == nullptr) b = std::make_unique<Block>(taxonomy.num_facts());
    b->parsed = false;
    b->bytes.assign(carry);
    carry.clear();
    while (!eof) {
      const size_t old = b->bytes.size();
      b->bytes.resize(old + block_bytes);
      ssize_t n;
      do {
        n = ::read(fd, &b->bytes[old], block_bytes);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) {
        b->bytes.resize(old);
        eof = true;
        if (n < 0) read_error = true;
        break;
      }
      b->bytes.resize(old + static_cast<size_t>(n));
      // Only the new bytes can hold a newline (the carried ones hold none).
      const size_t nl = absl::string_view(b->bytes).substr(old).rfind('\n');
      if (nl != absl::string_view::npos) {
        carry.assign(b->bytes, old + nl + 1, std::string::npos);
        b->bytes.resize(old + nl + 1);
        break;
      }
    }
    if (b->bytes.empty()) return nullptr;
    b->first_line = next_line;
    b->line_count = CountLines(b->bytes);
    next_line += b->line_count;
    return b;
  };

  bool decided = false;  // the file's encoding (EncodingSniffer over the blocks in order)
  int gb18030_line = 0;  // the file is GB18030: refused at this line
  std::vector<FirmTable::Refusal> refused;
  auto consume = [&](Block& b) {
    if (gb18030_line != 0) return;
    if (!decided && b.decided_line != 0) {
      decided = true;
      if (b.decided_gb18030) {
        gb18030_line = b.decided_line;
        return;
      }
    }
    if (!reserved) {
      // Size the table once from the first block (untouched reserve costs no memory).
      reserved = true;
      const size_t rows_here = std::max<size_t>(b.rows.size(), 1);
      const double per_row = static_cast<double>(b.bytes.size()) / rows_here;
      // At least ~40 bytes a record: never reserve for more rows than the files can hold.
      const size_t rows = std::min<size_t>(
          static_cast<size_t>(static_cast<double>(estimate_bytes) / per_row * 1.1) + 1024,
          estimate_bytes / 40 + 1024);
      size_t name_bytes = 0;
      for (size_t r = 0; r < b.rows.size(); ++r) name_bytes += b.rows.name(r).size();
      if (table->size() == 0) {
        table->Reserve(rows, static_cast<size_t>(static_cast<double>(name_bytes) / rows_here * rows * 1.1) + 4096);
      }
    }
    refused.clear();
    const int64_t merged = table->AddAll(b.rows, file, b.row_lines, &refused);
    const int64_t rejected = static_cast<int64_t>(b.rejects.size() + refused.size());
    if (stats != nullptr) {
      stats->records += b.accepted + static_cast<int64_t>(b.rejects.size());
      stats->accepted += b.accepted - static_cast<int64_t>(refused.size());
      stats->rejected += rejected;
      stats->merged += merged;
      stats->skipped += b.skipped;
    }
    if (rejects != nullptr) {
      // The parse's and the merge's rejections, in line order as the sequential reader gives them.
      size_t m = 0;
      for (auto& [line, reason] : b.rejects) {
        for (; m < refused.size() && refused[m].line < line; ++m) {
          rejects->push_back(Rejection{name, refused[m].line, refused[m].reason});
        }
        rejects->push_back(Rejection{name, line, ingest_internal::OneLine(reason)});
      }
      for (; m < refused.size(); ++m) {
        rejects->push_back(Rejection{name, refused[m].line, refused[m].reason});
      }
    }
    lines_consumed = b.first_line - 1 + b.line_count;
    *bytes_done += b.bytes.size();  // progress counts parsed bytes, not bytes read ahead
    if (progress) progress(*bytes_done, bytes_total);
  };

  if (threads <= 1) {
    while (std::unique_ptr<Block> b = read_block()) {
      ParseBlock(b.get(), taxonomy, owner);
      consume(*b);
      recycle(std::move(b));
    }
  } else {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::unique_ptr<Block>> inflight;  // file order
    std::deque<Block*> todo;
    bool done_reading = false;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (;;) {
          Block* b;
          {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait(lock, [&] { return !todo.empty() || done_reading; });
            if (todo.empty()) return;
            b = todo.front();
            todo.pop_front();
          }
          ParseBlock(b, taxonomy, owner);
          {
            std::lock_guard<std::mutex> lock(mu);
            b->parsed = true;
          }
          cv.notify_all();
        }
      });
    }
    const size_t max_inflight = static_cast<size_t>(threads) * 2 + 1;
    for (;;) {
      // Keep the workers fed.
      bool more = true;
      for (;;) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (inflight.size() >= max_inflight) break;
        }
        std::unique_ptr<Block> b = read_block();
        if (b == nullptr) {
          more = false;
          break;
        }
        {
          std::lock_guard<std::mutex> lock(mu);
          todo.push_back(b.get());
          inflight.push_back(std::move(b));
        }
        cv.notify_all();
      }
      std::unique_ptr<Block> front;
      {
        std::unique_lock<std::mutex> lock(mu);
        if (inflight.empty()) break;
        if (!more && !done_reading) {
          done_reading = true;
          cv.notify_all();
        }
        cv.wait(lock, [&] { return inflight.front()->parsed; });
        front = std::move(inflight.front());
        inflight.pop_front();
      }
      consume(*front);
      recycle(std::move(front));
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      done_reading = true;
    }
    cv.notify_all();
    for (std::thread& w : workers) w.join();
  }
  if (gb18030_line != 0) return ingest_internal::Gb18030Refusal(name, gb18030_line);
  if (read_error) {
    return absl::DataLossError(
        absl::StrCat(name, ": ", absl::StrFormat("read error after line %d", lines_consumed)));
  }
  return absl::OkStatus();
}

// As ReadFirms decides kAuto: by extension, else JSON Lines if the first non-blank line starts
// with '{' (after blanks). Unreadable files are left for ReadFirms to report.
FirmFormat DetectFormat(const std::string& path, InputEncoding encoding) {
  FirmFormat format = FormatByExtension(path);
  if (format != FirmFormat::kAuto) return format;
  std::ifstream in(path, std::ios::in | std::ios::binary);
  if (!in.is_open()) return FirmFormat::kAuto;
  ingest_internal::LineReader lines(in, encoding);
  absl::string_view line;
  while (lines.Next(&line)) {
    if (ingest_internal::IsBlank(line)) continue;
    return line[line.find_first_not_of(" \t\r")] == '{' ? FirmFormat::kJsonLines
                                                         : FirmFormat::kCsv;
  }
  return FirmFormat::kCsv;
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

}  // namespace

absl::StatusOr<FirmTable> LoadFirmTable(const std::vector<std::string>& paths,
                                        const Taxonomy& taxonomy,
                                        std::vector<Rejection>* rejects, IngestStats* stats,
                                        int threads, const LoadProgress& progress,
                                        InputEncoding encoding, const RecordOwner& owner) {
  FirmTable table(taxonomy.num_facts());
  uint64_t total = 0, done = 0, json_total = 0;
  std::vector<FirmFormat> formats;
  for (const std::string& path : paths) {
    const uint64_t size = FileSize(path);
    total += size;
    std::error_code ignored;
    // A pipe or device is read once, by ReadRecords (which sniffs it itself).
    formats.push_back(std::filesystem::is_regular_file(path, ignored) ? DetectFormat(path, encoding)
                                                                      : FirmFormat::kAuto);
    if (formats.back() == FirmFormat::kJsonLines) json_total += size;
  }
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    const uint32_t file = static_cast<uint32_t>(i);
    std::error_code ignored;
    const bool regular = std::filesystem::is_regular_file(path, ignored);
    // GB18030 is converted line by line on the sequential path.
    if (formats[i] == FirmFormat::kJsonLines && regular && encoding == InputEncoding::kUtf8) {
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        absl::Status s = ReadJsonLinesParallel(fd, path, file, taxonomy, threads, &table, rejects,
                                               stats, &done, total, progress, json_total, owner);
        ::close(fd);
        RETURN_IF_ERROR(s);
        continue;
      }
      // Not openable: ReadRecordsFromFile words the error.
    }
    const ingest_internal::RecordSink sink = [&](Firm&& firm, int line) {
      bool merged = false;
      absl::Status added = table.Add(firm, file, line, &merged);
      if (merged && stats != nullptr) ++stats->merged;
      return added;
    };
    RETURN_IF_ERROR(ingest_internal::ReadRecordsFromFile(path, formats[i], encoding, taxonomy,
                                                         sink, rejects, stats, owner));
    done += FileSize(path);
    if (progress) progress(done, total);
  }
  table.Finish();
  return table;
}

}  // namespace polmatch
