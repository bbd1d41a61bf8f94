// libFuzzer target for the shard night's two binary formats: the manifest (shard.pmshard) and the
// merge's selection (selection.pmsel). Whatever the bytes, parsing must return an error or a
// value that round-trips: what it serializes to parses again, to the same bytes (abort otherwise).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "engine/output/night_shard.h"
#include "engine/util/framing.h"

namespace {

void Fail(const char* what) {
  std::cerr << "round trip failed: " << what << "\n";
  std::abort();
}

void RoundTrip(const std::string& bytes) {
  if (auto m = polmatch::ParseShardManifest(bytes); m.ok()) {
    const std::string once = polmatch::SerializeShardManifest(*m);
    auto again = polmatch::ParseShardManifest(once);
    if (!again.ok()) Fail("a serialized manifest does not parse");
    if (polmatch::SerializeShardManifest(*again) != once) Fail("manifest bytes changed");
  }
  if (auto s = polmatch::ParseShardSelection(bytes); s.ok()) {
    const std::string once = polmatch::SerializeShardSelection(*s);
    auto again = polmatch::ParseShardSelection(once);
    if (!again.ok()) Fail("a serialized selection does not parse");
    if (polmatch::SerializeShardSelection(*again) != once) Fail("selection bytes changed");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.empty()) return 0;
  RoundTrip(bytes);
  // Behind the checksum too: the trailer is fixed up so the structural checks are exercised.
  if (bytes.size() > 16) {
    std::string fixed = bytes.substr(0, bytes.size() - 8);
    const uint64_t sum = polmatch::Checksum64(fixed);
    fixed.append(reinterpret_cast<const char*>(&sum), 8);
    RoundTrip(fixed);
  }
  return 0;
}
