// polmatch path: a firm's cultivation path along the tag library's qualification ladders.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/analysis/cultivation_path.h"
#include "engine/match/outcome.h"
#include "engine/util/dates.h"
#include "tools/cli.h"
#include "tools/json_writer.h"

namespace polmatch::cli {
namespace {

std::string Amount(const UnlockedPolicy& u) {
  if (u.benefit) return absl::StrCat(WithThousands(FormatYuan(*u.benefit)), " 元");
  return u.note.empty() ? std::string("no amount stated") : u.note;
}

void PolicyJson(JsonWriter& j, const UnlockedPolicy& u) {
  j.BeginObject();
  j.Key("policy").String(u.id);
  j.Key("title").String(u.title);
  j.Key("mode").String(u.auto_grant ? "AUTO_GRANT" : "APPLY");
  j.Key("benefit_yuan").String(u.benefit ? FormatYuan(*u.benefit) : "");
  if (!u.note.empty()) j.Key("benefit_note").String(u.note);
  j.EndObject();
}

}  // namespace

int RunPath(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("rules", po::value<std::string>()->required(), "rules directory (taxonomy/, policies/)");
  AddRegistryOptions(options);
  options.add_options()
      ("firm", po::value<std::string>()->required(), "the firm's 统一社会信用代码")
      ("as-of", po::value<std::string>(), "evaluation date YYYY-MM-DD (default: today)")
      ("ladder", po::value<std::string>(), "one ladder id of the tag library (default: all)")
      ("json", "print one JSON object instead of text");
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv,
          "polmatch path --rules DIR (--snapshot S | --firms F…) --firm CODE [--as-of DATE] [--ladder ID] [--json]",
          "Cultivation path (小升高, 高企后备): the shortest sequence of qualifications from the tag\n"
          "library's ladders (rules/taxonomy/tags.textproto `ladder`, e.g. qual.sme_tech →\n"
          "qual.hitech_reserve → qual.hitech → qual.specialized) that unlocks the most benefit for\n"
          "the firm — most known money first, then most policies — with the policies each step\n"
          "unlocks (+) or closes (−) and their amounts. Every combination of the qualifications\n"
          "the firm lacks is evaluated (breadth-first over a Boost.Graph), each held from --as-of.\n"
          "Limits (rank_by) are not applied: they rank the whole registry.\n"
          "Exit 0 done, 1 unknown firm or ladder or invalid rules, 2 bad usage or unreadable input.\n\n"
          "example: polmatch path --rules rules --snapshot out/demo/registry.snap \\\n"
          "           --firm 91440811MA5CDH008F --as-of 2023-06-30",
          options, {}, vm)) {
    return *exit;
  }
  const std::optional<std::string> code = FirmOption(vm);
  if (!code) return kUsage;
  int exit_code = kOk;
  std::optional<Catalog> catalog = LoadRules(vm["rules"].as<std::string>(), &exit_code);
  if (!catalog) return exit_code;
  std::optional<absl::CivilDay> as_of = AsOfOption(vm);
  if (!as_of) return kUsage;
  std::optional<FirmStore> store = LoadRegistry(vm, catalog->taxonomy(), &exit_code);
  if (!store) return exit_code;
  std::optional<uint32_t> row = store->FindRow(*code);
  if (!row) {
    PrintError(absl::StrCat("firm ", *code, " not found in the firm data"));
    return kProblems;
  }
  const Firm firm = store->ToFirm(*row);
  PathOptions path_options;
  path_options.as_of = *as_of;
  if (vm.count("ladder")) path_options.ladder = vm["ladder"].as<std::string>();
  absl::StatusOr<CultivationPath> path = FindCultivationPath(*catalog, firm, path_options);
  if (!path.ok()) {
    PrintError(std::string(path.status().message()));
    return kProblems;
  }

  if (vm.count("json")) {
    JsonWriter j;
    j.BeginObject();
    j.Key("credit_code").String(firm.credit_code);
    j.Key("name").String(firm.name);
    j.Key("as_of").String(FormatDate(*as_of));
    j.Key("ladders").BeginArray();
    for (const std::string& l : path->ladders) j.String(l);
    j.EndArray();
    j.Key("held").BeginArray();
    for (const std::string& t : path->held) j.String(t);
    j.EndArray();
    j.Key("start").BeginObject();
    j.Key("eligible").Int(path->start_eligible);
    j.Key("benefit_total_yuan").String(path->start_total.ToFixed2());
    j.EndObject();
    j.Key("steps").BeginArray();
    for (const PathStep& s : path->steps) {
      j.BeginObject();
      j.Key("tag").String(s.tag);
      j.Key("name").String(s.tag_name);
      j.Key("gained").BeginArray();
      for (const UnlockedPolicy& u : s.gained) PolicyJson(j, u);
      j.EndArray();
      j.Key("lost").BeginArray();
      for (const UnlockedPolicy& u : s.lost) PolicyJson(j, u);
      j.EndArray();
      j.Key("eligible").Int(s.eligible);
      j.Key("benefit_total_yuan").String(s.total.ToFixed2());
      j.EndObject();
    }
    j.EndArray();
    j.Key("states").Int(path->states);
    j.EndObject();
    std::cout << j.str() << "\n";
    return kOk;
  }

  std::cout << "cultivation path of " << firm.credit_code << "  " << firm.name << "  (as of "
            << FormatDate(*as_of) << ")\n"
            << "ladder " << absl::StrJoin(path->ladders, ", ") << ": "
            << absl::StrJoin(path->steps_considered, " → ") << "\n"
            << "holds: " << (path->held.empty() ? std::string("none of them") : absl::StrJoin(path->held, ", "))
            << "\n"
            << "now:   " << path->start_eligible << " policies eligible, "
            << WithThousands(path->start_total.ToFixed2()) << " 元 known\n";
  if (path->steps.empty()) {
    std::cout << "\nno qualification of the ladder would unlock more (" << path->states
              << " combinations evaluated)\n";
    return kOk;
  }
  int n = 0;
  for (const PathStep& s : path->steps) {
    std::cout << "\nstep " << ++n << ": obtain " << s.tag << " " << s.tag_name << "\n";
    for (const UnlockedPolicy& u : s.gained) {
      std::cout << "   + " << u.id << "  " << u.title << "  — " << Amount(u) << "\n";
    }
    for (const UnlockedPolicy& u : s.lost) {
      std::cout << "   − " << u.id << "  " << u.title << "  (no longer applies)\n";
    }
    if (s.gained.empty() && s.lost.empty()) {
      std::cout << "   (unlocks nothing alone: needed for the next step)\n";
    }
    std::cout << "   then: " << s.eligible << " policies eligible, " << WithThousands(s.total.ToFixed2())
              << " 元 known\n";
  }
  YuanTotal gain = path->steps.back().total;
  gain.Subtract(path->start_total);
  std::cout << "\n" << path->steps.size() << " step(s): " << (gain.raw() >= 0 ? "+" : "")
            << WithThousands(gain.ToFixed2()) << " 元, "
            << path->steps.back().eligible - path->start_eligible << " more policies ("
            << path->states << " combinations evaluated)\n";
  return kOk;
}

}  // namespace polmatch::cli
