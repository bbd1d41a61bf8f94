#include "tests/test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/credit_code.h"
#include "gtest/gtest.h"

namespace polmatch::testing {

std::string RulesDir() { return std::string(POLMATCH_SOURCE_DIR) + "/rules"; }

const Taxonomy& RealTaxonomy() {
  static const Taxonomy* taxonomy = [] {
    Diagnostics diags;
    absl::StatusOr<Taxonomy> t = Taxonomy::LoadDir(RulesDir() + "/taxonomy", &diags);
    if (!t.ok()) {
      std::cerr << "cannot load taxonomy: " << t.status() << "\n";
      std::abort();
    }
    return new Taxonomy(std::move(*t));
  }();
  return *taxonomy;
}

std::string MakeCreditCode(const std::string& region, int serial) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  std::string body = "91" + region;
  std::string org;
  unsigned v = static_cast<unsigned>(serial);
  for (int i = 0; i < 9; ++i) {
    org.insert(org.begin(), kAlphabet[v % 31]);
    v /= 31;
  }
  body += org;
  return body + *CreditCodeCheckChar(body);
}

FirmProfile MakeProfile(const std::string& region, int serial, const std::string& industry,
                        const std::string& founded) {
  FirmProfile p;
  p.set_credit_code(MakeCreditCode(region, serial));
  p.set_name("测试企业" + std::to_string(serial));
  p.set_region(region);
  p.set_industry(industry);
  p.set_founded(founded);
  return p;
}

Firm MakeFirm(const FirmProfile& profile) {
  absl::StatusOr<Firm> f = FirmFromProfile(profile, RealTaxonomy());
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *f : Firm{};
}

std::filesystem::path FreshTempDir(const std::string& prefix) {
  static int counter = 0;
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteRulesDir(const std::filesystem::path& dir, const std::string& policies) {
  std::filesystem::create_directories(dir / "policies");
  std::filesystem::create_directory_symlink(std::filesystem::path(RulesDir()) / "taxonomy", dir / "taxonomy");
  std::ofstream(dir / "policies/p.textproto") << policies;
}

std::vector<std::string> WriteHitechSnapshot(const std::string& path, int serial_base, long long revenue_base,
                                             int n) {
  std::vector<std::string> codes;
  std::vector<Firm> firms;
  for (int i = 0; i < n; ++i) {
    FirmProfile p = MakeProfile("441502", serial_base + i);
    p.add_tags()->set_id("qual.hitech");
    (*p.mutable_facts())["revenue"] = std::to_string(revenue_base + i);
    codes.push_back(p.credit_code());
    firms.push_back(MakeFirm(p));
  }
  absl::StatusOr<FirmStore> store = FirmStore::Build(firms, RealTaxonomy());
  EXPECT_TRUE(store.ok()) << store.status();
  if (store.ok()) {
    const absl::Status written = WriteSnapshotFile(path, *store, RealTaxonomy());
    EXPECT_TRUE(written.ok()) << written;
  }
  return codes;
}

CmdResult Polmatch(const std::string& args, int kill_after_seconds) {
  CmdResult r;
  const std::string timeout =
      kill_after_seconds > 0 ? "timeout -s KILL " + std::to_string(kill_after_seconds) + " " : "";
  const std::string cmd = timeout + std::string(POLMATCH_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (kill_after_seconds > 0 && r.exit_code == 137) r.exit_code = 124;  // killed by timeout -s KILL
  return r;
}

}  // namespace polmatch::testing
