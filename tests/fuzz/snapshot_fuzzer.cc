// libFuzzer target for the two binary formats: the snapshot and the batch state file. Whatever
// the bytes, parsing must return an error or a value that round-trips: what it serializes to
// parses again, and serializes to the same bytes (abort otherwise, so the fuzzer reports it). The
// state's streaming reader must accept and refuse what ParseState does, with the same night or
// the same error; its streaming writer must write what SerializeState writes.
#include "tests/fuzz/fuzz_taxonomy.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "engine/index/snapshot.h"
#include "engine/output/night.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

const polmatch::Taxonomy& Tax() { return polmatch::FuzzTaxonomy(); }

void Fail(const char* what) {
  std::cerr << "round trip failed: " << what << "\n";
  std::abort();
}

// The state read a policy at a time (StateReader, what `merge` streams with) agrees with
// ParseState: the same error, or the same night; and the night written a piece at a time
// (StateWriter) is the bytes SerializeState writes.
void StreamAgrees(const std::string& bytes) {
  const absl::StatusOr<polmatch::NightResult> parsed = polmatch::ParseState(bytes);
  absl::StatusOr<std::unique_ptr<polmatch::StateReader>> reader = polmatch::StateReader::FromBytes(bytes);
  absl::Status status = reader.status();
  polmatch::NightResult streamed;
  if (reader.ok()) {
    streamed = std::move((*reader)->firms());
    while (true) {
      polmatch::PolicyNight p;
      absl::StatusOr<bool> more = (*reader)->Next(&p);
      if (!more.ok()) {
        status = more.status();
        break;
      }
      if (!*more) break;
      streamed.policies.push_back(std::move(p));
    }
  }
  if (status != parsed.status()) Fail("the streaming reader and ParseState disagree");
  if (!parsed.ok()) return;
  const std::string want = polmatch::SerializeState(*parsed);
  if (polmatch::SerializeState(streamed) != want) Fail("the streaming reader read another night");
  std::string pieces;
  polmatch::StringSink sink(&pieces);
  polmatch::StreamOptions options;
  options.chunk = 5;
  polmatch::StateWriter w(&sink, options);
  const size_t half = parsed->num_firms() / 2;
  bool ok = w.Begin(parsed->as_of, parsed->num_firms(), static_cast<uint32_t>(parsed->policies.size())).ok() &&
            w.AddCodes(absl::string_view(parsed->codes).substr(0, half * polmatch::NightResult::kCodeLen)).ok() &&
            w.AddCodes(absl::string_view(parsed->codes).substr(half * polmatch::NightResult::kCodeLen)).ok() &&
            w.AddCodeOrder(parsed->code_order.data(), half).ok() &&
            w.AddCodeOrder(parsed->code_order.data() + half, parsed->code_order.size() - half).ok();
  for (const polmatch::PolicyNight& p : parsed->policies) ok = ok && w.AddPolicy(p).ok();
  if (!ok || !w.Finish().ok() || pieces != want) Fail("the state written in pieces differs");
}

// Whatever parses serializes to bytes that parse again and serialize identically.
void RoundTrip(const std::string& bytes) {
  StreamAgrees(bytes);
  if (auto store = polmatch::ParseSnapshot(bytes, Tax()); store.ok()) {
    const std::string once = polmatch::SerializeSnapshot(*store, Tax());
    auto again = polmatch::ParseSnapshot(once, Tax());
    if (!again.ok()) Fail("a serialized snapshot does not parse");
    if (again->num_rows() != store->num_rows()) Fail("snapshot row count changed");
    if (polmatch::SerializeSnapshot(*again, Tax()) != once) Fail("snapshot bytes changed");
  }
  if (auto state = polmatch::ParseState(bytes); state.ok()) {
    const std::string once = polmatch::SerializeState(*state);
    auto again = polmatch::ParseState(once);
    if (!again.ok()) Fail("a serialized state does not parse");
    if (polmatch::SerializeState(*again) != once) Fail("state bytes changed");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // Fuzz behind the checksums too: the first byte picks a format, and the checksum is fixed up
  // so the parser's structural checks are exercised, not only the checksum.
  if (bytes.empty()) return 0;
  RoundTrip(bytes);
  if (bytes.size() > 16) {
    const std::string fixed = polmatch::fuzz::WithFixedChecksum(bytes);
    auto s2 = polmatch::ParseSnapshot(fixed, Tax());
    if (s2.ok()) {
      for (uint32_t row = 0; row < s2->num_rows(); ++row) (void)s2->ToFirm(row);
    }
    RoundTrip(fixed);
    auto state2 = polmatch::ParseState(fixed);  // the state file has the same trailer
    if (state2.ok()) (void)polmatch::PushesJsonl(*state2, &*state2);
  }
  return 0;
}
