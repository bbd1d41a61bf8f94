// File: input_file.h
//
// Opening an input file (rules, firm data, a snapshot, a state file) so that what is not a
// regular file is refused at once instead of hanging the run: a FIFO's open blocks until some
// other process writes to it, and /dev/zero or a terminal never ends. The open itself uses
// O_NONBLOCK (a FIFO without a writer opens at once), then fstat decides; the descriptor handed
// back is blocking again. Every reader of an input path goes through here.
//
// Example:
//   absl::StatusOr<int> fd = OpenRegularFile("firms.jsonl");
//   if (!fd.ok()) return fd.status();   // "firms.jsonl: not a regular file (a FIFO)"
//   ... ::read(*fd, ...) ...; ::close(*fd);
#ifndef POLMATCH_UTIL_INPUT_FILE_H_
#define POLMATCH_UTIL_INPUT_FILE_H_

#include <sys/stat.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace polmatch {

// A read-only, close-on-exec descriptor of the regular file at `path` (symbolic links followed);
// the caller closes it. NotFound / PermissionDenied with the system's reason when it cannot be
// opened; InvalidArgument "PATH: not a regular file (a directory|a FIFO|a device|a socket)".
absl::StatusOr<int> OpenRegularFile(const std::string& path);

// OpenRegularFile with the fstat that found the file regular: for readers that map the file and
// need its size (the snapshot, the state file).
struct RegularFile {
  int fd = -1;  // the caller closes it
  struct stat st {};
  size_t size() const { return static_cast<size_t>(st.st_size); }
};
absl::StatusOr<RegularFile> OpenRegularFileWithStat(const std::string& path);

// The same check without keeping the file open, for readers that open the path themselves
// (std::ifstream) right after.
absl::Status CheckRegularFile(const std::string& path);

// The whole contents of a regular file.
absl::StatusOr<std::string> ReadRegularFile(const std::string& path);

}  // namespace polmatch

#endif  // POLMATCH_UTIL_INPUT_FILE_H_
