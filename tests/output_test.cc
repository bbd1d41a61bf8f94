// Batch outputs: state round trip and corruption, summary/grants/pushes, --previous diffs, the
// streamed outputs equal to the in-memory formatting, and atomic replacement of the output
// directory under a kill.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "engine/output/night.h"
#include "engine/output/output_dir.h"
#include "engine/util/framing.h"
#include "engine/util/textproto.h"
#include "google/protobuf/util/json_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// ---- The in-memory formatting as it was before the outputs were streamed (one sorted vector of
// every push), kept as the reference the streamed pushes must equal byte for byte.

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

struct PushRow {
  uint32_t firm;       // current id, or previous id for firms gone tonight
  bool gone;           // the firm is not in tonight's registry
  uint32_t policy;     // index in `ids`
  MatchStatus status;
  std::optional<Decimal> benefit;
  Push::Change change;
  MatchStatus previous_status = STATUS_UNSPECIFIED;
  std::optional<Decimal> previous_benefit;
  Push::Reason reason = Push::REASON_UNSPECIFIED;
};

std::string LegacyPushesJsonl(const NightResult& night, const NightResult* previous) {
  std::vector<PushRow> rows;
  // Previous firm id of each current firm (-1 = new firm), and policy index maps by id.
  std::vector<int64_t> prev_of;
  std::vector<int64_t> gone_prev;  // previous ids of firms no longer registered
  std::vector<const PolicyNight*> prev_policy(night.policies.size(), nullptr);
  bool same_firms = false;
  if (previous != nullptr) {
    same_firms = previous->codes == night.codes;
    prev_of.assign(night.num_firms(), -1);
    // Merge the two registries in credit-code order.
    const auto& co = night.code_order;
    const auto& po = previous->code_order;
    size_t i = 0, j = 0;
    while (i < co.size() || j < po.size()) {
      if (j == po.size() || (i < co.size() && night.code(co[i]) < previous->code(po[j]))) {
        ++i;
      } else if (i == co.size() || previous->code(po[j]) < night.code(co[i])) {
        gone_prev.push_back(po[j++]);
      } else {
        prev_of[co[i++]] = po[j++];
      }
    }
    size_t k = 0;
    for (size_t p = 0; p < night.policies.size(); ++p) {
      while (k < previous->policies.size() && previous->policies[k].id < night.policies[p].id) ++k;
      if (k < previous->policies.size() && previous->policies[k].id == night.policies[p].id) {
        prev_policy[p] = &previous->policies[k];
      }
    }
  }
  // Policies: tonight's, plus (for revocations) last night's that are gone.
  std::vector<std::string> ids;
  for (const PolicyNight& p : night.policies) ids.push_back(p.id);
  for (size_t p = 0; p < night.policies.size(); ++p) {
    const PolicyNight& cur = night.policies[p];
    const PolicyNight* prev = prev_policy[p];
    if (prev != nullptr && same_firms && prev->benefits == cur.benefits) {
      bool same = true;
      for (MatchStatus s : kKeptStatuses) same = same && prev->by_status[s] == cur.by_status[s];
      if (same) continue;  // the steady-state fast path: nothing changed for this policy
    }
    Roaring pushable = cur.by_status[ELIGIBLE] | cur.by_status[NEAR_MISS] | cur.by_status[UNDETERMINED];
    for (uint32_t firm : pushable) {
      const MatchStatus status = cur.StatusOf(firm);
      const std::optional<Decimal> benefit = cur.BenefitOf(firm);
      Push::Change change = Push::NEW;
      MatchStatus before = STATUS_UNSPECIFIED;
      std::optional<Decimal> before_benefit;
      if (prev != nullptr && prev_of[firm] >= 0) {
        const uint32_t pf = static_cast<uint32_t>(prev_of[firm]);
        before = prev->StatusOf(pf);
        before_benefit = prev->BenefitOf(pf);
        if (IsPushable(before)) {
          if (before == status && before_benefit == benefit) continue;
          change = Push::CHANGED;
        }
      }
      if (change == Push::NEW) {
        rows.push_back({firm, false, static_cast<uint32_t>(p), status, benefit, change});
      } else {
        rows.push_back({firm, false, static_cast<uint32_t>(p), status, benefit, change, before, before_benefit});
      }
    }
    if (prev == nullptr) continue;
    // Revocations of firms still registered: pushable before, not now.
    Roaring prev_pushable = prev->by_status[ELIGIBLE] | prev->by_status[NEAR_MISS] | prev->by_status[UNDETERMINED];
    if (same_firms) {
      for (uint32_t firm : prev_pushable - pushable) {
        rows.push_back({firm, false, static_cast<uint32_t>(p), cur.StatusOf(firm), std::nullopt, Push::REVOKED,
                        prev->StatusOf(firm), prev->BenefitOf(firm), Push::CONDITION_LOST});
      }
    } else {
      for (size_t firm = 0; firm < prev_of.size(); ++firm) {
        if (prev_of[firm] >= 0 && prev_pushable.contains(static_cast<uint32_t>(prev_of[firm])) &&
            !pushable.contains(static_cast<uint32_t>(firm))) {
          const uint32_t pf = static_cast<uint32_t>(prev_of[firm]);
          rows.push_back({static_cast<uint32_t>(firm), false, static_cast<uint32_t>(p),
                          cur.StatusOf(static_cast<uint32_t>(firm)), std::nullopt, Push::REVOKED,
                          prev->StatusOf(pf), prev->BenefitOf(pf), Push::CONDITION_LOST});
        }
      }
    }
  }
  if (previous != nullptr) {
    // Policies withdrawn from the catalog, and firms gone from the registry: revoke their pushes.
    for (const PolicyNight& prev : previous->policies) {
      const auto tonight_end = ids.begin() + static_cast<std::ptrdiff_t>(night.policies.size());
      const bool withdrawn = !std::binary_search(ids.begin(), tonight_end, prev.id);
      Roaring prev_pushable = prev.by_status[ELIGIBLE] | prev.by_status[NEAR_MISS] | prev.by_status[UNDETERMINED];
      uint32_t pidx = 0;
      if (withdrawn) {
        pidx = static_cast<uint32_t>(ids.size());
        ids.push_back(prev.id);
        for (size_t firm = 0; firm < prev_of.size(); ++firm) {
          if (prev_of[firm] >= 0 && prev_pushable.contains(static_cast<uint32_t>(prev_of[firm]))) {
            const uint32_t pf = static_cast<uint32_t>(prev_of[firm]);
            rows.push_back({static_cast<uint32_t>(firm), false, pidx, INELIGIBLE, std::nullopt, Push::REVOKED,
                            prev.StatusOf(pf), prev.BenefitOf(pf), Push::POLICY_ENDED});
          }
        }
      } else {
        pidx = static_cast<uint32_t>(std::lower_bound(ids.begin(), tonight_end, prev.id) - ids.begin());
      }
      for (int64_t pf : gone_prev) {
        if (prev_pushable.contains(static_cast<uint32_t>(pf))) {
          rows.push_back({static_cast<uint32_t>(pf), true, pidx, INELIGIBLE, std::nullopt, Push::REVOKED,
                          prev.StatusOf(static_cast<uint32_t>(pf)), prev.BenefitOf(static_cast<uint32_t>(pf)),
                          Push::FIRM_GONE});
        }
      }
    }
  }
  auto code_of = [&](const PushRow& r) -> absl::string_view {
    return r.gone ? previous->code(r.firm) : night.code(r.firm);
  };
  std::sort(rows.begin(), rows.end(), [&](const PushRow& a, const PushRow& b) {
    const absl::string_view ca = code_of(a);
    const absl::string_view cb = code_of(b);
    if (ca != cb) return ca < cb;
    return ids[a.policy] < ids[b.policy];
  });
  std::string out;
  out.reserve(rows.size() * 110);
  for (const PushRow& r : rows) {
    out.append("{\"credit_code\":\"");
    const absl::string_view code = code_of(r);
    out.append(code.data(), code.size());
    out.append("\",\"policy\":");
    AppendJsonString(&out, ids[r.policy]);
    out.append(",\"status\":\"");
    out.append(MatchStatus_Name(r.status));
    out.append("\",\"benefit_yuan\":\"");
    if (r.benefit) out.append(FormatYuan(*r.benefit));
    out.append("\",\"change\":\"");
    out.append(Push::Change_Name(r.change));
    out.append("\"");
    if (!r.gone && !night.name(r.firm).empty()) {
      out.append(",\"name\":");
      AppendJsonString(&out, night.name(r.firm));
    }
    if (r.change != Push::NEW) {
      out.append(",\"previous_status\":\"");
      out.append(MatchStatus_Name(r.previous_status));
      out.append("\",\"previous_benefit_yuan\":\"");
      if (r.previous_benefit) out.append(FormatYuan(*r.previous_benefit));
      out.append("\"");
    }
    if (r.change == Push::REVOKED) {
      out.append(",\"reason\":\"");
      out.append(Push::Reason_Name(r.reason));
      out.append("\"");
    }
    out.append("}\n");
  }
  return out;
}


// A night of `codes` × `ids` with random outcomes (benefits for the eligible ones, mostly).
NightResult RandomNight(std::mt19937* rng, const std::vector<std::string>& codes,
                        const std::vector<std::string>& ids, int change_percent,
                        const NightResult* base = nullptr) {
  std::vector<bool> auto_grant;
  for (size_t p = 0; p < ids.size(); ++p) auto_grant.push_back(p % 3 == 0);
  NightBuilder b("2023-06-30", ids, auto_grant);
  for (size_t p = 3; p < ids.size(); p += 6) b.SetListed(p, "纳入名录库,\"培育\"");
  std::uniform_int_distribution<int> pct(0, 99);
  const MatchStatus statuses[] = {ELIGIBLE, UNDETERMINED, NEAR_MISS, INELIGIBLE, INELIGIBLE, EXCLUDED, NOT_SELECTED};
  for (const std::string& code : codes) {
    const uint32_t id = b.AddFirm(code, "n" + code.substr(10));
    for (size_t p = 0; p < ids.size(); ++p) {
      Outcome o;
      std::optional<uint32_t> before;
      if (base != nullptr && pct(*rng) >= change_percent) {
        // Keep last night's outcome of this firm and policy, if both existed.
        for (uint32_t f = 0; f < base->num_firms() && !before; ++f) {
          if (base->code(f) == code) before = f;
        }
        for (const PolicyNight& bp : base->policies) {
          if (bp.id == ids[p] && before) {
            o.status = bp.StatusOf(*before);
            o.benefit = bp.BenefitOf(*before);
          }
        }
        if (o.status != STATUS_UNSPECIFIED) {
          b.Set(id, p, o);
          continue;
        }
      }
      o.status = statuses[pct(*rng) % 7];
      if ((o.status == ELIGIBLE || o.status == EXCLUDED || o.status == NOT_SELECTED) && pct(*rng) < 70) {
        // Whole fen (the usual case, including 0 and large amounts) and odd amounts.
        const int64_t x = pct(*rng);
        o.benefit = Decimal::FromRawUnchecked(x % 3 == 0 ? x * 1234567
                                              : x % 3 == 1 ? x * x * x * x * 10000 * 1237
                                                           : (x % 10) * 10000);
      }
      b.Set(id, p, o);
    }
  }
  return std::move(b).Finish();
}

std::string Code(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "9144%012dX%d", (i * 7919) % 100000, i % 10);
  return std::string(buf).substr(0, 18);
}

std::string Streamed(const NightResult& night, const NightResult* previous, size_t chunk, int threads,
                     uint64_t group_pushes = uint64_t{1} << 26) {
  std::string out;
  StringSink sink(&out);
  StreamOptions o;
  o.chunk = chunk;
  o.threads = threads;
  o.group_pushes = group_pushes;
  EXPECT_TRUE(WritePushesJsonl(night, previous, &sink, o).ok());
  return out;
}

Outcome O(MatchStatus s, const char* benefit = nullptr) {
  Outcome o;
  o.status = s;
  if (benefit) o.benefit = *Decimal::Parse(benefit);
  return o;
}

// Three firms × two policies; `changes` lets a test alter one outcome.
NightResult MakeNight(const std::vector<std::vector<Outcome>>& outcomes,
                      std::vector<std::string> codes = {"91440000000000001A", "91440000000000002B",
                                                        "91440000000000003C"}) {
  // Policies in id order: p.apply (index 0), p.auto (index 1); outcomes[f] = {auto, apply}.
  NightBuilder b("2023-06-30", {"p.apply", "p.auto"}, {false, true});
  for (size_t f = 0; f < codes.size(); ++f) {
    uint32_t id = b.AddFirm(codes[f], "企业\"" + std::to_string(f) + ",有限公司");
    b.Set(id, 0, outcomes[f][1]);
    b.Set(id, 1, outcomes[f][0]);
  }
  return std::move(b).Finish();
}

std::vector<std::vector<Outcome>> Base() {
  return {{O(ELIGIBLE, "2000000.00"), O(NEAR_MISS)},
          {O(UNDETERMINED), O(ELIGIBLE)},
          {O(INELIGIBLE), O(EXCLUDED, "5.00")}};
}

TEST(OutputTest, StateRoundTrips) {
  NightResult n = MakeNight(Base());
  std::string bytes = SerializeState(n);
  absl::StatusOr<NightResult> back = ParseState(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->as_of, "2023-06-30");
  EXPECT_EQ(back->codes, n.codes);
  EXPECT_EQ(back->code_order, n.code_order);
  ASSERT_EQ(back->policies.size(), 2u);
  for (size_t p = 0; p < 2; ++p) {
    EXPECT_EQ(back->policies[p].id, n.policies[p].id);
    EXPECT_EQ(back->policies[p].auto_grant, n.policies[p].auto_grant);
    EXPECT_EQ(back->policies[p].benefits, n.policies[p].benefits);
    for (uint32_t f = 0; f < 3; ++f) EXPECT_EQ(back->policies[p].StatusOf(f), n.policies[p].StatusOf(f));
  }
  EXPECT_EQ(SerializeState(*back), bytes);  // byte-identical
}

TEST(OutputTest, CorruptStateIsRefused) {
  std::string bytes = SerializeState(MakeNight(Base()));
  EXPECT_FALSE(ParseState("").ok());
  EXPECT_FALSE(ParseState("hello world, not a state").ok());
  for (size_t cut : {size_t{9}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_EQ(ParseState(bytes.substr(0, cut)).status().code(), absl::StatusCode::kDataLoss) << cut;
  }
  for (size_t i = 8; i < bytes.size(); i += 7) {
    std::string flipped = bytes;
    flipped[i] ^= 0x20;
    EXPECT_FALSE(ParseState(flipped).ok()) << i;
  }
}

TEST(OutputTest, SummaryGrantsAndPushes) {
  NightResult n = MakeNight(Base());
  BatchSummary s = Summarize(n);
  EXPECT_EQ(s.firms(), 3);
  EXPECT_EQ(s.policies(1).policy(), "p.auto");
  EXPECT_EQ(s.policies(1).eligible(), 1);
  EXPECT_EQ(s.policies(1).undetermined(), 1);
  EXPECT_EQ(s.policies(1).auto_granted(), 1);
  EXPECT_EQ(s.policies(1).benefit_total_yuan(), "2000000.00");
  EXPECT_EQ(s.policies(0).near_miss(), 1);
  EXPECT_EQ(s.policies(0).excluded(), 1);
  EXPECT_EQ(s.policies(0).auto_granted(), 0);
  EXPECT_EQ(s.policies(0).benefit_total_yuan(), "0.00");  // the excluded firm's 5.00 is not granted
  EXPECT_THAT(SummaryJson(n), HasSubstr("\"benefit_total_yuan\": \"2000000.00\""));

  EXPECT_EQ(GrantsCsv(n),
            "policy_id,credit_code,name,benefit_yuan\n"
            "p.auto,91440000000000001A,\"企业\"\"0,有限公司\",2000000.00\n");

  const std::string pushes = PushesJsonl(n, nullptr);
  EXPECT_EQ(pushes,
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.apply\",\"status\":\"NEAR_MISS\",\"benefit_yuan\":\"\",\"change\":\"NEW\",\"name\":\"企业\\\"0,有限公司\"}\n"
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.auto\",\"status\":\"ELIGIBLE\",\"benefit_yuan\":\"2000000.00\",\"change\":\"NEW\",\"name\":\"企业\\\"0,有限公司\"}\n"
            "{\"credit_code\":\"91440000000000002B\",\"policy\":\"p.apply\",\"status\":\"ELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"NEW\",\"name\":\"企业\\\"1,有限公司\"}\n"
            "{\"credit_code\":\"91440000000000002B\",\"policy\":\"p.auto\",\"status\":\"UNDETERMINED\",\"benefit_yuan\":\"\",\"change\":\"NEW\",\"name\":\"企业\\\"1,有限公司\"}\n");
  // Each line is the protobuf JSON mapping of polmatch.Push.
  std::istringstream lines(pushes);
  for (std::string line; std::getline(lines, line);) {
    Push p;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &p).ok()) << line;
  }
}

// SPEC §5: grants.csv holds only known, positive amounts; an AUTO_GRANT policy that states no
// amount is a list (lists.csv with its benefit_note); APPLY policies are in neither.
TEST(OutputTest, GrantsArePositiveAmountsAndListsHaveNoAmount) {
  NightBuilder b("2023-06-30", {"a.apply", "b.grant", "c.list"}, {false, true, true});
  b.SetListed(2, "纳入培育名录库,加大\"指导\"");
  // Added out of credit-code order: both files are sorted by policy id, then credit code.
  const std::vector<std::pair<std::string, const char*>> firms = {
      {"91440000000000003C", "0.01"}, {"91440000000000001A", "0.00"}, {"91440000000000002B", "1000000.00"},
      {"91440000000000004D", nullptr}};
  for (const auto& [code, amount] : firms) {
    const uint32_t id = b.AddFirm(code, "企业" + code.substr(17));
    b.Set(id, 0, O(ELIGIBLE, "5.00"));
    b.Set(id, 1, amount ? O(ELIGIBLE, amount) : O(UNDETERMINED));
    b.Set(id, 2, code.back() == 'C' ? O(NEAR_MISS) : O(ELIGIBLE));
  }
  const NightResult n = std::move(b).Finish();
  EXPECT_EQ(GrantsCsv(n),
            "policy_id,credit_code,name,benefit_yuan\n"
            "b.grant,91440000000000002B,企业B,1000000.00\n"
            "b.grant,91440000000000003C,企业C,0.01\n");
  EXPECT_EQ(ListsCsv(n),
            "policy_id,credit_code,name,benefit_note\n"
            "c.list,91440000000000001A,企业A,\"纳入培育名录库,加大\"\"指导\"\"\"\n"
            "c.list,91440000000000002B,企业B,\"纳入培育名录库,加大\"\"指导\"\"\"\n"
            "c.list,91440000000000004D,企业D,\"纳入培育名录库,加大\"\"指导\"\"\"\n");
  // The summary is unchanged by the split: every ELIGIBLE firm of an AUTO_GRANT policy counts.
  const BatchSummary s = Summarize(n);
  EXPECT_EQ(s.policies(1).auto_granted(), 3);
  EXPECT_EQ(s.policies(1).benefit_total_yuan(), "1000000.01");
  EXPECT_EQ(s.policies(2).auto_granted(), 3);
  // No AUTO_GRANT policy without an amount: lists.csv is the header alone.
  EXPECT_EQ(ListsCsv(MakeNight(Base())), "policy_id,credit_code,name,benefit_note\n");
}

TEST(OutputTest, UnchangedNightPushesNothing) {
  NightResult a = MakeNight(Base());
  NightResult b = MakeNight(Base());
  EXPECT_EQ(PushesJsonl(b, &a), "");
}

TEST(OutputTest, OneChangedFirmPushesOnlyThatFirm) {
  NightResult a = MakeNight(Base());
  auto changed = Base();
  changed[0][0] = O(ELIGIBLE, "1000000.00");   // amount changed
  changed[1][1] = O(INELIGIBLE);               // revoked
  changed[2][0] = O(NEAR_MISS);                // new
  NightResult b = MakeNight(changed);
  EXPECT_EQ(PushesJsonl(b, &a),
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.auto\",\"status\":\"ELIGIBLE\",\"benefit_yuan\":\"1000000.00\",\"change\":\"CHANGED\",\"name\":\"企业\\\"0,有限公司\",\"previous_status\":\"ELIGIBLE\",\"previous_benefit_yuan\":\"2000000.00\"}\n"
            "{\"credit_code\":\"91440000000000002B\",\"policy\":\"p.apply\",\"status\":\"INELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"REVOKED\",\"name\":\"企业\\\"1,有限公司\",\"previous_status\":\"ELIGIBLE\",\"previous_benefit_yuan\":\"\",\"reason\":\"CONDITION_LOST\"}\n"
            "{\"credit_code\":\"91440000000000003C\",\"policy\":\"p.auto\",\"status\":\"NEAR_MISS\",\"benefit_yuan\":\"\",\"change\":\"NEW\",\"name\":\"企业\\\"2,有限公司\"}\n");
}

TEST(OutputTest, FirmsAndPoliciesComeAndGo) {
  NightResult a = MakeNight(Base());
  // Tonight: firm 1A gone, a new firm 4D; same outcomes otherwise.
  auto outcomes = Base();
  outcomes[0] = {O(ELIGIBLE, "7.00"), O(INELIGIBLE)};
  NightResult b = MakeNight({outcomes[1], outcomes[2], outcomes[0]},
                            {"91440000000000002B", "91440000000000003C", "91440000000000004D"});
  EXPECT_EQ(PushesJsonl(b, &a),
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.apply\",\"status\":\"INELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"REVOKED\",\"previous_status\":\"NEAR_MISS\",\"previous_benefit_yuan\":\"\",\"reason\":\"FIRM_GONE\"}\n"
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.auto\",\"status\":\"INELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"REVOKED\",\"previous_status\":\"ELIGIBLE\",\"previous_benefit_yuan\":\"2000000.00\",\"reason\":\"FIRM_GONE\"}\n"
            "{\"credit_code\":\"91440000000000004D\",\"policy\":\"p.auto\",\"status\":\"ELIGIBLE\",\"benefit_yuan\":\"7.00\",\"change\":\"NEW\",\"name\":\"企业\\\"2,有限公司\"}\n");
  // A withdrawn policy revokes its pushes.
  NightBuilder nb("2023-07-01", {"p.auto"}, {true});
  for (size_t f = 0; f < 3; ++f) nb.Set(nb.AddFirm(std::string(a.code(f)), ""), 0, Base()[f][0]);
  NightResult c = std::move(nb).Finish();
  EXPECT_EQ(PushesJsonl(c, &a),
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.apply\",\"status\":\"INELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"REVOKED\",\"previous_status\":\"NEAR_MISS\",\"previous_benefit_yuan\":\"\",\"reason\":\"POLICY_ENDED\"}\n"
            "{\"credit_code\":\"91440000000000002B\",\"policy\":\"p.apply\",\"status\":\"INELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"REVOKED\",\"previous_status\":\"ELIGIBLE\",\"previous_benefit_yuan\":\"\",\"reason\":\"POLICY_ENDED\"}\n");
}

std::string Slurp(const fs::path& p) { return *ReadFileToString(p.string()); }

// The output sets of these tests: their own kind of directory.
const OutputDirKind& TestKind() {
  static const OutputDirKind* const kind =
      new OutputDirKind{"polmatch test set", {"a.txt", "b.txt", "c.txt", "big.txt", "a", "b", "c", "d", "e"}, "a.txt"};
  return *kind;
}

TEST(OutputDirTest, ReplacesAtomicallyEvenWhenKilled) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("atomic_out_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(WriteDirectoryAtomically(dir.string(), {{"a.txt", "old a"}, {"b.txt", "old b"}}, {}, TestKind()).ok());
  EXPECT_EQ(Slurp(dir / "a.txt"), "old a");
  // A writer killed after its first file: the old set stays complete.
  for (int kill_after = 1; kill_after <= 2; ++kill_after) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int written = 0;
      (void)WriteDirectoryAtomically(dir.string(), {{"a.txt", "new a"}, {"b.txt", "new b"}},
                                     [&](const std::string&) {
                                       if (++written == kill_after) _exit(9);
                                     }, TestKind());
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 9);
    EXPECT_EQ(Slurp(dir / "a.txt"), "old a");
    EXPECT_EQ(Slurp(dir / "b.txt"), "old b");
  }
  ASSERT_TRUE(WriteDirectoryAtomically(dir.string(), {{"a.txt", "new a"}, {"c.txt", "new c"}}, {}, TestKind()).ok());
  EXPECT_EQ(Slurp(dir / "a.txt"), "new a");
  EXPECT_EQ(Slurp(dir / "c.txt"), "new c");
  EXPECT_FALSE(fs::exists(dir / "b.txt"));  // exactly the new set
}


// Streamed in small chunks, on 1 or 2 threads, in one pass or in groups, the pushes equal the in-memory formatting: first
// nights, unchanged nights, changed outcomes, firms and policies coming and going.
TEST(OutputTest, StreamedPushesEqualInMemoryFormatting) {
  std::mt19937 rng(7);
  std::vector<std::string> codes, codes2;
  for (int i = 0; i < 3000; ++i) codes.push_back(Code(i));
  for (int i = 200; i < 3300; ++i) codes2.push_back(Code(i));  // 200 gone, 300 new
  std::vector<std::string> ids = {"a.1", "a.2", "b", "c.x", "d\"q\"", "e"};
  std::vector<std::string> ids2 = {"a.2", "b", "c.w", "c.x", "d\"q\"", "f"};  // withdrawn, new
  const NightResult n1 = RandomNight(&rng, codes, ids, 100);
  const NightResult same = RandomNight(&rng, codes, ids, 0, &n1);
  const NightResult some = RandomNight(&rng, codes, ids, 3, &n1);
  const NightResult moved = RandomNight(&rng, codes2, ids2, 5, &n1);
  const NightResult moved_same_ids = RandomNight(&rng, codes2, ids, 5, &n1);
  struct Case { const NightResult* night; const NightResult* previous; };
  for (Case c : {Case{&n1, nullptr}, Case{&same, &n1}, Case{&some, &n1}, Case{&moved, &n1},
                 Case{&n1, &moved}, Case{&moved_same_ids, &n1}, Case{&n1, &n1}}) {
    const std::string want = LegacyPushesJsonl(*c.night, c.previous);
    EXPECT_EQ(PushesJsonl(*c.night, c.previous), want);
    EXPECT_EQ(Streamed(*c.night, c.previous, 100, 2), want);
    EXPECT_EQ(Streamed(*c.night, c.previous, 1, 1), want);
    // In several passes over groups of credit codes (bounded memory).
    EXPECT_EQ(Streamed(*c.night, c.previous, 4096, 2, 1000), want);
    EXPECT_EQ(Streamed(*c.night, c.previous, 4096, 1, 1), want);
  }
  EXPECT_GT(LegacyPushesJsonl(n1, nullptr).size(), 100000u);
  EXPECT_EQ(PushesJsonl(same, &n1), "");
}

TEST(OutputTest, StreamedStateAndGrantsEqualInMemory) {
  std::mt19937 rng(11);
  std::vector<std::string> codes;
  for (int i = 0; i < 2000; ++i) codes.push_back(Code(i));
  const NightResult n = RandomNight(&rng, codes, {"p1", "p2", "p3", "p,4"}, 100);
  const std::string state = SerializeState(n);
  const std::string grants = GrantsCsv(n);
  const std::string lists = ListsCsv(n);
  EXPECT_GT(grants.size(), 5000u);
  EXPECT_GT(lists.size(), 5000u);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{4096}}) {
    StreamOptions o;
    o.chunk = chunk;
    std::string s, g, l;
    StringSink ss(&s), gs(&g), ls(&l);
    ASSERT_TRUE(WriteState(n, &ss, o).ok());
    ASSERT_TRUE(WriteGrantsCsv(n, &gs, o).ok());
    ASSERT_TRUE(WriteListsCsv(n, &ls, o).ok());
    EXPECT_EQ(s, state);
    EXPECT_EQ(g, grants);
    EXPECT_EQ(l, lists);
  }
  absl::StatusOr<NightResult> back = ParseState(state);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(SerializeState(*back), state);
  // From a file (mapped, checksummed and parsed in windows): the same night, the same errors.
  const fs::path file = fs::path(::testing::TempDir()) / ("state_" + std::to_string(::getpid()));
  auto write = [&](const std::string& bytes) { std::ofstream(file, std::ios::binary) << bytes; };
  write(state);
  absl::StatusOr<NightResult> read = ReadStateFile(file.string());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(SerializeState(*read), state);
  for (const std::string& bad : {std::string(), std::string("garbage"), state.substr(0, state.size() / 2),
                                 state.substr(0, state.size() - 1) + "x", "PMSTATE\n" + state.substr(8, 20)}) {
    write(bad);
    absl::StatusOr<NightResult> r = ReadStateFile(file.string());
    EXPECT_EQ(r.status(), ParseState(bad).status());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  }
  EXPECT_EQ(ReadStateFile((file.string() + ".missing")).status().code(), absl::StatusCode::kNotFound);
  fs::remove(file);
}

TEST(OutputTest, ChecksumStreamEqualsChecksum) {
  std::string data;
  std::mt19937 rng(3);
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(rng()));
  for (size_t len : {0, 1, 7, 8, 31, 32, 33, 64, 100, 999, 1000}) {
    const absl::string_view d = absl::string_view(data).substr(0, len);
    for (size_t piece : {1, 3, 32, 50, 2000}) {
      Checksum64Stream s;
      for (size_t at = 0; at < d.size(); at += piece) s.Update(d.substr(at, piece));
      EXPECT_EQ(s.Finish(), Checksum64(d)) << len << " " << piece;
    }
  }
}

TEST(OutputDirTest, StreamedFilesAndAbandonedWrites) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("stream_out_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(WriteDirectoryAtomically(dir.string(), {{"a.txt", "old a"}}, {}, TestKind()).ok());
  {
    // A failed fill, and a writer dropped without Commit: the old set stays, no temporary left.
    absl::StatusOr<std::unique_ptr<AtomicOutputDir>> out = AtomicOutputDir::Create(dir.string(), TestKind());
    ASSERT_TRUE(out.ok());
    EXPECT_FALSE((*out)->WriteFile("a.txt", [](ByteSink* sink) {
                   (void)sink->Write("partial");
                   return absl::InternalError("boom");
                 }).ok());
  }
  EXPECT_EQ(Slurp(dir / "a.txt"), "old a");
  for (const auto& e : fs::directory_iterator(dir.parent_path())) {
    EXPECT_EQ(e.path().filename().string().find(".stream_out_"), std::string::npos) << e.path();
  }
  absl::StatusOr<std::unique_ptr<AtomicOutputDir>> out = AtomicOutputDir::Create(dir.string(), TestKind());
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)->WriteFile("big.txt", [](ByteSink* sink) {
                      ChunkedWriter w(sink, 1000);
                      for (int i = 0; i < 100000; ++i) {
                        w.buf().append(std::to_string(i)).push_back('\n');
                        if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
                      }
                      return w.Flush();
                    }).ok());
  ASSERT_TRUE((*out)->Commit().ok());
  std::string want;
  for (int i = 0; i < 100000; ++i) want.append(std::to_string(i)).push_back('\n');
  EXPECT_EQ(Slurp(dir / "big.txt"), want);
  EXPECT_FALSE(fs::exists(dir / "a.txt"));
}


TEST(OutputDirTest, FilesSameAsLastRunAreLinkedOthersWritten) {
  const fs::path base = fs::path(::testing::TempDir()) / ("same_as_" + std::to_string(::getpid()));
  fs::remove_all(base);
  std::string big;
  for (int i = 0; i < 300000; ++i) big.append(std::to_string(i)).push_back('\n');
  ASSERT_TRUE(WriteDirectoryAtomically((base / "n1").string(), {{"a", big}, {"b", big}, {"c", big}, {"d", big}}, {}, TestKind()).ok());
  std::string changed = big;
  changed[big.size() / 2] = 'x';
  const std::map<std::string, std::string> want = {
      {"a", big}, {"b", changed}, {"c", big.substr(0, big.size() - 5)}, {"d", big + "more"}, {"e", "new"}};
  absl::StatusOr<std::unique_ptr<AtomicOutputDir>> out = AtomicOutputDir::Create((base / "n2").string(), TestKind());
  ASSERT_TRUE(out.ok());
  for (const auto& [name, contents] : want) {
    ASSERT_TRUE((*out)->WriteFile(name, [&, c = contents](ByteSink* sink) {
                      ChunkedWriter w(sink, 65536);
                      for (size_t at = 0; at < c.size(); at += 1000) {
                        w.buf().append(c.substr(at, 1000));
                        if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
                      }
                      return w.Flush();
                    }, (base / "n1" / name).string()).ok());
  }
  ASSERT_TRUE((*out)->Commit().ok());
  for (const auto& [name, contents] : want) EXPECT_EQ(Slurp(base / "n2" / name), contents) << name;
  EXPECT_TRUE(fs::equivalent(base / "n1/a", base / "n2/a"));  // linked, not written
  EXPECT_FALSE(fs::equivalent(base / "n1/b", base / "n2/b"));
  EXPECT_EQ(Slurp(base / "n1/b"), big);
  fs::remove_all(base);
}

}  // namespace
}  // namespace polmatch
