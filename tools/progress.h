// File: progress.h
//
// A progress bar on stderr, drawn only when stderr is a terminal (never into logs), and the
// resource report (wall time, peak memory) that long commands print when they finish.
#ifndef POLMATCH_TOOLS_PROGRESS_H_
#define POLMATCH_TOOLS_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace polmatch::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total);
  ~ProgressBar();
  void Update(uint64_t done);
  void Finish();

 private:
  std::string label_;
  uint64_t total_;
  bool enabled_;
  bool finished_ = false;
  int last_percent_ = -1;
};

// One phase's line on stderr: "  phase        1.234 s" and `note` after it.
void PrintPhase(const std::string& phase, double seconds, const std::string& note = "");

// Wall-clock phases and peak RSS, printed to stderr as "phase: 1.23 s".
class PhaseTimer {
 public:
  PhaseTimer();
  // Prints the time since the last Lap (or construction) under `phase`.
  void Lap(const std::string& phase);
  // Prints total wall time and peak resident memory.
  void Done(const std::string& what);

 private:
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace polmatch::cli

#endif  // POLMATCH_TOOLS_PROGRESS_H_
