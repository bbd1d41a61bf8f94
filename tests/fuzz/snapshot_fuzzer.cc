// libFuzzer target for the two binary formats: the snapshot and the batch state file. Whatever
// the bytes, parsing must return an error or a value that serializes back without crashing.
#include "tests/fuzz/fuzz_taxonomy.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "engine/index/snapshot.h"
#include "engine/output/night.h"

namespace {

const polmatch::Taxonomy& Tax() { return polmatch::FuzzTaxonomy(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // Fuzz behind the checksums too: the first byte picks a format, and the checksum is fixed up
  // so the parser's structural checks are exercised, not only the checksum.
  if (bytes.empty()) return 0;
  auto store = polmatch::ParseSnapshot(bytes, Tax());
  if (store.ok()) (void)polmatch::SerializeSnapshot(*store, Tax());
  auto state = polmatch::ParseState(bytes);
  if (state.ok()) (void)polmatch::SerializeState(*state);
  if (bytes.size() > 16) {
    std::string fixed = bytes.substr(0, bytes.size() - 8);
    const uint64_t sum = polmatch::Checksum64(fixed);
    fixed.append(reinterpret_cast<const char*>(&sum), 8);
    auto s2 = polmatch::ParseSnapshot(fixed, Tax());
    if (s2.ok()) {
      for (uint32_t row = 0; row < s2->num_rows(); ++row) (void)s2->ToFirm(row);
    }
    auto state2 = polmatch::ParseState(fixed);  // the state file has the same trailer
    if (state2.ok()) (void)polmatch::PushesJsonl(*state2, &*state2);
  }
  return 0;
}
