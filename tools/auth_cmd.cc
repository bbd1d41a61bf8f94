// polmatch auth: API keys and firm tokens for `serve --auth FILE`; polmatch audit: who looked at
// which firm, from the service's access audit trail.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tools/auth.h"
#include "tools/cli.h"

namespace polmatch::cli {
namespace {

// 32 bytes from the kernel's CSPRNG, base64url: a key nobody can guess.
std::optional<std::string> RandomKey() {
  unsigned char bytes[32];
  const int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = read(fd, bytes + got, sizeof(bytes) - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  if (got != sizeof(bytes)) return std::nullopt;
  return http::internal::Base64UrlEncode(std::string(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

int NewKey(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("id", po::value<std::string>()->required(), "the key's name in logs and the audit trail, e.g. portal-backend")
      ("role", po::value<std::string>()->default_value("STAFF"), "STAFF (any firm) or ADMIN (also /metrics and reloads)");
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch auth new-key --id NAME [--role STAFF|ADMIN]",
                            "Makes a new random API key. Prints the key once (give it to the caller; it is\n"
                            "stored nowhere) and the auth file entry that holds only its SHA-256.",
                            options, {}, vm)) {
    return *exit;
  }
  const std::string role = vm["role"].as<std::string>();
  if (role != "STAFF" && role != "ADMIN") {
    PrintError("--role must be STAFF or ADMIN");
    return kUsage;
  }
  const std::optional<std::string> key = RandomKey();
  if (!key) {
    PrintError("cannot read /dev/urandom");
    return kProblems;
  }
  std::cout << "key: " << *key << "\n"
            << "auth file entry (api_key): {\"id\": \"" << vm["id"].as<std::string>()
            << "\", \"sha256_hex\": \"" << http::internal::Sha256Hex(*key) << "\", \"role\": \"" << role
            << "\"}\n";
  return kOk;
}

int HashKey(int argc, char** argv) {
  po::options_description options("options");
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch auth hash-key < KEY",
                            "Reads a key on standard input (one line) and prints its SHA-256 in hex, for the\n"
                            "auth file's api_key.sha256_hex (the key itself is never stored).",
                            options, {}, vm)) {
    return *exit;
  }
  std::string key;
  std::getline(std::cin, key);
  if (key.empty()) {
    PrintError("no key on standard input");
    return kUsage;
  }
  std::cout << http::internal::Sha256Hex(key) << "\n";
  return kOk;
}

int Token(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("auth", po::value<std::string>()->required(), "the auth file (its firm_tokens key signs)")
      ("firm", po::value<std::string>()->required(), "the firm's credit code (the token's sub)")
      ("ttl", po::value<int>()->default_value(3600), "seconds until it expires");
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch auth token --auth FILE --firm CODE [--ttl SECONDS]",
                            "Signs a firm token (JWT, HS256) as the portal's login would, for tests and\n"
                            "demos. A real portal signs tokens in its own login service with the same key.\n"
                            "Example: polmatch auth token --auth auth.json --firm 91441502MA4W0PA9X8",
                            options, {}, vm)) {
    return *exit;
  }
  const int ttl = vm["ttl"].as<int>();
  if (ttl <= 0 || ttl > 7 * 86400) {
    PrintError("--ttl must be 1..604800 seconds");
    return kUsage;
  }
  absl::StatusOr<http::Authenticator> auth = http::Authenticator::LoadFile(vm["auth"].as<std::string>());
  if (!auth.ok()) {
    PrintError(std::string(auth.status().message()));
    return kUsage;
  }
  absl::StatusOr<std::string> token =
      auth->IssueFirmToken(vm["firm"].as<std::string>(), absl::Now(), absl::Seconds(ttl));
  if (!token.ok()) {
    PrintError(absl::StrCat("--firm ", vm["firm"].as<std::string>(), ": ", token.status().message()));
    return kUsage;
  }
  std::cout << *token << "\n";
  return kOk;
}

}  // namespace

int RunAuth(int argc, char** argv) {
  const std::string sub = argc >= 2 ? argv[1] : "";
  if (sub == "new-key") return NewKey(argc - 1, argv + 1);
  if (sub == "hash-key") return HashKey(argc - 1, argv + 1);
  if (sub == "token") return Token(argc - 1, argv + 1);
  std::ostream& out = (sub == "--help" || sub == "-h") ? std::cout : std::cerr;
  out << "usage: polmatch auth new-key|hash-key|token [options]   (each with --help)\n\n"
         "Credentials for `polmatch serve --auth FILE`:\n"
         "  new-key    a new random API key for staff or a backend service, and its auth file entry\n"
         "  hash-key   the SHA-256 of an existing key (the auth file stores only that)\n"
         "  token      a signed firm token (JWT HS256), as the portal's login issues\n";
  return (sub == "--help" || sub == "-h") ? kOk : kUsage;
}

int RunAudit(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("log", po::value<std::vector<std::string>>()->required()->composing(),
       "an audit file written by serve --audit-log (repeat for rotated files: FILE.2 FILE.1 FILE)")
      ("firm", po::value<std::string>()->default_value(""), "only reads of this firm's data")
      ("principal", po::value<std::string>()->default_value(""), "only this caller (key id or firm code)");
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch audit --log FILE [--log FILE…] [--firm CODE] [--principal ID]",
                            "Who looked at a firm's data: prints the matching entries of the service's\n"
                            "access audit trail (JSON Lines), oldest file first as given.\n"
                            "Example: polmatch audit --log audit.jsonl.1 --log audit.jsonl --firm 91441502MA4W0PA9X8",
                            options, {}, vm)) {
    return *exit;
  }
  http::AuditFilter filter{vm["firm"].as<std::string>(), vm["principal"].as<std::string>()};
  int malformed = 0;
  size_t shown = 0;
  for (const std::string& path : vm["log"].as<std::vector<std::string>>()) {
    std::vector<std::string> lines;
    if (absl::Status s = http::FilterAuditFile(path, filter, &lines, &malformed); !s.ok()) {
      PrintError(std::string(s.message()));
      return kUsage;
    }
    for (const std::string& l : lines) std::cout << l << "\n";
    shown += lines.size();
  }
  std::cerr << "audit: " << shown << " entries";
  if (malformed > 0) std::cerr << ", " << malformed << " malformed lines skipped";
  std::cerr << "\n";
  return malformed > 0 ? kProblems : kOk;
}

}  // namespace polmatch::cli
