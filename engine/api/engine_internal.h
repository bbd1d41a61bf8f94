// File: engine_internal.h
//
// Ways to build a polmatch::Engine that are not part of the public API.
#ifndef POLMATCH_API_ENGINE_INTERNAL_H_
#define POLMATCH_API_ENGINE_INTERNAL_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "polmatch/engine.h"

namespace polmatch {

// An engine over a catalog and a registry already loaded (the command line's `query` and
// `check`, which read firm files as well as snapshots and report load errors themselves). It
// answers exactly as Engine::Create's, but for a few queries: it reads the store's columns and
// searches its codes instead of building the per-row records and the code index.
absl::StatusOr<std::unique_ptr<Engine>> NewEngineForQuery(Catalog catalog, FirmStore store,
                                                          const EngineOptions& options);
// The same, choosing how firms are read: with `per_row_records`, as Engine::Create reads them
// (the records and the code index of the microsecond path), else as NewEngineForQuery does.
absl::StatusOr<std::unique_ptr<Engine>> NewEngineFromLoaded(Catalog catalog, FirmStore store,
                                                            const EngineOptions& options, bool per_row_records);

}  // namespace polmatch

#endif  // POLMATCH_API_ENGINE_INTERNAL_H_
