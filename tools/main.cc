// polmatch: policy matching and 免申即享 for enterprise-support policies. One subcommand per
// file; this file only dispatches.
#include <malloc.h>

#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>

namespace polmatch::cli {
int RunLint(int argc, char** argv);
int RunTest(int argc, char** argv);
int RunQuery(int argc, char** argv);
int RunCheck(int argc, char** argv);
int RunGen(int argc, char** argv);
int RunBatch(int argc, char** argv);
int RunIndex(int argc, char** argv);
int RunMerge(int argc, char** argv);
int RunSimulate(int argc, char** argv);
int RunReserve(int argc, char** argv);
int RunPath(int argc, char** argv);
int RunServe(int argc, char** argv);
int RunGrants(int argc, char** argv);
int RunAuth(int argc, char** argv);
int RunAudit(int argc, char** argv);
}  // namespace polmatch::cli

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
  bool bulk = false;  // a one-shot job over the whole registry
};

constexpr Command kCommands[] = {
    {"lint", polmatch::cli::RunLint, "check the tag library and policy catalogs of a rules directory"},
    {"test", polmatch::cli::RunTest, "run the policy test cases of RULES_DIR/tests"},
    {"query", polmatch::cli::RunQuery, "every policy's status for one firm, with reasons"},
    {"check", polmatch::cli::RunCheck, "why a policy does or does not apply to a firm"},
    {"index", polmatch::cli::RunIndex, "build the snapshot (bitset index) from firm data", true},
    {"batch", polmatch::cli::RunBatch, "the nightly job: summary, grant lists, pushes, state", true},
    {"merge", polmatch::cli::RunMerge, "the shard nights of batch --shard K/N into the unsharded night", true},
    {"serve", polmatch::cli::RunServe, "the HTTP service and portal over one engine (SPEC §6)"},
    {"simulate", polmatch::cli::RunSimulate, "what-if: a policy reform against the baseline over the registry", true},
    {"reserve", polmatch::cli::RunReserve, "reserve lists (后备库): firms one condition away, closest first", true},
    {"path", polmatch::cli::RunPath, "cultivation path: the qualifications that unlock the most for a firm"},
    {"grants", polmatch::cli::RunGrants, "the grant ledger: publish, object, confirm, approve, export, pay, audit…"},
    {"auth", polmatch::cli::RunAuth, "API keys and firm tokens for serve --auth"},
    {"audit", polmatch::cli::RunAudit, "who looked at a firm's data (serve's access audit trail)"},
    {"gen", polmatch::cli::RunGen, "deterministic synthetic firms or policies, for demos and benchmarks"},
};

void Usage(std::ostream& out) {
  out << "usage: polmatch <command> [options]   (polmatch <command> --help for details)\n\n"
         "Matches enterprises against government support policies: 精准推送 (push each firm the\n"
         "policies it qualifies for, or nearly does) and 免申即享 (grant lists without application).\n\n"
         "commands:\n";
  for (const Command& c : kCommands) out << "  " << c.name << std::string(10 - std::strlen(c.name), ' ') << c.summary << "\n";
}

// A one-shot bulk job frees and reallocates gigabytes (per-policy results, the previous night,
// buffers); glibc would hand large blocks back to the kernel and take fresh ones, which the kernel
// must zero again (on this VM at ~0.5 GB/s: a third of an S2 batch's CPU). Keep freed memory in
// the process for reuse instead: blocks up to 32 MiB come from the heap, which is never trimmed.
void KeepFreedMemory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    Usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::cout << "polmatch " << POLMATCH_VERSION << "\n";
    return 0;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    if (c.bulk) KeepFreedMemory();
    // The edge: nothing below should throw (errors are absl::Status), but a std::filesystem or
    // thread-creation failure that slips through is one line and exit 2, never an abort.
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const std::bad_alloc&) {
      std::cerr << "polmatch: out of memory\n";
    } catch (const std::exception& e) {
      std::cerr << "polmatch: " << e.what() << "\n";
    }
    return 2;
  }
  std::cerr << "polmatch: unknown command '" << argv[1] << "'\n";
  Usage(std::cerr);
  return 2;
}
