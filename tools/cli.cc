#include "tools/cli.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/credit_code.h"
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
  if (absl::Status s = CheckRulesDir(dir); !s.ok()) {
    PrintError(std::string(s.message()));
    *exit_code = kUsage;
    return std::nullopt;
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

std::optional<InputEncoding> EncodingOption(const po::variables_map& vm) {
  if (!vm.count("encoding")) return InputEncoding::kUtf8;
  std::optional<InputEncoding> encoding = ParseInputEncoding(vm["encoding"].as<std::string>());
  if (!encoding) PrintError("--encoding must be utf-8 or gb18030 (also read as gbk)");
  return encoding;
}

std::optional<std::vector<Firm>> LoadFirmFiles(const std::vector<std::string>& paths,
                                               const Taxonomy& taxonomy, InputEncoding encoding,
                                               int* exit_code, IngestStats* stats_out) {
  std::vector<Rejection> rejects;
  IngestStats stats;
  absl::StatusOr<std::vector<Firm>> firms = LoadFirms(paths, taxonomy, &rejects, &stats, encoding);
  if (stats_out != nullptr) *stats_out = stats;
  if (!firms.ok()) {
    PrintError(std::string(firms.status().message()));
    *exit_code = kUsage;
    return std::nullopt;
  }
  if (!rejects.empty()) {
    std::cerr << "polmatch: " << rejects.size() << " record(s) rejected";
    for (size_t i = 0; i < rejects.size() && i < 5; ++i) std::cerr << "\n  " << rejects[i].ToString();
    if (rejects.size() > 5) std::cerr << "\n  … " << rejects.size() - 5 << " more";
    std::cerr << "\n";
  }
  if (const std::string none = NoneAccepted(stats); !none.empty()) {
    PrintError(none);
    *exit_code = kProblems;
    return std::nullopt;
  }
  return std::move(*firms);
}

void AddRegistryOptions(po::options_description& options) {
  options.add_options()
      ("snapshot", po::value<std::string>(), "the snapshot written by polmatch index")
      ("firms", po::value<std::vector<std::string>>()->composing(),
       "firm data, JSON Lines or CSV, instead of a snapshot; repeat to merge sources")
      ("encoding", po::value<std::string>(),
       "utf-8 (default) or gb18030: the encoding of every --firms file (gb18030, also called gbk, "
       "is what Chinese Excel and WPS save; a GB18030 file read as utf-8 is refused)");
}

std::optional<FirmStore> LoadRegistry(const po::variables_map& vm, const Taxonomy& taxonomy,
                                      int* exit_code, IngestStats* stats) {
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
  std::optional<InputEncoding> encoding = EncodingOption(vm);
  if (!encoding) return std::nullopt;
  std::optional<std::vector<Firm>> firms = LoadFirmFiles(
      vm["firms"].as<std::vector<std::string>>(), taxonomy, *encoding, exit_code, stats);
  if (!firms) return std::nullopt;
  *exit_code = kUsage;
  absl::StatusOr<FirmStore> store = FirmStore::Build(*firms, taxonomy);
  if (!store.ok()) {
    PrintError(std::string(store.status().message()));
    return std::nullopt;
  }
  return std::move(*store);
}

absl::Status RejectsOption(const po::variables_map& vm, const std::vector<Rejection>& rejects) {
  if (!vm.count("rejects")) return absl::OkStatus();
  const std::string path = vm["rejects"].as<std::string>();
  // Never over an input (a firm file or the snapshot), a directory or a FIFO (whose open would
  // wait for a reader); a device such as /dev/stderr is fine.
  struct stat st {};
  if (path.empty()) return absl::InvalidArgumentError("--rejects: empty file name");
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat("--rejects ", path, ": not a regular file"));
    }
    std::vector<std::string> inputs;
    if (vm.count("firms")) inputs = vm["firms"].as<std::vector<std::string>>();
    if (vm.count("snapshot")) inputs.push_back(vm["snapshot"].as<std::string>());
    for (const std::string& input : inputs) {
      struct stat in {};
      if (::stat(input.c_str(), &in) == 0 && in.st_dev == st.st_dev && in.st_ino == st.st_ino) {
        return absl::InvalidArgumentError(absl::StrCat("--rejects ", path, ": is an input of this run (", input, ")"));
      }
    }
  }
  std::ofstream out(path);
  for (const Rejection& r : rejects) out << r.ToString() << "\n";
  out.close();
  if (!out) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

bool WriteRejectsOption(const po::variables_map& vm, const std::vector<Rejection>& rejects) {
  const absl::Status written = RejectsOption(vm, rejects);
  if (!written.ok()) PrintError(std::string(written.message()));
  return written.ok();
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

std::optional<int64_t> IntOption(const po::variables_map& vm, const char* name, int64_t min,
                                 int64_t max, int64_t fallback) {
  if (!vm.count(name)) return fallback;
  const std::string& text = vm[name].as<std::string>();
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    PrintError(absl::StrCat("--", name, ": \"", text, "\" is not a whole number"));
    return std::nullopt;
  }
  if (value < min || value > max) {
    PrintError(absl::StrCat("--", name, ": ", value, " is out of range (", min, " to ", max, ")"));
    return std::nullopt;
  }
  return value;
}

void AddThreadsOption(po::options_description& options, const char* help) {
  options.add_options()("threads", po::value<std::string>(),
                        absl::StrCat(help, ", 1 to ", kMaxThreads, " (default: the machine's cores)").c_str());
}

std::optional<int> ThreadsOption(const po::variables_map& vm) {
  const int cores = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, unsigned{kMaxThreads}));
  std::optional<int64_t> threads = IntOption(vm, "threads", 1, kMaxThreads, cores);
  if (!threads) return std::nullopt;
  return static_cast<int>(*threads);
}

std::optional<std::string> FirmOption(const po::variables_map& vm) {
  const std::string& code = vm["firm"].as<std::string>();
  if (absl::Status valid = ValidateCreditCode(code); !valid.ok()) {
    PrintError(absl::StrCat("--firm: ", valid.message()));
    return std::nullopt;
  }
  return code;
}

}  // namespace polmatch::cli
