#include "tools/progress.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace polmatch::cli {

ProgressBar::ProgressBar(std::string label, uint64_t total)
    : label_(std::move(label)), total_(total), enabled_(::isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(uint64_t done) {
  if (!enabled_ || finished_ || total_ == 0) return;
  const int percent = static_cast<int>(done * 100 / total_);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  const int width = 30;
  const int filled = percent * width / 100;
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%", label_.c_str(), filled,
               "##############################", width - filled, "", percent);
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  if (last_percent_ >= 0) std::fprintf(stderr, "\r\033[K");
}

void PrintPhase(const std::string& phase, double seconds, const std::string& note) {
  std::fprintf(stderr, "  %-12s %8.3f s%s\n", phase.c_str(), seconds, note.c_str());
}

PhaseTimer::PhaseTimer() : start_(std::chrono::steady_clock::now()), last_(start_) {}

void PhaseTimer::Lap(const std::string& phase) {
  const auto now = std::chrono::steady_clock::now();
  PrintPhase(phase, std::chrono::duration<double>(now - last_).count());
  last_ = now;
}

void PhaseTimer::Done(const std::string& what) {
  const auto now = std::chrono::steady_clock::now();
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  std::fprintf(stderr, "%s: %.3f s wall, peak RSS %.1f MiB\n", what.c_str(),
               std::chrono::duration<double>(now - start_).count(), usage.ru_maxrss / 1024.0);
}

}  // namespace polmatch::cli
