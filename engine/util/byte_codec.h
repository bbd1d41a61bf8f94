#ifndef POLMATCH_ENGINE_UTIL_BYTE_CODEC_H_
#define POLMATCH_ENGINE_UTIL_BYTE_CODEC_H_

// Little helpers for polmatch's own binary files (the night's state, the shard manifest): values
// written in the machine's byte order (the files say which in their headers), strings as a
// uint32 length and the bytes, and a bounds-checked reader that answers false instead of reading
// past the end, so a truncated or corrupt file is an error, never a crash.

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace polmatch {

template <typename T>
void PutBytesOf(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out->append(buf, sizeof(T));
}

inline void PutLengthPrefixed(std::string* out, absl::string_view s) {
  PutBytesOf<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out->append(s.data(), s.size());
}

class ByteReader {
 public:
  explicit ByteReader(absl::string_view data) : data_(data) {}
  template <typename T>
  bool Get(T* v) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetBytes(size_t n, absl::string_view* out) {
    if (data_.size() - pos_ < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  // A length-prefixed string of at most `max` bytes.
  bool GetString(std::string* out, size_t max = SIZE_MAX) {
    uint32_t n;
    absl::string_view s;
    if (!Get(&n) || n > max || !GetBytes(n, &s)) return false;
    out->assign(s.data(), s.size());
    return true;
  }
  size_t remaining() const { return data_.size() - pos_; }
  size_t pos() const { return pos_; }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

}  // namespace polmatch

#endif  // POLMATCH_ENGINE_UTIL_BYTE_CODEC_H_
