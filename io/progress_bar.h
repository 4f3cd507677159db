// A progress line with rate and ETA on stderr for long computations, shared
// by the CLI and the Python package.
// On a terminal it redraws one line (at most 5 times a second); otherwise
// (logs, CI) it prints a line at every 10 % so logs stay short. Once, after
// the first 5 % of the work (and at least 0.2 s) or 2 s, it prints an
// estimate of the whole run.
// The rate is shown from then on (earlier it is a spike, not a rate).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace blockscope::io {

class ProgressBar {
 public:
  // `unit` names what is counted, e.g. "HVPs".
  ProgressBar(std::string label, std::string unit);
  void update(std::int64_t done, std::int64_t total);
  // Prints the final line with the elapsed time.
  void finish();
  double elapsed_seconds() const;

 private:
  std::string label_, unit_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int last_decile_ = -1;
  bool estimated_ = false;
  std::int64_t done_ = 0, total_ = 0;
  void draw(bool final);
  void print_estimate();
};

}  // namespace blockscope::io
