#include "tools/cli.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/firm_reader.h"
#include "engine/util/dates.h"

namespace polmatch::cli {

void PrintError(const std::string& message) { std::cerr << "polmatch: " << message << "\n"; }

std::optional<int> ParseArgs(int argc, char** argv, const std::string& usage,
                             const std::string& description, po::options_description& options,
                             const po::positional_options_description& positional,
                             po::variables_map& vm) {
  options.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n" << description << "\n\n" << options << "\n";
      return kOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    PrintError(e.what());
    std::cerr << "usage: " << usage << "\n(see --help)\n";
    return kUsage;
  }
  return std::nullopt;
}

std::optional<Catalog> LoadRules(const std::string& dir, int* exit_code, int* warnings) {
  std::error_code ec;
  for (const char* sub : {"", "/taxonomy", "/policies"}) {
    if (!std::filesystem::is_directory(dir + sub, ec)) {
      PrintError(absl::StrCat(dir, sub, ": not a directory (a rules directory holds taxonomy/ and "
                              "policies/)"));
      *exit_code = kUsage;
      return std::nullopt;
    }
  }
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::LoadDir(dir, &diags);
  diags.Sort();
  for (const Diagnostic& d : diags.items()) std::cerr << d.ToString() << "\n";
  if (warnings != nullptr) *warnings = static_cast<int>(diags.items().size()) - diags.error_count();
  if (!catalog.ok()) {
    *exit_code = kProblems;
    return std::nullopt;
  }
  return std::move(*catalog);
}

std::optional<std::vector<Firm>> LoadFirmFiles(const std::vector<std::string>& paths,
                                               const Taxonomy& taxonomy) {
  std::vector<Rejection> rejects;
  IngestStats stats;
  absl::StatusOr<std::vector<Firm>> firms = LoadFirms(paths, taxonomy, &rejects, &stats);
  if (!firms.ok()) {
    PrintError(std::string(firms.status().message()));
    return std::nullopt;
  }
  if (!rejects.empty()) {
    std::cerr << "polmatch: " << rejects.size() << " record(s) rejected";
    for (size_t i = 0; i < rejects.size() && i < 5; ++i) std::cerr << "\n  " << rejects[i].ToString();
    if (rejects.size() > 5) std::cerr << "\n  …";
    std::cerr << "\n";
  }
  return std::move(*firms);
}

void AddRegistryOptions(po::options_description& options) {
  options.add_options()
      ("snapshot", po::value<std::string>(), "the snapshot written by polmatch index")
      ("firms", po::value<std::vector<std::string>>()->composing(),
       "firm data, JSON Lines or CSV, instead of a snapshot; repeat to merge sources");
}

std::optional<FirmStore> LoadRegistry(const po::variables_map& vm, const Taxonomy& taxonomy,
                                      int* exit_code) {
  *exit_code = kUsage;
  if (vm.count("snapshot") == vm.count("firms")) {
    PrintError("give either --snapshot or --firms");
    return std::nullopt;
  }
  if (vm.count("snapshot")) {
    absl::StatusOr<FirmStore> store =
        ReadSnapshotFile(vm["snapshot"].as<std::string>(), taxonomy, SnapshotLoad::kInPlace);
    if (!store.ok()) {
      PrintError(std::string(store.status().message()));
      return std::nullopt;
    }
    return std::move(*store);
  }
  std::optional<std::vector<Firm>> firms =
      LoadFirmFiles(vm["firms"].as<std::vector<std::string>>(), taxonomy);
  if (!firms) return std::nullopt;
  absl::StatusOr<FirmStore> store = FirmStore::Build(*firms, taxonomy);
  if (!store.ok()) {
    PrintError(std::string(store.status().message()));
    return std::nullopt;
  }
  return std::move(*store);
}

bool WriteRejectsOption(const po::variables_map& vm, const std::vector<Rejection>& rejects) {
  if (!vm.count("rejects")) return true;
  const std::string path = vm["rejects"].as<std::string>();
  std::ofstream out(path);
  for (const Rejection& r : rejects) out << r.ToString() << "\n";
  out.close();
  if (!out) {
    PrintError(absl::StrCat(path, ": cannot write"));
    return false;
  }
  return true;
}

std::optional<absl::CivilDay> AsOfOption(const po::variables_map& vm) {
  if (!vm.count("as-of")) return Today();
  absl::StatusOr<absl::CivilDay> d = ParseDate(vm["as-of"].as<std::string>());
  if (!d.ok()) {
    PrintError(absl::StrCat("--as-of: ", d.status().message()));
    return std::nullopt;
  }
  return *d;
}

}  // namespace polmatch::cli
