// polmatch reserve: reserve lists (后备库) — the firms one condition away from a policy.
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/analysis/catalog_edit.h"
#include "engine/analysis/reserve.h"
#include "engine/match/bulk_matcher.h"
#include "engine/util/dates.h"
#include "tools/cli.h"
#include "tools/json_writer.h"

namespace polmatch::cli {
namespace {

int Threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

// At most `max_chars` characters of `text` (UTF-8), with "…" when cut: a summary line stays
// readable when a condition is a whole scoring formula.
std::string Abbreviate(const std::string& text, size_t max_chars = 100) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars++ == max_chars) return text.substr(0, i) + "…";
  }
  return text;
}

void EntryJson(JsonWriter& j, const ReserveEntry& e) {
  j.BeginObject();
  j.Key("credit_code").String(e.credit_code);
  j.Key("name").String(e.name);
  j.Key("region").String(e.region);
  j.Key("condition").String(e.condition_text);
  if (e.gap) {
    j.Key("subject").String(e.gap->subject);
    j.Key("value").String(e.gap->value.ToString());
    j.Key("threshold").String(e.gap->threshold.ToString());
    j.Key("gap").String(e.gap->gap.ToString());
    j.Key("relative_gap").String(e.gap->relative.ToString());
    j.Key("gap_text").String(e.gap->ToString());
  }
  j.Key("detail").String(e.data);
  j.EndObject();
}

int ListOnePolicy(const Catalog& catalog, const FirmStore& store, const std::string& id,
                  absl::CivilDay as_of, int64_t limit, bool json) {
  const CompiledPolicy* policy = catalog.Find(id);
  if (policy == nullptr) {
    PrintError(absl::StrCat("unknown policy ", id));
    return kProblems;
  }
  // Near misses do not depend on groups or limits: match this one policy only.
  Diagnostics diags;
  absl::StatusOr<Catalog> one = SelectPolicies(catalog, {id}, &diags);
  if (!one.ok()) {
    PrintError(std::string(one.status().message()));
    return kProblems;
  }
  absl::StatusOr<BulkMatcher> matcher = BulkMatcher::Create(*one, store);
  if (!matcher.ok()) {
    PrintError(std::string(matcher.status().message()));
    return kProblems;
  }
  const BulkResult result = matcher->Match(as_of, Threads());
  const std::vector<ReserveEntry> entries = BuildReserveList(
      one->policies()[0], catalog.taxonomy(), store, result.policy(0).near_miss, as_of);
  const size_t shown = limit > 0 ? std::min<size_t>(entries.size(), limit) : entries.size();
  if (json) {
    JsonWriter j;
    j.BeginObject();
    j.Key("policy").String(id);
    j.Key("title").String(policy->policy.title());
    j.Key("as_of").String(FormatDate(as_of));
    j.Key("firms").Int(store.num_rows());
    j.Key("near_miss").Int(static_cast<int64_t>(entries.size()));
    j.Key("reserve").BeginArray();
    for (size_t i = 0; i < shown; ++i) EntryJson(j, entries[i]);
    j.EndArray();
    j.EndObject();
    std::cout << j.str() << "\n";
    return kOk;
  }
  std::cout << "后备库 " << id << "  " << policy->policy.title() << "  (as of " << FormatDate(as_of)
            << ")\n"
            << entries.size() << " firm(s) of " << store.num_rows()
            << " miss exactly one condition; closest first\n";
  for (size_t i = 0; i < shown; ++i) {
    const ReserveEntry& e = entries[i];
    std::cout << "\n" << (i + 1) << ". " << e.credit_code << "  " << e.name << "  "
              << e.region << " " << catalog.taxonomy().RegionName(e.region) << "\n"
              << "   misses `" << e.condition_text << "`\n"
              << "   " << (e.gap ? e.gap->ToString() : e.data) << "\n";
  }
  if (shown < entries.size()) {
    std::cout << "\n… " << entries.size() - shown << " more (--limit 0 lists all)\n";
  }
  return kOk;
}

int SummarizeAll(const Catalog& catalog, const FirmStore& store, absl::CivilDay as_of, bool json) {
  absl::StatusOr<BulkMatcher> matcher = BulkMatcher::Create(catalog, store);
  if (!matcher.ok()) {
    PrintError(std::string(matcher.status().message()));
    return kProblems;
  }
  const BulkResult result = matcher->Match(as_of, Threads());
  const std::vector<ReserveSummary> summaries = SummarizeReserves(catalog, store, result, as_of);
  if (json) {
    JsonWriter j;
    j.BeginObject();
    j.Key("as_of").String(FormatDate(as_of));
    j.Key("firms").Int(store.num_rows());
    j.Key("policies").BeginArray();
    for (const ReserveSummary& s : summaries) {
      j.BeginObject();
      j.Key("policy").String(catalog.policies()[s.policy].id());
      j.Key("near_miss").Int(s.near_miss);
      j.Key("by_condition").BeginArray();
      for (const auto& [text, count] : s.by_condition) {
        j.BeginObject().Key("condition").String(text).Key("firms").Int(count).EndObject();
      }
      j.EndArray();
      j.EndObject();
    }
    j.EndArray();
    j.EndObject();
    std::cout << j.str() << "\n";
    return kOk;
  }
  std::cout << "near misses per policy (as of " << FormatDate(as_of) << ", " << store.num_rows()
            << " firms); `polmatch reserve --policy ID` lists the firms\n";
  for (const ReserveSummary& s : summaries) {
    if (s.near_miss == 0) continue;
    const CompiledPolicy& p = catalog.policies()[s.policy];
    std::cout << "\n" << s.near_miss << "  " << p.id() << "  " << p.policy.title() << "\n";
    for (const auto& [text, count] : s.by_condition) {
      std::cout << "      " << count << " miss `" << Abbreviate(text) << "`\n";
    }
  }
  return kOk;
}

}  // namespace

int RunReserve(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("rules", po::value<std::string>()->required(), "rules directory (taxonomy/, policies/)");
  AddRegistryOptions(options);
  options.add_options()
      ("policy", po::value<std::string>(), "the policy whose reserve list to print (without it: counts per policy)")
      ("as-of", po::value<std::string>(), "evaluation date YYYY-MM-DD (default: today)")
      ("limit", po::value<std::string>(), "list at most N firms (default 50; 0 = all)")
      ("json", "print one JSON object instead of text");
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv,
          "polmatch reserve --rules DIR (--snapshot S | --firms F…) [--policy ID] [--as-of DATE] [--limit N] [--json]",
          "Reserve lists (后备库): the firms that miss exactly one actionable condition of a policy\n"
          "(its NEAR_MISS firms), each with the condition missed and, when it compares numbers,\n"
          "the gap (\"年营业收入 9,000,000 < 10,000,000 (gap 1,000,000)\"). Closest first: by\n"
          "relative gap, then misses that are not numbers (a tag to obtain). Without --policy:\n"
          "the number of near misses of every policy, by condition missed (summary.json of\n"
          "`polmatch batch` has the same counts as \"near_miss\").\n"
          "Exit 0 listed, 1 unknown policy or invalid rules, 2 bad usage or unreadable input.\n\n"
          "example: polmatch reserve --rules rules --snapshot out/demo/registry.snap \\\n"
          "           --policy shanwei-2021.3.2.2-it-service-cultivation-library --as-of 2021-06-30",
          options, {}, vm)) {
    return *exit;
  }
  const std::optional<int64_t> limit = IntOption(vm, "limit", 0, int64_t{1} << 40, 50);
  if (!limit) return kUsage;
  int exit_code = kOk;
  std::optional<Catalog> catalog = LoadRules(vm["rules"].as<std::string>(), &exit_code);
  if (!catalog) return exit_code;
  std::optional<absl::CivilDay> as_of = AsOfOption(vm);
  if (!as_of) return kUsage;
  if (vm.count("policy") && catalog->Find(vm["policy"].as<std::string>()) == nullptr) {
    PrintError(absl::StrCat("unknown policy ", vm["policy"].as<std::string>()));
    return kProblems;
  }
  std::optional<FirmStore> store = LoadRegistry(vm, catalog->taxonomy(), &exit_code);
  if (!store) return exit_code;
  const bool json = vm.count("json") > 0;
  if (vm.count("policy")) {
    return ListOnePolicy(*catalog, *store, vm["policy"].as<std::string>(), *as_of,
                         *limit, json);
  }
  return SummarizeAll(*catalog, *store, *as_of, json);
}

}  // namespace polmatch::cli
