// File: mapping_guard.h
//
// A file mapped in place can shrink under the process: another program truncates it, and the next
// touch of a page past the new end raises SIGBUS, which kills the process (a `batch` reading its
// snapshot died so in 9 of 16 runs). A guarded mapping turns that signal into a flag: a SIGBUS
// whose address lies in a guarded range maps zero pages over the rest of the range (the access,
// retried, reads zeros) and marks the range damaged. Whoever computed from the mapping checks
// Damaged() before trusting the result, and fails with an error instead. A SIGBUS anywhere else
// goes to the handler installed before (or the default: the process dies as before).
//
// Zeros are safe to read only where a zero cannot send the reader out of bounds: keep offsets and
// indexes into other columns in memory, and only plain values in the mapping (snapshot.cc does).
//
// Example:
//   MappingGuard guard(data, size);      // while the mapping lives
//   ... read data ...
//   if (guard.Damaged()) return absl::DataLossError("the file shrank while it was read");
#ifndef POLMATCH_UTIL_MAPPING_GUARD_H_
#define POLMATCH_UTIL_MAPPING_GUARD_H_

#include <cstddef>

namespace polmatch {

class MappingGuard {
 public:
  // Guards [data, data + size) (a whole mapping, page aligned). At most 64 ranges are guarded at
  // once; beyond that guarded() is false and the range is not protected.
  MappingGuard(const void* data, size_t size);
  ~MappingGuard();  // unguards: call before the range is unmapped
  MappingGuard(const MappingGuard&) = delete;
  MappingGuard& operator=(const MappingGuard&) = delete;

  bool guarded() const { return slot_ >= 0; }
  // True once a read past the end of the (shrunk) file was answered with zeros.
  bool Damaged() const;

 private:
  int slot_ = -1;
};

}  // namespace polmatch

#endif  // POLMATCH_UTIL_MAPPING_GUARD_H_
