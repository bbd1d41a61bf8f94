// polmatch simulate: what-if simulation of a policy reform over the whole registry.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/analysis/catalog_edit.h"
#include "engine/analysis/simulate.h"
#include "engine/util/dates.h"
#include "tools/cli.h"
#include "tools/json_writer.h"

namespace polmatch::cli {
namespace {

std::string Yuan(const YuanTotal& t) { return WithThousands(t.ToFixed2()); }

std::string Signed(const YuanTotal& t) {
  const std::string s = Yuan(t);
  return t.raw() > 0 ? "+" + s : s;
}

void CountsJson(JsonWriter& j, const SimulationCounts& c) {
  j.Key("newly_eligible").Int(c.newly_eligible);
  j.Key("newly_ineligible").Int(c.newly_ineligible);
  j.Key("unchanged").Int(c.unchanged);
  j.Key("amount_changed").Int(c.amount_changed);
  j.Key("benefit_before_yuan").String(c.benefit_before.ToFixed2());
  j.Key("benefit_after_yuan").String(c.benefit_after.ToFixed2());
  j.Key("benefit_delta_yuan").String(c.delta().ToFixed2());
}

void RowsJson(JsonWriter& j, const char* key, const std::vector<SimulationRow>& rows) {
  j.Key(key).BeginArray();
  for (const SimulationRow& r : rows) {
    j.BeginObject();
    j.Key("key").String(r.key);
    j.Key("label").String(r.label);
    CountsJson(j, r.counts);
    j.EndObject();
  }
  j.EndArray();
}

constexpr char kHeader[] =
    "      newly+      newly−   unchanged   amount≠       benefit before        benefit after"
    "                delta  ";

void PrintRow(const SimulationCounts& c, const std::string& label) {
  std::cout << absl::StrFormat("%12d%12d%12d%10d%21s%21s%21s  %s\n", c.newly_eligible,
                               c.newly_ineligible, c.unchanged, c.amount_changed,
                               Yuan(c.benefit_before), Yuan(c.benefit_after), Signed(c.delta()),
                               label);
}

// Rows with a change first, largest |delta| then most pairs changed; at most `top` of them.
void PrintRows(const char* title, std::vector<SimulationRow> rows, size_t top, bool sort) {
  std::cout << "\nby " << title << "\n";
  if (sort) {
    auto magnitude = [](const SimulationCounts& c) {
      const __int128 d = c.delta().raw();
      return d < 0 ? -d : d;
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const SimulationRow& a, const SimulationRow& b) {
      if (magnitude(a.counts) != magnitude(b.counts)) return magnitude(a.counts) > magnitude(b.counts);
      const int64_t ca = a.counts.newly_eligible + a.counts.newly_ineligible + a.counts.amount_changed;
      const int64_t cb = b.counts.newly_eligible + b.counts.newly_ineligible + b.counts.amount_changed;
      return ca > cb;
    });
  }
  const size_t shown = top > 0 ? std::min(top, rows.size()) : rows.size();
  for (size_t i = 0; i < shown; ++i) PrintRow(rows[i].counts, absl::StrCat(rows[i].key, " ", rows[i].label));
  if (shown < rows.size()) std::cout << "      … " << rows.size() - shown << " more (--top 0 lists all; --json has all)\n";
}

}  // namespace

int RunSimulate(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("rules", po::value<std::string>()->required(), "rules directory (the baseline catalog)");
  AddRegistryOptions(options);
  options.add_options()
      ("as-of", po::value<std::string>(), "evaluation date YYYY-MM-DD (default: today)")
      ("policy", po::value<std::string>(), "the policy to reform …")
      ("eligibility", po::value<std::string>(), "… with this eligibility expression instead")
      ("benefit", po::value<std::string>(), "… and/or this benefit expression instead")
      ("reform", po::value<std::string>(), "a catalog fragment (PolicyCatalog text format) whose "
                                           "policies replace same-id ones or are added")
      ("top", po::value<std::string>(), "rows per breakdown in the text table (default 15; 0 = all)")
      ("json", "print one JSON object instead of the table");
  AddThreadsOption(options);
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv,
          "polmatch simulate --rules DIR (--snapshot S | --firms F…) [--as-of DATE]\n"
          "         (--policy ID [--eligibility EXPR] [--benefit EXPR] | --reform FILE) [--json]",
          "What-if simulation (重大政策评估): matches the whole registry against the baseline catalog\n"
          "and against the reform, and compares them for the reformed policies and their\n"
          "exclusive-group partners: (firm, policy) pairs newly eligible, newly ineligible,\n"
          "unchanged (and among those, with a different amount), and the benefit total before,\n"
          "after and the delta — exact — overall and by policy, city, industry section and size\n"
          "band (从业人数). Time is printed to stderr.\n"
          "Exit 0 done, 1 invalid rules or reform, 2 bad usage or unreadable input.\n\n"
          "examples:\n"
          "  polmatch simulate --rules rules --snapshot s.snap --as-of 2021-06-30 \\\n"
          "      --policy shanwei-2021.3.2.2-it-service-cultivation-library \\\n"
          "      --eligibility 'industry under \"I\" and region under \"441500\" and revenue >= 500万'\n"
          "  polmatch simulate --rules rules --snapshot s.snap --reform reform.textproto --json",
          options, {}, vm)) {
    return *exit;
  }
  const bool by_policy = vm.count("policy") > 0;
  if (by_policy == (vm.count("reform") > 0)) {
    PrintError("give either --policy ID (with --eligibility and/or --benefit) or --reform FILE");
    return kUsage;
  }
  if (by_policy && !vm.count("eligibility") && !vm.count("benefit")) {
    PrintError("--policy needs --eligibility and/or --benefit");
    return kUsage;
  }
  if (!by_policy && (vm.count("eligibility") || vm.count("benefit"))) {
    PrintError("--eligibility and --benefit go with --policy, not --reform");
    return kUsage;
  }
  const std::optional<int> threads = ThreadsOption(vm);
  const std::optional<int64_t> top = IntOption(vm, "top", 0, 1000000, 15);
  if (!threads || !top) return kUsage;
  const auto start = std::chrono::steady_clock::now();
  int exit_code = kOk;
  std::optional<Catalog> baseline = LoadRules(vm["rules"].as<std::string>(), &exit_code);
  if (!baseline) return exit_code;
  std::optional<absl::CivilDay> as_of = AsOfOption(vm);
  if (!as_of) return kUsage;

  Diagnostics diags;
  PolicyCatalog fragment;
  std::string fragment_name;
  if (by_policy) {
    const std::string id = vm["policy"].as<std::string>();
    const CompiledPolicy* p = baseline->Find(id);
    if (p == nullptr) {
      PrintError(absl::StrCat("unknown policy ", id));
      return kProblems;
    }
    Policy* reformed = fragment.add_policy();
    *reformed = p->policy;
    if (vm.count("eligibility")) reformed->set_eligibility(vm["eligibility"].as<std::string>());
    if (vm.count("benefit")) reformed->set_benefit(vm["benefit"].as<std::string>());
    fragment_name = "--policy " + id;
  } else {
    fragment_name = vm["reform"].as<std::string>();
    absl::StatusOr<PolicyCatalog> read = ReadReformFile(fragment_name, &diags);
    for (const Diagnostic& d : diags.items()) std::cerr << d.ToString() << "\n";
    if (!read.ok()) {
      PrintError(std::string(read.status().message()));
      return read.status().code() == absl::StatusCode::kNotFound ? kUsage : kProblems;
    }
    fragment = std::move(*read);
  }
  std::vector<std::string> changed;
  Diagnostics reform_diags;
  absl::StatusOr<Catalog> reform =
      ApplyReform(*baseline, fragment, fragment_name, &reform_diags, &changed);
  reform_diags.Sort();
  for (const Diagnostic& d : reform_diags.items()) std::cerr << d.ToString() << "\n";
  if (!reform.ok()) {
    PrintError(absl::StrCat("the reform does not compile: ", reform.status().message()));
    return kProblems;
  }
  if (changed.empty()) {
    PrintError(absl::StrCat(fragment_name, ": no policies"));
    return kProblems;
  }

  std::optional<FirmStore> store = LoadRegistry(vm, baseline->taxonomy(), &exit_code);
  if (!store) return exit_code;
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  absl::StatusOr<Simulation> sim =
      Simulate(*baseline, *reform, changed, *store, {*as_of, *threads}, &diags);
  if (!sim.ok()) {
    PrintError(std::string(sim.status().message()));
    return kProblems;
  }
  std::cerr << absl::StrFormat(
      "simulate: %d firms, %d policies compared; load %.2f s, baseline %.2f s, reform %.2f s, "
      "compare %.2f s; simulation %.2f s\n",
      sim->firms, sim->compared.size(), load_seconds, sim->baseline_seconds, sim->reform_seconds,
      sim->compare_seconds, sim->baseline_seconds + sim->reform_seconds + sim->compare_seconds);

  if (vm.count("json")) {
    JsonWriter j;
    j.BeginObject();
    j.Key("as_of").String(FormatDate(sim->as_of));
    j.Key("firms").Int(sim->firms);
    j.Key("reform").String(fragment_name);
    j.Key("changed").BeginArray();
    for (const std::string& id : sim->changed) j.String(id);
    j.EndArray();
    j.Key("compared").BeginArray();
    for (const std::string& id : sim->compared) j.String(id);
    j.EndArray();
    j.Key("firms_affected").Int(sim->firms_affected);
    j.Key("total").BeginObject();
    CountsJson(j, sim->total);
    j.EndObject();
    RowsJson(j, "by_policy", sim->by_policy);
    RowsJson(j, "by_city", sim->by_city);
    RowsJson(j, "by_section", sim->by_section);
    RowsJson(j, "by_size", sim->by_size);
    j.EndObject();
    std::cout << j.str() << "\n";
    return kOk;
  }
  std::cout << "what-if " << fragment_name << "  (as of " << FormatDate(sim->as_of) << ", "
            << WithThousands(absl::StrCat(sim->firms)) << " firms)\n"
            << "changed:  " << absl::StrJoin(sim->changed, ", ") << "\n";
  if (sim->compared.size() > sim->changed.size()) {
    std::cout << "compared: " << absl::StrJoin(sim->compared, ", ")
              << "  (with exclusive-group partners)\n";
  }
  std::cout << WithThousands(absl::StrCat(sim->firms_affected)) << " firm(s) affected\n\n"
            << "(firm, policy) pairs; benefit = known amounts of ELIGIBLE pairs, yuan\n"
            << kHeader << "\n";
  PrintRow(sim->total, "total");
  PrintRows("policy", sim->by_policy, 0, false);
  PrintRows("city", sim->by_city, static_cast<size_t>(*top), true);
  PrintRows("industry section", sim->by_section, static_cast<size_t>(*top), true);
  PrintRows("size band", sim->by_size, 0, false);
  return kOk;
}

}  // namespace polmatch::cli
