// Loading rules directories: errors point to file:line:col inside the .textproto.
#include "engine/catalog/catalog.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("rules_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "policies");
    fs::create_directories(dir_ / "taxonomy");
    for (const char* f : {"tags.textproto", "regions.textproto", "industries.textproto"}) {
      fs::copy_file(fs::path(testing::RulesDir()) / "taxonomy" / f, dir_ / "taxonomy" / f);
    }
  }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ / rel) << text;
  }
  std::vector<std::string> Lint() {
    Diagnostics diags;
    (void)Catalog::LoadDir(dir_.string(), &diags);
    diags.Sort();
    std::vector<std::string> out;
    for (const auto& d : diags.items()) {
      std::string s = d.ToString();
      out.push_back(s.substr(s.rfind('/') + 1));
    }
    return out;
  }
  fs::path dir_;
  static inline int counter_ = 0;
};

TEST_F(CatalogTest, ErrorInsideAnExpressionPointsIntoTheFile) {
  Write("policies/a.textproto",
        "policy {\n"
        "  id: \"a-1\"\n"
        "  title: \"标题\"\n"
        "  eligibility: \"qual.hitech and region under \\\"441500\\\" and turnover > 5\"\n"
        "}\n");
  // Column counts characters of the file line: `  eligibility: "` is 16 characters, the string
  // escapes \" count twice in the file.
  EXPECT_EQ(Lint(), std::vector<std::string>{
                        "a.textproto:4:61: policy a-1: eligibility: unknown identifier 'turnover' "
                        "(not a tag, fact or built-in of the tag library)"});
}

TEST_F(CatalogTest, ErrorAfterCjkTextCountsCharacters) {
  Write("policies/a.textproto",
        "policy { id: \"a-1\" title: \"标题\" eligibility: \"高新技术企业 and 营收 > 1\" }\n");
  EXPECT_EQ(Lint(), std::vector<std::string>{
                        "a.textproto:1:57: policy a-1: eligibility: unknown identifier '营收' "
                        "(not a tag, fact or built-in of the tag library)"});
}

TEST_F(CatalogTest, SyntaxErrorsAndPolicyChecks) {
  Write("policies/a.textproto", "policy { id: \"x\" title: \"t\" eligibility: \"true\" }\npolicy { id: \"x\" title: \"t\" eligibility: \"\" }\n");
  Write("policies/b.textproto", "policy { id: \"B!\" title: \"t\" eligibility: \"true\" mode: AUTO_GRANT limit: 3 valid_from: \"2021-02-30\" }\n");
  Write("policies/c.textproto", "policy { id: \"c\" title: \"t\" eligibility: \"true\"\n");
  std::vector<std::string> got = Lint();
  std::vector<std::string> want = {
      "a.textproto:2: policy x: empty eligibility expression",
      "a.textproto:2: duplicate policy id \"x\" (first at " + (dir_ / "policies/a.textproto").string() + ":1)",
      "b.textproto:1: policy B!: id must match [a-z0-9._-]+",
      "b.textproto:1:50: policy B!: AUTO_GRANT (免申即享) needs a benefit expression, or a benefit_note for a "
      "non-monetary grant",
      "b.textproto:1:67: policy B!: limit needs rank_by to choose the firms",
      "b.textproto:1:89: policy B!: bad date \"2021-02-30\" (want YYYY-MM-DD)",
      "c.textproto:2:1: Expected identifier, got: ",
  };
  // The duplicate message embeds a path; compare what follows the last '/' as Lint() does.
  want[1] = want[1].substr(want[1].rfind('/') + 1);
  EXPECT_EQ(got, want);
}

TEST_F(CatalogTest, TagCycleIsAnError) {
  std::ofstream(dir_ / "taxonomy/tags.textproto", std::ios::app)
      << "tag { id: \"loop.a\" name: \"环甲\" parent: \"loop.b\" actionable: true }\n"
         "tag { id: \"loop.b\" name: \"环乙\" parent: \"loop.a\" actionable: true }\n";
  std::vector<std::string> got = Lint();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("tag hierarchy has a cycle: loop.a → loop.b → loop.a"), std::string::npos) << got[0];
}

TEST_F(CatalogTest, UnknownParentAndDuplicateName) {
  std::ofstream(dir_ / "taxonomy/tags.textproto", std::ios::app)
      << "tag { id: \"x.y\" name: \"高新技术企业\" parent: \"nope\" }\n";
  std::vector<std::string> got = Lint();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[0].find("name \"高新技术企业\" of tag x.y is already used by tag qual.hitech"), std::string::npos) << got[0];
  EXPECT_NE(got[1].find("tag x.y: unknown parent \"nope\""), std::string::npos) << got[1];
}

TEST_F(CatalogTest, LoadsAValidCatalog) {
  Write("policies/a.textproto",
        "policy { id: \"b\" title: \"t\" eligibility: \"true\" exclusive_group: \"g\" }\n"
        "policy { id: \"a\" title: \"t\" eligibility: \"qual.hitech\" benefit: \"10万\" mode: AUTO_GRANT exclusive_group: \"g\" }\n");
  Diagnostics diags;
  auto c = Catalog::LoadDir(dir_.string(), &diags);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->policies().size(), 2u);
  EXPECT_EQ(c->policies()[0].id(), "a");  // id order
  EXPECT_EQ(c->IndexOf("b"), 1);
  EXPECT_EQ(c->groups().at("g"), (std::vector<int>{0, 1}));
  EXPECT_EQ(c->policies()[0].line, 2);
}

}  // namespace
}  // namespace polmatch
