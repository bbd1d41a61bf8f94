// Single-firm latency through the embedded API (bench/README.md: warm p50/p99), one thread, over random
// registered firms of a snapshot.
// usage: polmatch_latency RULES_DIR SNAPSHOT [QUERIES] [AS_OF] [statuses]
// MatchStatuses is timed into one reused vector (a portal's hot path), then into a new vector
// per answer, then Match (every policy, explained).
// ("statuses" measures MatchStatuses only, e.g. under perf; POLMATCH_IN_PLACE=1 loads the
// snapshot in place, EngineOptions::snapshot_in_place; POLMATCH_ASK_TWICE=1 asks each firm twice
// in a row and times the second answer: the same work with the firm's data in cache).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "engine/index/snapshot.h"
#include "engine/match/policy_index.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/dates.h"
#include "polmatch/engine.h"

namespace {

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * (v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: polmatch_latency RULES_DIR SNAPSHOT [QUERIES] [AS_OF] [statuses]\n");
    return 2;
  }
  const int queries = argc > 3 ? std::stoi(argv[3]) : 20000;
  const absl::CivilDay as_of = argc > 4 ? *polmatch::ParseDate(argv[4]) : absl::CivilDay(2025, 6, 30);
  polmatch::EngineOptions options;
  options.rules_dir = argv[1];
  options.snapshot_path = argv[2];
  options.snapshot_in_place = getenv("POLMATCH_IN_PLACE") != nullptr;  // measure both loads
  const auto t0 = std::chrono::steady_clock::now();
  auto engine = polmatch::Engine::Create(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The credit codes to ask for, read from the snapshot itself.
  polmatch::Diagnostics diags;
  auto tax = polmatch::Taxonomy::LoadDir(std::string(argv[1]) + "/taxonomy", &diags);
  auto store = polmatch::ReadSnapshotFile(argv[2], *tax);
  std::mt19937_64 rng(42);
  std::vector<std::string> codes;
  for (int i = 0; i < queries; ++i) {
    codes.emplace_back(store->credit_code(static_cast<uint32_t>(rng() % store->num_rows())));
  }
  store = absl::UnknownError("released");
  // Work counters of each query of the last run (MatchStatuses only), to show what the slow
  // tail is made of.
  std::vector<polmatch::PolicyIndex::Stats> per_query;
  auto run = [&](const char* what, auto&& query) {
    for (int i = 0; i < std::min(queries, 1000); ++i) query(codes[i]);  // warm up
    per_query.clear();
    const bool twice = getenv("POLMATCH_ASK_TWICE") != nullptr;
    std::vector<double> us, sizes;
    us.reserve(codes.size());
    size_t applied = 0;
    const std::clock_t cpu0 = std::clock();
    for (const std::string& code : codes) {
      if (twice) query(code);
      const auto a = std::chrono::steady_clock::now();
      const size_t n = query(code);
      applied += n;
      sizes.push_back(static_cast<double>(n));
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
    }
    const double cpu_us = 1e6 * static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC / us.size();
    std::printf("%-14s p50 %8.2f us  p99 %8.2f us  max %9.2f us  cpu mean %.2f us  (%zu queries, %.1f results/query)\n",
                what, Percentile(us, 0.5), Percentile(us, 0.99), Percentile(us, 1.0), cpu_us, us.size(),
                static_cast<double>(applied) / us.size());
    std::printf("%-14s results per query p50 %.0f p99 %.0f max %.0f\n", "", Percentile(sizes, 0.5),
                Percentile(sizes, 0.99), Percentile(sizes, 1.0));
    if (per_query.size() != us.size()) return;
    // The slowest 1% against the rest: candidates, visits and results per query.
    std::vector<size_t> order(us.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return us[a] > us[b]; });
    const size_t tail = std::max<size_t>(1, order.size() / 100);
    double c[2] = {0, 0}, v[2] = {0, 0}, r[2] = {0, 0}, t[2] = {0, 0}, n[2] = {0, 0};
    for (size_t j = 0; j < order.size(); ++j) {
      const int k = j < tail ? 0 : 1;
      const size_t i = order[j];
      c[k] += per_query[i].candidates;
      v[k] += per_query[i].visited;
      r[k] += sizes[i];
      t[k] += us[i];
      n[k] += 1;
    }
    for (int k = 0; k < 2; ++k) {
      std::printf("%-14s %s: %.1f us, %.0f candidates, %.0f visited, %.0f results per query\n", "",
                  k == 0 ? "slowest 1%" : "other 99%", t[k] / n[k], c[k] / n[k], v[k] / n[k], r[k] / n[k]);
    }
  };
  std::printf("engine load %.3f s: %zu firms x %zu policies\n", load_s, (*engine)->num_firms(),
              (*engine)->num_policies());
  int64_t candidates = 0, visited = 0, visits = 0, generic = 0, asked = 0;
  // The portal's hot path: one vector per thread, reused.
  std::vector<polmatch::PolicyMatch> reused;
  run("MatchStatuses", [&](const std::string& code) {
    const absl::Status status = (*engine)->MatchStatuses(code, as_of, &reused);
    const polmatch::PolicyIndex::Stats stats = polmatch::PolicyIndex::LastStats();
    per_query.push_back(stats);
    candidates += stats.candidates;
    visits += stats.conditions;
    visited += stats.visited;
    generic += stats.generic;
    ++asked;
    return status.ok() ? reused.size() : 0;
  });
  std::printf("               policy index: %.0f candidate policies/query, %.0f past the tag prefilter, "
              "%.0f condition visits (%.0f generic)/query\n",
              static_cast<double>(candidates) / asked, static_cast<double>(visited) / asked,
              static_cast<double>(visits) / asked, static_cast<double>(generic) / asked);
  run("  new vector", [&](const std::string& code) {  // a fresh vector per answer
    auto r = (*engine)->MatchStatuses(code, as_of);
    return r.ok() ? r->size() : 0;
  });
  if (argc > 5 && std::string(argv[5]) == "statuses") return 0;
  run("Match", [&](const std::string& code) {
    auto r = (*engine)->Match(code, as_of);
    return r.ok() ? static_cast<size_t>(r->results_size()) : 0;
  });
  return 0;
}
