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
  // such as `batch`. The file must not be modified in place while the store lives (`polmatch
  // index` replaces it with a rename, which is safe).
  kInPlace,
};

// Maps the file, verifies its frame (magic, version, checksum) and every column's shape.
absl::StatusOr<FirmStore> ReadSnapshotFile(const std::string& path, const Taxonomy& taxonomy,
                                           SnapshotLoad load = SnapshotLoad::kCopy);

}  // namespace polmatch

#endif  // POLMATCH_INDEX_SNAPSHOT_H_
