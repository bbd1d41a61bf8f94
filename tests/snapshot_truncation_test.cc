// A snapshot (or a state file) truncated or rewritten by another program while polmatch reads it
// in place (issue 12 item 5): an error, never SIGBUS.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/index/snapshot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::vector<Firm> ManyFirms(int n) {
  std::vector<Firm> firms;
  for (int i = 0; i < n; ++i) {
    FirmProfile p = testing::MakeProfile(i % 2 ? "441502" : "440802", 5000 + i, "I6513");
    (*p.mutable_facts())["revenue"] = std::to_string(1000 + i);
    (*p.mutable_facts())["employees"] = std::to_string(i % 500);
    p.set_name("企业名称比较长的一家科技有限公司" + std::to_string(i));
    if (i % 3 == 0) p.add_tags()->set_id("qual.hitech");
    firms.push_back(testing::MakeFirm(p));
  }
  return firms;
}

class SnapshotTruncationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::path(::testing::TempDir()) / ("trunc_" + std::to_string(::getpid()) + ".snap")).string();
    absl::StatusOr<FirmStore> store = FirmStore::Build(ManyFirms(3000), testing::RealTaxonomy());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(WriteSnapshotFile(path_, *store, testing::RealTaxonomy()).ok());
    ASSERT_GT(fs::file_size(path_), 64u * 4096);
  }
  void TearDown() override { fs::remove(path_); }
  // Reads every value of every firm.
  static size_t ReadAll(const FirmStore& store) {
    size_t bytes = 0;
    for (uint32_t row = 0; row < store.num_rows(); ++row) {
      const Firm f = store.ToFirm(row);
      bytes += f.name.size() + f.credit_code.size() + f.facts.size() + f.tags.size();
      (void)store.FindRow(f.credit_code);
    }
    return bytes;
  }
  std::string path_;
};

TEST_F(SnapshotTruncationTest, TruncatedWhileUsedInPlaceIsAnErrorNotSigbus) {
  for (const off_t keep : {off_t{0}, off_t{4096}, static_cast<off_t>(fs::file_size(path_) / 2)}) {
    std::shared_ptr<const SnapshotSource> source;
    absl::StatusOr<FirmStore> store =
        ReadSnapshotFile(path_, testing::RealTaxonomy(), SnapshotLoad::kInPlace, &source);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_NE(source, nullptr);
    EXPECT_TRUE(source->Verify().ok());
    // Another program cuts the file: every page past `keep` is gone from under the mapping.
    const std::string saved = [&] {
      std::ifstream in(path_, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    ASSERT_EQ(::truncate(path_.c_str(), keep), 0);
    ReadAll(*store);  // died of SIGBUS before
    absl::Status verified = source->Verify();
    EXPECT_TRUE(absl::IsDataLoss(verified)) << verified;
    EXPECT_THAT(verified.message(), HasSubstr("shrank while it was read"));
    std::ofstream(path_, std::ios::binary) << saved;  // for the next round
  }
}

TEST_F(SnapshotTruncationTest, RewrittenInPlaceIsDetected) {
  std::shared_ptr<const SnapshotSource> source;
  absl::StatusOr<FirmStore> store =
      ReadSnapshotFile(path_, testing::RealTaxonomy(), SnapshotLoad::kInPlace, &source);
  ASSERT_TRUE(store.ok());
  ::usleep(20000);  // a later modification time than the load's, whatever the clock's grain
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f << "overwritten in place";
  }
  ReadAll(*store);
  const absl::Status verified = source->Verify();
  EXPECT_THAT(verified.message(), HasSubstr("modified in place"));
}

// End to end: `batch` over a snapshot that another program truncates at some moment of the run
// ends with 0 (done before the cut, or the cut missed every page still to read) or 2 (refused),
// never with a signal; nothing half-made is published.
TEST_F(SnapshotTruncationTest, BatchOverATruncatedSnapshotExitsNotDies) {
  const std::string out = path_ + ".night";
  const std::string copy = path_ + ".copy";
  for (const char* delay : {"0", "0.01", "0.03", "0.06", "0.1", "0.2"}) {
    fs::copy_file(path_, copy, fs::copy_options::overwrite_existing);
    const std::string cmd = std::string("sh -c '") + POLMATCH_BINARY + " batch --rules " +
                            testing::RulesDir() + " --snapshot " + copy + " --as-of 2023-06-30 --out " + out +
                            " --threads 1 >/dev/null 2>&1 & pid=$!; sleep " + delay + "; truncate -s 4096 " + copy +
                            "; wait $pid; echo rc=$?'";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[64] = {};
    const size_t n = fread(buf, 1, sizeof buf - 1, p);
    pclose(p);
    const std::string rc(buf, n);
    EXPECT_TRUE(rc == "rc=0\n" || rc == "rc=2\n") << "delay " << delay << ": " << rc;
  }
  fs::remove_all(out);
  fs::remove(copy);
}

}  // namespace
}  // namespace polmatch
