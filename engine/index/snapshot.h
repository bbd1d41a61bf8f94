// File: snapshot.h
//
// The snapshot file: a FirmStore as written by `polmatch index` and loaded by `batch`, `query`,
// `check` and the embedded engine with one read. Layout: an 8-byte magic, a version, the tag and
// fact ids the columns were built with (so a snapshot survives additions to the tag library: its
// columns are remapped by id on load), then every column as a length-prefixed, 8-byte-aligned
// section, then a 64-bit checksum of everything before it. A truncated, corrupted or foreign file
// is refused with an error naming the reason; it never loads partially.
#ifndef POLMATCH_INDEX_SNAPSHOT_H_
#define POLMATCH_INDEX_SNAPSHOT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/index/firm_store.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/framing.h"

namespace polmatch {

std::string SerializeSnapshot(const FirmStore& store, const Taxonomy& taxonomy);
absl::StatusOr<FirmStore> ParseSnapshot(absl::string_view bytes, const Taxonomy& taxonomy);

// Writes atomically (temporary file `PATH.tmp-PID`, fsync, rename): a reader that has the old
// file mapped keeps seeing the old file. Refuses (CheckSnapshotTarget) to replace anything but a
// snapshot; removes `PATH.tmp-PID` files of killed runs (the PID dead, the file empty or starting
// with the snapshot magic).
absl::Status WriteSnapshotFile(const std::string& path, const FirmStore& store,
                               const Taxonomy& taxonomy);

// Ok when `path` may receive a snapshot: it does not exist, or is an empty file, or a snapshot
// (its magic). A directory, a symbolic link, a device or any other file is refused
// (InvalidArgument naming the path): polmatch never replaces a file it did not write.
absl::Status CheckSnapshotTarget(const std::string& path);

// How ReadSnapshotFile holds the columns.
enum class SnapshotLoad {
  // Copied out of the file: the store does not depend on the file afterwards. For long-lived
  // processes (the embedded engine, `serve`), where someone may overwrite the file in place.
  kCopy,
  // Views of the mapped file, used in place (no copy, no fresh pages): for a short-lived process
  // such as `batch`. The file should not be modified in place while the store lives (`polmatch
  // index` replaces it with a rename, which is safe); if another program truncates or rewrites
  // it, reads see zeros or the new bytes, never SIGBUS or an out-of-bounds index, and
  // SnapshotSource::Verify() reports it (batch then publishes nothing and exits 2).
  kInPlace,
};

// The file a store loaded in place reads from. Another program may truncate or rewrite it while
// the store lives: a read past a truncated end yields zeros instead of killing the process with
// SIGBUS (engine/util/mapping_guard.h), and the columns that index other columns (offsets, row
// numbers, industry ids) are copied at load, so neither zeros nor new bytes can send a reader
// out of bounds; only values can be wrong. Verify() says whether they were.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // Ok while the file is as it was loaded; DataLoss once reads past its end were answered with
  // zeros (it shrank) or its size or modification time changed. Call it before trusting (e.g.
  // publishing) anything computed from the store.
  virtual absl::Status Verify() const = 0;
  // Drops the file's pages from this process's memory (they stay in the page cache; a later read
  // faults them in again): for when the store no longer reads the file, e.g. `batch --shard`
  // has copied its shard out of a whole snapshot. Verify() still answers as before.
  virtual void DropPages() const = 0;
};

// Maps the file, verifies its frame (magic, version, checksum) and every column's shape. With
// kInPlace and `source`, *source is the mapped file, for Verify().
absl::StatusOr<FirmStore> ReadSnapshotFile(const std::string& path, const Taxonomy& taxonomy,
                                           SnapshotLoad load = SnapshotLoad::kCopy,
                                           std::shared_ptr<const SnapshotSource>* source = nullptr);

}  // namespace polmatch

#endif  // POLMATCH_INDEX_SNAPSHOT_H_
