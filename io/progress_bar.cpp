#include "io/progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace blockscope::io {
namespace {

std::string duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "--";
  const long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace

ProgressBar::ProgressBar(std::string label, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      terminal_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::update(std::int64_t done, std::int64_t total) {
  done_ = done;
  total_ = total;
  const auto now = std::chrono::steady_clock::now();
  // Runs shorter than 0.2 s get no estimate: their rate is timer noise.
  const double elapsed = elapsed_seconds();
  if (!estimated_ && done > 0 && done < total && elapsed >= 0.2 && (20 * done >= total || elapsed >= 2.0)) {
    print_estimate();
  }
  if (terminal_) {
    if (now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    draw(false);
    return;
  }
  const int decile = total > 0 ? static_cast<int>(10 * done / total) : 0;
  if (decile > last_decile_ && decile < 10) {  // finish() prints the 100 % line
    last_decile_ = decile;
    draw(false);
  }
}

void ProgressBar::finish() { draw(true); }

void ProgressBar::print_estimate() {
  estimated_ = true;
  const double elapsed = elapsed_seconds();
  const double rate = done_ / elapsed;
  const std::string line = fmt::format("[{}] first {} {} took {}: about {} for all {} ({:.3g} {}/s)", label_, done_,
                                       unit_, duration(elapsed), duration(total_ / rate), total_, rate, unit_);
  if (terminal_)
    fmt::print(stderr, "\r{}\033[K\n", line);
  else
    fmt::print(stderr, "{}\n", line);
  std::fflush(stderr);
}

void ProgressBar::draw(bool final) {
  const double elapsed = elapsed_seconds();
  const double fraction = total_ > 0 ? std::min(1.0, double(done_) / double(total_)) : 0.0;
  const int width = 24, filled = static_cast<int>(fraction * width);
  std::string bar(filled, '#');
  bar += std::string(width - filled, '.');
  // Before the estimate the rate would be a spike: show none.
  const bool rated = (estimated_ || final) && done_ > 0 && elapsed > 0;
  const double rate = rated ? done_ / elapsed : 0.0;
  std::string tail = final ? fmt::format("done in {}", duration(elapsed))
                           : fmt::format("ETA {}", duration(rated ? (total_ - done_) / rate : -1));
  std::string line = fmt::format("[{}] {} {:3.0f}% {}/{} {} ({}/s) {}", label_, bar, 100 * fraction, done_, total_,
                                 unit_, rated ? fmt::format("{:.3g}", rate) : "-", tail);
  if (terminal_)
    fmt::print(stderr, "\r{}\033[K{}", line, final ? "\n" : "");
  else
    fmt::print(stderr, "{}\n", line);
  std::fflush(stderr);
}

}  // namespace blockscope::io
