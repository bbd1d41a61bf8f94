// File: cli.h
//
// What the subcommands of the polmatch command line share: exit codes (SPEC §4), option
// parsing with --help, loading the rules directory and firm files with errors on stderr.
#ifndef POLMATCH_TOOLS_CLI_H_
#define POLMATCH_TOOLS_CLI_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "boost/program_options.hpp"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/ingest/firm.h"
#include "engine/ingest/firm_reader.h"

namespace polmatch::cli {

inline constexpr int kOk = 0;
inline constexpr int kProblems = 1;  // ran, but found problems
inline constexpr int kUsage = 2;     // bad usage or unreadable input

namespace po = boost::program_options;

// Parses argv (after the subcommand) into `vm`. Prints usage and returns kOk through `exit` for
// --help; prints the error and returns kUsage on bad usage. Returns nullopt to go on.
std::optional<int> ParseArgs(int argc, char** argv, const std::string& usage,
                             const std::string& description, po::options_description& options,
                             const po::positional_options_description& positional,
                             po::variables_map& vm);

// Loads the rules directory; prints every diagnostic to stderr. nullopt on failure (`exit` gets
// kProblems for errors in the rules, kUsage for an unreadable directory or one without
// taxonomy/ and policies/). `warnings`, if given, gets the number of warnings printed.
std::optional<Catalog> LoadRules(const std::string& dir, int* exit_code, int* warnings = nullptr);

// Loads and merges firm files; rejected records are summarised on stderr. nullopt when a file
// cannot be read (`exit_code` gets kUsage) or no record was accepted (kProblems, SPEC §2).
// `stats` (may be null) gets the counts.
std::optional<std::vector<Firm>> LoadFirmFiles(const std::vector<std::string>& paths,
                                               const Taxonomy& taxonomy, InputEncoding encoding,
                                               int* exit_code, IngestStats* stats = nullptr);

// --encoding (utf-8 by default, or gb18030). nullopt after printing an error.
std::optional<InputEncoding> EncodingOption(const po::variables_map& vm);

// The firm registry of a command: --snapshot S, or --firms F… indexed on the fly (exactly one of
// them). nullopt after printing an error (`exit_code` gets kUsage, or kProblems when no firm
// record was accepted).
std::optional<FirmStore> LoadRegistry(const po::variables_map& vm, const Taxonomy& taxonomy,
                                      int* exit_code, IngestStats* stats = nullptr);
// Adds --snapshot, --firms and --encoding to `options`.
void AddRegistryOptions(po::options_description& options);

// Writes `rejects` to the --rejects file if the option was given, one `file:line: reason` each.
// InvalidArgument naming the flag or the file when it cannot be written.
absl::Status RejectsOption(const po::variables_map& vm, const std::vector<Rejection>& rejects);
// The same; false after printing the error.
bool WriteRejectsOption(const po::variables_map& vm, const std::vector<Rejection>& rejects);

// --as-of (default today). nullopt after printing an error.
std::optional<absl::CivilDay> AsOfOption(const po::variables_map& vm);

// Flag checks: a bad value is bad usage (exit kUsage) with one line naming the flag. Each prints
// that line and returns nullopt on a bad value.
//
// An integer flag (declared as po::value<std::string>, so that "-1" never wraps to a huge
// unsigned and "1e3" or "12abc" is refused) within [min, max]; `fallback` when not given.
std::optional<int64_t> IntOption(const po::variables_map& vm, const char* name, int64_t min,
                                 int64_t max, int64_t fallback);
// --threads: 1 to kMaxThreads, default the machine's cores.
inline constexpr int kMaxThreads = 256;
std::optional<int> ThreadsOption(const po::variables_map& vm);
// Declares --threads (as a string; read it with ThreadsOption).
void AddThreadsOption(po::options_description& options, const char* help = "matching threads");
// --firm, checked as the HTTP API checks a code (engine/ingest/credit_code.h): 18 characters of
// the GB 32100 alphabet, upper case, correct check character.
std::optional<std::string> FirmOption(const po::variables_map& vm);

void PrintError(const std::string& message);

}  // namespace polmatch::cli

#endif  // POLMATCH_TOOLS_CLI_H_
