// math::nearest for the CPU kernels in O(1) expected time: a table over
// kCells uniform cells of [−1, 1] gives, for the cell of x, a lower bound on
// the count of levels < x; two branch-free steps and, only when they fall
// short (levels packed closer than a cell, e.g. a padded codebook), a scan
// make the count exact, and math::nearest_of_neighbours applies the same tie
// rule. Learned levels sit at least about a histogram bin (2/4096) apart, so
// with 16384 cells the two steps nearly always suffice. The result equals
// math::nearest(codebook, kCodebookSize, x) for every finite x (test).
// Why the bound holds: a level counted for cell k lies below the lower edge
// of cell k − 1, while an x whose fp32 cell index is k lies at most a few fp32
// ulps below the lower edge of cell k.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include "optimizers/math/codebook.h"

namespace blockscope::optimizers {

class CodebookLookup {
 public:
  static constexpr int kCells = 16384;

  // codebook: kCodebookSize sorted fp32 levels (copied).
  explicit CodebookLookup(const float* codebook) {
    std::copy(codebook, codebook + math::kCodebookSize, levels_.begin());
    levels_.back() = std::numeric_limits<float>::infinity();  // stops every scan at kCodebookSize
    int below = 0;
    for (int cell = 0; cell < kCells; ++cell) {
      const double edge = -1.0 + 2.0 * static_cast<double>(cell - 1) / kCells;  // lower edge of cell − 1
      while (cell > 0 && below < math::kCodebookSize && static_cast<double>(codebook[below]) < edge) ++below;
      start_[static_cast<std::size_t>(cell)] = static_cast<std::uint16_t>(below);
    }
  }

  int nearest(float x) const {
    const float t = (x + 1.0f) * (0.5f * kCells);
    const int cell = t >= 0.0f ? (t < static_cast<float>(kCells) ? static_cast<int>(t) : kCells - 1) : 0;
    int right = start_[static_cast<std::size_t>(cell)];
    right += levels_[static_cast<std::size_t>(right)] < x;
    right += levels_[static_cast<std::size_t>(right)] < x;
    while (levels_[static_cast<std::size_t>(right)] < x) ++right;
    return math::nearest_of_neighbours(levels_.data(), math::kCodebookSize, right, x);
  }

 private:
  std::array<float, math::kCodebookSize + 1> levels_{};  // the levels, then +Inf
  std::array<std::uint16_t, kCells> start_{};
};

}  // namespace blockscope::optimizers
