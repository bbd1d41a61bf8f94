#include "tests/test_util.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

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

CmdResult Polmatch(const std::string& args) {
  CmdResult r;
  const std::string cmd = std::string(POLMATCH_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace polmatch::testing
