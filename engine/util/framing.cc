#include "engine/util/framing.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace polmatch {
namespace {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kP3 = 0x165667B19E3779F9ULL;

uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
uint64_t Round(uint64_t acc, uint64_t v) { return Rotl(acc + v * kP2, 31) * kP1; }

}  // namespace

uint64_t Checksum64(absl::string_view data) {
  const char* p = data.data();
  size_t n = data.size();
  uint64_t a = kP1 + kP2, b = kP2, c = 0, d = 0 - kP1;
  while (n >= 32) {
    uint64_t w[4];
    std::memcpy(w, p, 32);
    a = Round(a, w[0]);
    b = Round(b, w[1]);
    c = Round(c, w[2]);
    d = Round(d, w[3]);
    p += 32;
    n -= 32;
  }
  uint64_t h = Rotl(a, 1) + Rotl(b, 7) + Rotl(c, 12) + Rotl(d, 18) + data.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = Rotl(h ^ Round(0, w), 27) * kP1 + kP3;
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    h = Rotl(h ^ (static_cast<unsigned char>(*p) * kP3), 11) * kP1;
    ++p;
    --n;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  return h ^ (h >> 32);
}

void AppendChecksum(std::string* out) {
  const uint64_t sum = Checksum64(*out);
  out->append(reinterpret_cast<const char*>(&sum), sizeof sum);
}

absl::StatusOr<absl::string_view> VerifyFrame(absl::string_view bytes, absl::string_view magic,
                                              absl::string_view kind,
                                              absl::string_view corrupt_prefix) {
  if (bytes.size() < magic.size() + 8 || bytes.substr(0, magic.size()) != magic) {
    return absl::DataLossError(absl::StrCat(corrupt_prefix, ": not a polmatch ", kind));
  }
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (Checksum64(bytes.substr(0, bytes.size() - 8)) != stored) {
    return absl::DataLossError(absl::StrCat(corrupt_prefix, ": checksum mismatch"));
  }
  return bytes.substr(magic.size(), bytes.size() - magic.size() - 8);
}

}  // namespace polmatch
