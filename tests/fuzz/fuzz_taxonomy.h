// File: fuzz_taxonomy.h
//
// The real tag library of the source tree, loaded once per fuzzing process (aborts if it does
// not load: a fuzzer without it would test nothing).
#ifndef POLMATCH_TESTS_FUZZ_FUZZ_TAXONOMY_H_
#define POLMATCH_TESTS_FUZZ_FUZZ_TAXONOMY_H_

#include <cstdlib>
#include <iostream>
#include <string>

#include "engine/taxonomy/taxonomy.h"

namespace polmatch {

inline const Taxonomy& FuzzTaxonomy() {
  static const Taxonomy* t = [] {
    Diagnostics d;
    auto r = Taxonomy::LoadDir(std::string(POLMATCH_SOURCE_DIR) + "/rules/taxonomy", &d);
    if (!r.ok()) {
      std::cerr << r.status() << "\n";
      std::abort();
    }
    return new Taxonomy(std::move(*r));
  }();
  return *t;
}

}  // namespace polmatch

#endif  // POLMATCH_TESTS_FUZZ_FUZZ_TAXONOMY_H_
