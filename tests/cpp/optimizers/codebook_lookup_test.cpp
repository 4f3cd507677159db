// The CPU kernels' table-driven nearest level (cpu/codebook_lookup.h) against
// math::nearest, bitwise, on codebooks that stress the table: random distinct
// levels, learned-looking levels a histogram bin apart, a padded codebook full
// of duplicates, levels packed 1e-6 apart; and on inputs at the levels, at the
// exact midpoints (ties), one fp32 ulp either side, the cell edges, ±1,
// outside [−1, 1], ±Inf and NaN.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "optimizers/cpu/codebook_lookup.h"
#include "optimizers/math/codebook.h"

namespace blockscope::optimizers {
namespace {

using math::kCodebookSize;

std::vector<std::vector<float>> codebooks() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<std::vector<float>> out;
  std::vector<float> random(kCodebookSize);
  for (float& x : random) x = uniform(rng);
  out.push_back(random);
  std::vector<float> bins(kCodebookSize);  // bin centres near 0, the shape of a learned codebook
  for (int i = 0; i < kCodebookSize; ++i) bins[i] = math::histogram_bin_centre(math::kHistogramBins / 2 - 128 + i);
  out.push_back(bins);
  std::vector<float> padded(kCodebookSize, math::histogram_bin_centre(3000));
  padded[1] = 0.0f;
  out.push_back(padded);
  std::vector<float> packed(kCodebookSize);
  for (int i = 0; i < kCodebookSize; ++i) packed[i] = 1e-6f * static_cast<float>(i - 128);
  out.push_back(packed);
  for (auto& c : out) {
    c.front() = -1.0f;
    c.back() = 1.0f;
    std::sort(c.begin(), c.end());
  }
  return out;
}

TEST(CodebookLookup, EqualsMathNearestEverywhere) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (const std::vector<float>& c : codebooks()) {
    const CodebookLookup lookup(c.data());
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> xs = {-1.0f,
                             1.0f,
                             0.0f,
                             -0.0f,
                             -1.0001f,
                             1.0001f,
                             -3.0f,
                             3.0f,
                             inf,
                             -inf,
                             std::numeric_limits<float>::quiet_NaN(),
                             std::numeric_limits<float>::max()};
    for (int i = 0; i < kCodebookSize; ++i) {
      for (float x : {c[i], std::nextafter(c[i], -2.0f), std::nextafter(c[i], 2.0f)}) xs.push_back(x);
      if (i + 1 < kCodebookSize) {
        const float mid = 0.5f * (c[i] + c[i + 1]);
        for (float x : {mid, std::nextafter(mid, -2.0f), std::nextafter(mid, 2.0f)}) xs.push_back(x);
      }
    }
    for (int cell = 0; cell <= CodebookLookup::kCells; ++cell) {
      const float edge = -1.0f + 2.0f * static_cast<float>(cell) / CodebookLookup::kCells;
      for (float x : {edge, std::nextafter(edge, -2.0f), std::nextafter(edge, 2.0f)}) xs.push_back(x);
    }
    for (int i = 0; i < 200000; ++i) xs.push_back(uniform(rng));
    for (float x : xs) {
      ASSERT_EQ(lookup.nearest(x), math::nearest(c.data(), kCodebookSize, x)) << "x " << x << " c[1] " << c[1];
    }
  }
}

}  // namespace
}  // namespace blockscope::optimizers
