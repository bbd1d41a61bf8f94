// The state file written and read one policy at a time (StateWriter, StateReader; what `merge`
// streams with): the writer gives the bytes of a reference serializer written from the format
// (and of WriteState / SerializeState), in whatever pieces it is fed; the reader gives the
// policies ParseState gives and refuses what ParseState refuses, with the same error.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/output/night.h"
#include "engine/util/framing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A night with random firms, statuses (each firm one status per policy, in runs and scattered)
// and benefits.
NightResult RandomNight(std::mt19937* rng, uint32_t firms, int policies) {
  NightResult n;
  n.as_of = "2024-12-31";
  std::set<std::string> unique;
  while (unique.size() < firms) {
    std::string c(NightResult::kCodeLen, '0');
    for (char& ch : c) ch = "0123456789ABCDEFGHJKLMNPQRTUWXY"[(*rng)() % 31];
    unique.insert(c);
  }
  std::vector<std::string> codes(unique.begin(), unique.end());
  std::shuffle(codes.begin(), codes.end(), *rng);  // firm ids are not code order
  for (const std::string& c : codes) n.codes += c;
  n.code_order.resize(firms);
  for (uint32_t i = 0; i < firms; ++i) n.code_order[i] = i;
  std::sort(n.code_order.begin(), n.code_order.end(), [&](uint32_t a, uint32_t b) { return codes[a] < codes[b]; });
  for (int p = 0; p < policies; ++p) {
    PolicyNight pn;
    pn.id = "p" + std::to_string(p) + (p % 3 == 0 ? ",逗号" : "");
    pn.auto_grant = (*rng)() % 2;
    const bool runs = p % 2 == 0;
    uint32_t status = 0;
    for (uint32_t f = 0; f < firms; ++f) {
      if (!runs || (*rng)() % 50 == 0) status = (*rng)() % 7;
      if (status < kKeptStatuses.size()) {
        const MatchStatus s = kKeptStatuses[status];
        pn.by_status[s].add(f);
        if ((s == ELIGIBLE || s == EXCLUDED || s == NOT_SELECTED) && (*rng)() % 3 != 0) {
          pn.benefits.emplace_back(f, static_cast<int64_t>((*rng)() % 100000000) * 10000 - 7);
        }
      }
    }
    for (Roaring& r : pn.by_status) {
      if ((*rng)() % 2) r.runOptimize();
    }
    n.policies.push_back(std::move(pn));
  }
  return n;
}

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// The format, as the state file's comment (night.h) describes it, written out field by field.
std::string ReferenceState(const NightResult& n) {
  std::string out = "PMSTATE\n";
  Put<uint32_t>(&out, 2);
  Put<uint32_t>(&out, static_cast<uint32_t>(n.as_of.size()));
  out += n.as_of;
  Put<uint32_t>(&out, n.num_firms());
  out += n.codes;
  for (uint32_t f : n.code_order) Put<uint32_t>(&out, f);
  Put<uint32_t>(&out, static_cast<uint32_t>(n.policies.size()));
  for (const PolicyNight& p : n.policies) {
    Put<uint32_t>(&out, static_cast<uint32_t>(p.id.size()));
    out += p.id;
    Put<uint8_t>(&out, p.auto_grant ? 1 : 0);
    for (MatchStatus s : {ELIGIBLE, UNDETERMINED, NEAR_MISS, EXCLUDED, NOT_SELECTED}) {
      std::string bitmap(p.by_status[s].getSizeInBytes(true), '\0');
      p.by_status[s].write(bitmap.data(), true);
      Put<uint32_t>(&out, static_cast<uint32_t>(bitmap.size()));
      out += bitmap;
    }
    Put<uint32_t>(&out, static_cast<uint32_t>(p.benefits.size()));
    for (const auto& [firm, raw] : p.benefits) {
      Put<uint32_t>(&out, firm);
      Put<int64_t>(&out, raw);
    }
  }
  Put<uint64_t>(&out, Checksum64(out));
  return out;
}

// `n` through a StateWriter, its codes and order in random pieces (some empty).
std::string Pieces(const NightResult& n, std::mt19937* rng, size_t chunk) {
  std::string out;
  StringSink sink(&out);
  StreamOptions o;
  o.chunk = chunk;
  StateWriter w(&sink, o);
  EXPECT_TRUE(w.Begin(n.as_of, n.num_firms(), static_cast<uint32_t>(n.policies.size())).ok());
  for (size_t at = 0; at < n.codes.size();) {
    const size_t len = std::min<size_t>(n.codes.size() - at, (*rng)() % 100);
    EXPECT_TRUE(w.AddCodes(absl::string_view(n.codes).substr(at, len)).ok());
    at += len;
  }
  for (size_t at = 0; at < n.code_order.size();) {
    const size_t len = std::min<size_t>(n.code_order.size() - at, (*rng)() % 9);
    EXPECT_TRUE(w.AddCodeOrder(n.code_order.data() + at, len).ok());
    at += len;
  }
  for (const PolicyNight& p : n.policies) EXPECT_TRUE(w.AddPolicy(p).ok());
  EXPECT_TRUE(w.Finish().ok());
  return out;
}

void ExpectSamePolicy(const PolicyNight& a, const PolicyNight& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.auto_grant, b.auto_grant);
  for (size_t s = 0; s < a.by_status.size(); ++s) EXPECT_TRUE(a.by_status[s] == b.by_status[s]) << a.id << " " << s;
  EXPECT_EQ(a.benefits, b.benefits);
}

// Everything a reader gives: its firms and policies, or its first error.
absl::StatusOr<NightResult> Drain(absl::StatusOr<std::unique_ptr<StateReader>> reader) {
  if (!reader.ok()) return reader.status();
  NightResult n = std::move((*reader)->firms());
  EXPECT_TRUE((*reader)->firms().codes.empty());  // moved out
  while (true) {
    PolicyNight p;
    absl::StatusOr<bool> more = (*reader)->Next(&p);
    if (!more.ok()) {
      absl::StatusOr<bool> again = (*reader)->Next(&p);
      EXPECT_EQ(again.status(), more.status());  // done after an error
      return more.status();
    }
    if (!*more) break;
    n.policies.push_back(std::move(p));
  }
  absl::StatusOr<bool> after = (*reader)->Next(nullptr);  // stays at the end
  EXPECT_TRUE(after.ok() && !*after);
  return n;
}

std::string TempPath(const std::string& name) {
  return (fs::path(::testing::TempDir()) / (name + "_" + std::to_string(::getpid()))).string();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(StateStreamTest, WriterEqualsTheFormatInAnyPieces) {
  std::mt19937 rng(7);
  struct Size { uint32_t firms; int policies; };
  for (const Size size : {Size{0, 0}, Size{0, 3}, Size{1, 0}, Size{1, 2}, Size{37, 5}, Size{3000, 6}}) {
    const NightResult n = RandomNight(&rng, size.firms, size.policies);
    const std::string want = ReferenceState(n);
    EXPECT_EQ(SerializeState(n), want) << size.firms;
    for (size_t chunk : {size_t{1}, size_t{13}, size_t{4096}, ChunkedWriter::kDefaultChunk}) {
      EXPECT_EQ(Pieces(n, &rng, chunk), want) << size.firms << " " << chunk;
      std::string whole;
      StringSink sink(&whole);
      StreamOptions o;
      o.chunk = chunk;
      ASSERT_TRUE(WriteState(n, &sink, o).ok());
      EXPECT_EQ(whole, want);
    }
  }
}

TEST(StateStreamTest, WriterRefusesPiecesThatDoNotAddUp) {
  std::mt19937 rng(8);
  const NightResult n = RandomNight(&rng, 10, 2);
  std::string out;
  StringSink sink(&out);
  {
    StateWriter w(&sink);
    ASSERT_TRUE(w.Begin(n.as_of, 10, 2).ok());
    EXPECT_EQ(w.AddCodeOrder(n.code_order.data(), 1).code(), absl::StatusCode::kInternal);  // codes first
  }
  {
    StateWriter w(&sink);
    ASSERT_TRUE(w.Begin(n.as_of, 10, 2).ok());
    EXPECT_EQ(w.AddCodes(n.codes + "x").code(), absl::StatusCode::kInternal);
  }
  {
    StateWriter w(&sink);
    ASSERT_TRUE(w.Begin(n.as_of, 10, 2).ok());
    ASSERT_TRUE(w.AddCodes(n.codes).ok());
    EXPECT_EQ(w.AddPolicy(n.policies[0]).code(), absl::StatusCode::kInternal);  // no code order
  }
  {
    StateWriter w(&sink);
    ASSERT_TRUE(w.Begin(n.as_of, 10, 2).ok());
    ASSERT_TRUE(w.AddCodes(n.codes).ok());
    ASSERT_TRUE(w.AddCodeOrder(n.code_order.data(), 10).ok());
    ASSERT_TRUE(w.AddPolicy(n.policies[0]).ok());
    const absl::Status finish = w.Finish();
    EXPECT_EQ(finish.code(), absl::StatusCode::kInternal);
    EXPECT_THAT(finish.message(), HasSubstr("1 policies given, 2 announced"));
  }
  {
    StateWriter w(&sink);
    ASSERT_TRUE(w.Begin(n.as_of, 10, 1).ok());
    ASSERT_TRUE(w.AddCodes(n.codes).ok());
    ASSERT_TRUE(w.AddCodeOrder(n.code_order.data(), 10).ok());
    ASSERT_TRUE(w.AddPolicy(n.policies[0]).ok());
    EXPECT_EQ(w.AddPolicy(n.policies[1]).code(), absl::StatusCode::kInternal);
  }
  // A sink that fails: its error, and the writer refuses to go on.
  class Failing : public ByteSink {
   public:
    absl::Status Write(absl::string_view) override { return absl::ResourceExhaustedError("disk full"); }
  } failing;
  StreamOptions tiny;
  tiny.chunk = 1;
  StateWriter w(&failing, tiny);
  EXPECT_EQ(w.Begin(n.as_of, 10, 2).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(w.AddCodes(n.codes).code(), absl::StatusCode::kInternal);
}

TEST(StateStreamTest, ReaderGivesWhatParseStateGives) {
  std::mt19937 rng(9);
  const std::string path = TempPath("state_stream");
  for (const uint32_t firms : {0u, 1u, 500u, 20000u}) {
    const NightResult n = RandomNight(&rng, firms, 7);
    const std::string bytes = SerializeState(n);
    absl::StatusOr<NightResult> parsed = ParseState(bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    WriteFile(path, bytes);
    for (bool from_file : {false, true}) {
      absl::StatusOr<std::unique_ptr<StateReader>> reader =
          from_file ? StateReader::Open(path) : StateReader::FromBytes(bytes);
      ASSERT_TRUE(reader.ok()) << reader.status();
      EXPECT_EQ((*reader)->num_policies(), 7u);
      absl::StatusOr<NightResult> streamed = Drain(std::move(reader));
      ASSERT_TRUE(streamed.ok()) << streamed.status();
      EXPECT_EQ(streamed->as_of, parsed->as_of);
      EXPECT_EQ(streamed->codes, parsed->codes);
      EXPECT_EQ(streamed->code_order, parsed->code_order);
      ASSERT_EQ(streamed->policies.size(), parsed->policies.size());
      for (size_t p = 0; p < parsed->policies.size(); ++p) {
        ExpectSamePolicy(streamed->policies[p], parsed->policies[p]);
        ExpectSamePolicy(streamed->policies[p], n.policies[p]);
      }
    }
  }
  EXPECT_EQ(StateReader::Open(path + ".missing").status().code(), absl::StatusCode::kNotFound);
  fs::remove(path);
}

TEST(StateStreamTest, ReaderRefusesTruncatedAndCorruptAsParseStateDoes) {
  std::mt19937 rng(10);
  const NightResult n = RandomNight(&rng, 40, 3);
  const std::string bytes = SerializeState(n);
  const std::string path = TempPath("state_stream_bad");
  // Every truncation (and the file of it): refused, with ParseState's error.
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::string bad = bytes.substr(0, cut);
    const absl::Status want = ParseState(bad).status();
    ASSERT_FALSE(want.ok()) << cut;
    EXPECT_EQ(Drain(StateReader::FromBytes(bad)).status(), want) << cut;
    if (cut % 37 == 0) {
      WriteFile(path, bad);
      EXPECT_EQ(Drain(StateReader::Open(path)).status(), want) << cut;
    }
  }
  // Every byte of the body changed, the checksum fixed up (the parser's own checks, not only the
  // checksum's): accepted or refused as ParseState does, with its error; an error comes from the
  // policy it is in (after the firms were given) or from the firms.
  int refused = 0, refused_while_streaming = 0;
  for (size_t at = 8; at + 8 < bytes.size(); ++at) {
    std::string bad = bytes.substr(0, bytes.size() - 8);
    bad[at] = static_cast<char>(bad[at] ^ (1 << (at % 8)));
    const uint64_t sum = Checksum64(bad);
    bad.append(reinterpret_cast<const char*>(&sum), 8);
    const absl::StatusOr<NightResult> want = ParseState(bad);
    absl::StatusOr<std::unique_ptr<StateReader>> reader = StateReader::FromBytes(bad);
    const bool opened = reader.ok();
    const absl::StatusOr<NightResult> got = Drain(std::move(reader));
    ASSERT_EQ(got.status(), want.status()) << at;
    if (!want.ok()) {
      ++refused;
      if (opened) ++refused_while_streaming;
    } else {
      EXPECT_EQ(SerializeState(*got), SerializeState(*want)) << at;
    }
    if (at % 53 == 0) {
      WriteFile(path, bad);
      EXPECT_EQ(Drain(StateReader::Open(path)).status(), want.status()) << at;
    }
  }
  EXPECT_GT(refused, 300);
  EXPECT_GT(refused_while_streaming, 200);
  // Bytes after the last policy.
  std::string trailing = bytes.substr(0, bytes.size() - 8) + "x";
  const uint64_t sum = Checksum64(trailing);
  trailing.append(reinterpret_cast<const char*>(&sum), 8);
  absl::StatusOr<NightResult> t = Drain(StateReader::FromBytes(trailing));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(t.status().message(), HasSubstr("trailing bytes"));
  fs::remove(path);
}

// A state file truncated by another program after it was opened (its checksum was right): the
// next policies are an error naming the file, not SIGBUS and not wrong policies.
TEST(StateStreamTest, ReaderOfAFileThatShrinksFailsNotCrashes) {
  std::mt19937 rng(11);
  const NightResult n = RandomNight(&rng, 60000, 8);
  const std::string bytes = SerializeState(n);
  ASSERT_GT(bytes.size(), size_t{1} << 20);
  const std::string path = TempPath("state_stream_shrink");
  WriteFile(path, bytes);
  absl::StatusOr<std::unique_ptr<StateReader>> reader = StateReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  PolicyNight p;
  absl::StatusOr<bool> more = (*reader)->Next(&p);
  ASSERT_TRUE(more.ok() && *more) << more.status();
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(bytes.size() / 2)), 0);
  absl::Status error;
  for (int i = 0; i < 8 && error.ok(); ++i) {
    more = (*reader)->Next(&p);
    if (!more.ok()) error = more.status();
  }
  EXPECT_EQ(error.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(error.message(), HasSubstr(path + ": the state file shrank while it was read"));
  reader->reset();
  fs::remove(path);
}

}  // namespace
}  // namespace polmatch
