// File: output_dir.h
//
// Writes a set of files into a directory atomically: readers see either the previous complete set
// or the new complete set, never a mix, whatever moment the writer dies. The new set is written
// and fsynced into a sibling temporary directory, then exchanged with the target in one
// renameat2(RENAME_EXCHANGE) (or renamed into place when the target does not exist yet).
#ifndef POLMATCH_OUTPUT_OUTPUT_DIR_H_
#define POLMATCH_OUTPUT_OUTPUT_DIR_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace polmatch {

struct OutputFile {
  std::string name;      // a plain file name inside the directory
  std::string contents;
};

// Replaces `dir` with a directory holding exactly `files`. `after_each_file`, if set, is called
// after each file is written (tests use it to die mid-write).
absl::Status WriteDirectoryAtomically(const std::string& dir, const std::vector<OutputFile>& files,
                                      const std::function<void(const std::string&)>& after_each_file = {});

}  // namespace polmatch

#endif  // POLMATCH_OUTPUT_OUTPUT_DIR_H_
