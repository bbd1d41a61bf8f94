// libFuzzer target for the shard night's two binary formats: the manifest (shard.pmshard) and the
// merge's selection (selection.pmsel). Whatever the bytes, parsing must return an error or a
// value that round-trips: what it serializes to parses again, to the same bytes (abort otherwise).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/output/night_shard.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr char kWho[] = "shard_manifest_fuzzer";

void RoundTrip(const std::string& bytes) {
  polmatch::fuzz::CheckRoundTrip(
      bytes, [](const std::string& b) { return polmatch::ParseShardManifest(b); },
      [](const polmatch::ShardManifest& m) { return polmatch::SerializeShardManifest(m); }, kWho, "manifest");
  polmatch::fuzz::CheckRoundTrip(
      bytes, [](const std::string& b) { return polmatch::ParseShardSelection(b); },
      [](const polmatch::ShardSelection& s) { return polmatch::SerializeShardSelection(s); }, kWho, "selection");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.empty()) return 0;
  RoundTrip(bytes);
  // Behind the checksum too: the trailer is fixed up so the structural checks are exercised.
  if (bytes.size() > 16) RoundTrip(polmatch::fuzz::WithFixedChecksum(bytes));
  return 0;
}
