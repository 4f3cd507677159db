// math::nearest for the CPU kernels in O(1): the nearest-level index is a
// non-decreasing step function of x (a rounded subtraction is monotone), so
// it equals the number of its breakpoints B_j ≤ x, where B_j (j = 1..255) is
// the smallest fp32 value whose nearest index is ≥ j, found once per
// codebook by bisection over the ordered fp32 values with math::nearest as
// the oracle. A table over kCells uniform cells of [−1, 1] holds how many
// breakpoints fall in earlier cells; one compare adds the cell's own
// breakpoint, and only a cell holding several (levels packed closer than a
// cell, e.g. a padded codebook) takes a short scan. Equal to
// math::nearest(codebook, kCodebookSize, x) for every x, ±Inf and NaN
// included (test).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include "optimizers/math/codebook.h"
#include "optimizers/math/host_device.h"

namespace blockscope::optimizers {

class CodebookLookup {
 public:
  static constexpr int kCells = 16384;

  // codebook: kCodebookSize sorted fp32 levels.
  explicit CodebookLookup(const float* codebook) {
    breakpoint_.front() = -std::numeric_limits<float>::infinity();  // unused
    breakpoint_.back() = std::numeric_limits<float>::quiet_NaN();   // never ≤ x: every scan stops at the last level
    std::array<int, kCells + 1> in_cell{};
    for (int j = 1; j < math::kCodebookSize; ++j) {
      std::int64_t lo = order_key(-std::numeric_limits<float>::max());
      std::int64_t hi = order_key(std::numeric_limits<float>::max());
      while (lo < hi) {  // smallest key whose value's nearest index is ≥ j
        const std::int64_t mid = lo + (hi - lo) / 2;
        if (math::nearest(codebook, math::kCodebookSize, from_order_key(mid)) >= j) {
          hi = mid;
        } else {
          lo = mid + 1;
        }
      }
      breakpoint_[static_cast<std::size_t>(j)] = from_order_key(lo);
      ++in_cell[cell_of(breakpoint_[static_cast<std::size_t>(j)]) + 1];
    }
    int before = 0;
    for (std::size_t cell = 0; cell < kCells; ++cell) {
      before += in_cell[cell];
      before_[cell] = static_cast<std::uint8_t>(before);
    }
  }

  int nearest(float x) const {
    int index = before_[cell_of(x)];
    index += breakpoint_[static_cast<std::size_t>(index) + 1] <= x;         // the cell's breakpoint, if any
    while (breakpoint_[static_cast<std::size_t>(index) + 1] <= x) ++index;  // several in one cell: rare
    return index;
  }

 private:
  // Cell of x, a non-decreasing function of x (so B_j in an earlier cell is < x).
  static std::size_t cell_of(float x) {
    const float t = (x + 1.0f) * (0.5f * kCells);
    return static_cast<std::size_t>(t >= 0.0f ? std::min(t, static_cast<float>(kCells - 1)) : 0.0f);  // NaN: 0
  }
  // fp32 ↔ an integer in the same order (−0 and +0 share 0).
  static std::int64_t order_key(float x) {
    const std::uint32_t u = math::float_bits(x);
    return (u >> 31) != 0 ? -static_cast<std::int64_t>(u & 0x7FFFFFFFu) : static_cast<std::int64_t>(u);
  }
  static float from_order_key(std::int64_t k) {
    return k < 0 ? math::bits_float(static_cast<std::uint32_t>(-k) | 0x80000000u)
                 : math::bits_float(static_cast<std::uint32_t>(k));
  }

  std::array<float, math::kCodebookSize + 1> breakpoint_{};  // [j]: B_j; [256] = NaN
  std::array<std::uint8_t, kCells> before_{};                // breakpoints in earlier cells
};

}  // namespace blockscope::optimizers
