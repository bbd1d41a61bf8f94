// File: output_dir.h
//
// Writes a set of files into a directory atomically: readers see either the previous complete set
// or the new complete set, never a mix, whatever moment the writer dies. The new set is written
// and fsynced into a sibling temporary directory, then exchanged with the target in one
// renameat2(RENAME_EXCHANGE) (or renamed into place when the target does not exist yet).
//
// Nothing polmatch did not write is ever deleted. A directory of outputs carries a marker file
// (kOutputMarkerFile, naming polmatch and the kind of set), and an OutputDirKind lists every file
// name polmatch may write into it. An existing target is replaced only when it is empty, or marked
// and holding nothing but those files (or, written before the marker existed, unmarked and holding
// only those files, among them the kind's `unmarked_proof`); anything else (a foreign file, a
// plain file, a symbolic link, `.`, a home directory) is refused before any work. After the
// exchange, the previous set is removed file by file, by name: a file that appeared in it
// meanwhile is kept (see kept()). Temporary siblings left by a killed run (`.NAME.new-PID`,
// `.NAME.old-PID`: the PID dead, the marker present, only listed files inside) are removed by the
// next run into the same parent.
//
// Files are streamed: a file's contents are handed to a ByteSink in chunks (ChunkedWriter keeps
// a bounded buffer), so an output far larger than memory (S2's first-night pushes, ~18 GB) is
// written with a few MiB of buffer.
//
// Example:
//   absl::StatusOr<std::unique_ptr<AtomicOutputDir>> out = AtomicOutputDir::Create("night1");
//   (*out)->WriteFile("summary.json", [](ByteSink* sink) { return sink->Write("{}\n"); });
//   (*out)->Commit();   // without Commit, the destructor removes the temporary directory
#ifndef POLMATCH_OUTPUT_OUTPUT_DIR_H_
#define POLMATCH_OUTPUT_OUTPUT_DIR_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polmatch {

// Where streamed bytes go.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual absl::Status Write(absl::string_view bytes) = 0;
};

// Appends to a string (tests, and the in-memory forms of the outputs).
class StringSink : public ByteSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  absl::Status Write(absl::string_view bytes) override {
    out_->append(bytes.data(), bytes.size());
    return absl::OkStatus();
  }

 private:
  std::string* out_;
};

// A bounded buffer in front of a sink: append to buf(), call MaybeFlush() now and then (it hands
// the buffer over once it holds `chunk` bytes), Flush() at the end.
class ChunkedWriter {
 public:
  static constexpr size_t kDefaultChunk = size_t{4} << 20;
  explicit ChunkedWriter(ByteSink* sink, size_t chunk = kDefaultChunk) : sink_(sink), chunk_(chunk) {
    buf_.reserve(chunk + 4096);
  }
  std::string& buf() { return buf_; }
  absl::Status MaybeFlush() { return buf_.size() >= chunk_ ? Flush() : absl::OkStatus(); }
  absl::Status Flush() {
    if (buf_.empty()) return absl::OkStatus();
    absl::Status s = sink_->Write(buf_);
    buf_.clear();
    return s;
  }

 private:
  ByteSink* sink_;
  size_t chunk_;
  std::string buf_;
};

// The marker file of a directory of outputs; its first line is OutputDirKind::marker.
inline constexpr char kOutputMarkerFile[] = ".polmatch";

// A kind of output directory: how it is marked, and every file polmatch may write into it.
struct OutputDirKind {
  std::string marker;               // first line of the marker file, e.g. "polmatch night directory"
  std::vector<std::string> files;   // plain file names; WriteFile refuses any other name
  std::string unmarked_proof;       // an unmarked directory of `files` is taken as polmatch's
                                    // (written before the marker existed) only if it holds this one
};

// A night of `polmatch batch` (SPEC §5, §7). The one list of what a night's directory holds: a
// new output file is added here, and nowhere else.
const OutputDirKind& NightDirKind();

// The temporary directory of a new output set, exchanged with the target on Commit().
class AtomicOutputDir {
 public:
  // Refuses (InvalidArgument, one line naming the path and why) a target that is not absent, an
  // empty directory, or a directory of `kind` written by polmatch (see the file comment).
  static absl::Status CheckTarget(const std::string& dir, const OutputDirKind& kind = NightDirKind());
  // CheckTarget, then removes stale temporaries of earlier killed runs and makes the temporary
  // directory (with its marker).
  static absl::StatusOr<std::unique_ptr<AtomicOutputDir>> Create(const std::string& dir,
                                                                 const OutputDirKind& kind = NightDirKind());
  ~AtomicOutputDir();  // removes the temporary directory unless committed
  AtomicOutputDir(const AtomicOutputDir&) = delete;
  AtomicOutputDir& operator=(const AtomicOutputDir&) = delete;

  // Creates `name` (a plain file name) in the temporary directory and lets `fill` stream its
  // contents; the kernel starts writing them back at once. `fill`'s error is returned as is.
  // `same_as`, if set, is the same file of the last run: as long as the bytes are equal to it
  // nothing is written, and a file identical to it becomes a hard link to it (a steady-state
  // night rewrites nothing that did not change). Thread-safe (different files).
  absl::Status WriteFile(const std::string& name, const std::function<absl::Status(ByteSink*)>& fill,
                         const std::string& same_as = "");
  // Makes `name` a hard link to `existing`, a file of an earlier output set known to hold the
  // right bytes (durable since it was written); copied when it cannot be linked.
  absl::Status LinkFile(const std::string& name, const std::string& existing);
  // fsyncs every file and the directory, then exchanges it with the target.
  absl::Status Commit();
  // After Commit(): the directory holding the previous set, kept because a file polmatch did not
  // write appeared in it while this run wrote; empty when the previous set was removed.
  const std::string& kept() const { return kept_; }

 private:
  AtomicOutputDir(std::string target, std::string parent, std::string tmp, const OutputDirKind& kind)
      : target_(std::move(target)), parent_(std::move(parent)), tmp_(std::move(tmp)), kind_(kind) {}
  // Removes the kind's files (and the marker) from `dir`, then `dir` itself if it is then empty.
  bool RemoveSet(const std::string& dir) const;
  std::string target_, parent_, tmp_, kept_;
  OutputDirKind kind_;
  std::mutex mu_;  // WriteFile may be called from several threads
  std::vector<std::pair<int, std::string>> unsynced_;  // written files, fsynced by Commit()
  bool committed_ = false;
};

struct OutputFile {
  std::string name;      // a plain file name inside the directory
  std::string contents;
};

// Replaces `dir` with a directory holding exactly `files`. `after_each_file`, if set, is called
// after each file is written (tests use it to die mid-write).
absl::Status WriteDirectoryAtomically(const std::string& dir, const std::vector<OutputFile>& files,
                                      const std::function<void(const std::string&)>& after_each_file = {},
                                      const OutputDirKind& kind = NightDirKind());

}  // namespace polmatch

#endif  // POLMATCH_OUTPUT_OUTPUT_DIR_H_
