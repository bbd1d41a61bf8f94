// File: parallel.h
//
// ParallelFor: the engine's one way to run work on several threads. `fn(t)` runs for every
// t in [0, threads), each on its own thread, t = 0 on the caller's; ParallelFor returns when all
// have returned. An exception thrown by any of them is rethrown on the caller once every thread
// has been joined (the first one thrown, by t). Threads are started per call: the engine's
// parallel steps are few and long (a block scan, a sort, building the per-row records), so a
// pool would save nothing measurable.
//
// Example:
//   std::vector<uint64_t> partial(threads);
//   ParallelFor(threads, [&](int t) { partial[t] = Count(blocks, t, threads); });
#ifndef POLMATCH_UTIL_PARALLEL_H_
#define POLMATCH_UTIL_PARALLEL_H_

#include <exception>
#include <thread>
#include <vector>

namespace polmatch {

template <typename Fn>
void ParallelFor(int threads, Fn&& fn) {
  if (threads <= 1) {
    fn(0);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  auto run = [&](int t) {
    try {
      fn(t);
    } catch (...) {
      errors[static_cast<size_t>(t)] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads) - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(run, t);
  run(0);
  for (std::thread& th : pool) th.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace polmatch

#endif  // POLMATCH_UTIL_PARALLEL_H_
