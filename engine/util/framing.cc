#include "engine/util/framing.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

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
  Checksum64Stream sum;
  sum.Update(data);
  return sum.Finish();
}

void Checksum64Stream::Update(absl::string_view data) {
  total_ += data.size();
  const char* p = data.data();
  size_t n = data.size();
  auto block = [&](const char* q) {
    uint64_t w[4];
    std::memcpy(w, q, 32);
    for (int i = 0; i < 4; ++i) lanes_[i] = Round(lanes_[i], w[i]);
  };
  if (tail_size_ > 0) {
    const size_t take = std::min(n, 32 - tail_size_);
    std::memcpy(tail_ + tail_size_, p, take);
    tail_size_ += take;
    p += take;
    n -= take;
    if (tail_size_ < 32) return;
    block(tail_);
    tail_size_ = 0;
  }
  while (n >= 32) {
    block(p);
    p += 32;
    n -= 32;
  }
  std::memcpy(tail_, p, n);
  tail_size_ = n;
}

uint64_t Checksum64Stream::Finish() const {
  uint64_t h = Rotl(lanes_[0], 1) + Rotl(lanes_[1], 7) + Rotl(lanes_[2], 12) + Rotl(lanes_[3], 18) + total_;
  const char* p = tail_;
  size_t n = tail_size_;
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

absl::StatusOr<FileSum> ChecksumFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  Checksum64Stream sum;
  FileSum out;
  std::vector<char> buf(size_t{1} << 20);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return absl::DataLossError(absl::StrCat(path, ": cannot read: ", std::strerror(err)));
    }
    sum.Update(absl::string_view(buf.data(), static_cast<size_t>(n)));
    out.size += static_cast<uint64_t>(n);
  }
  ::close(fd);
  out.checksum = sum.Finish();
  return out;
}

}  // namespace polmatch
