// Gefen codebook: the DP against exhaustive partition enumeration, the
// reference's tie and padding rules, histogram binning, nearest().
// Agreement expected: levels within kLevelTolerance of the brute-force
// optimum (both are fp32 roundings of float64 means, summed in different
// orders); everything else bitwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "optimizers/math/codebook.h"

namespace blockscope::optimizers::math {
namespace {

constexpr float kLevelTolerance = 2.4e-7f;  // 2 fp32 ulps at magnitude 1

// Weighted squared error of a contiguous cluster around a centre.
double cluster_cost(const std::vector<double>& x, const std::vector<double>& w, int begin, int end, double centre) {
  double cost = 0.0;
  for (int i = begin; i < end; ++i) cost += w[i] * (x[i] - centre) * (x[i] - centre);
  return cost;
}

double cluster_mean(const std::vector<double>& x, const std::vector<double>& w, int begin, int end) {
  double sw = 0.0, swx = 0.0;
  for (int i = begin; i < end; ++i) {
    sw += w[i];
    swx += w[i] * x[i];
  }
  return swx / sw;
}

struct BruteForce {
  double cost = std::numeric_limits<double>::infinity();
  std::vector<float> levels;
};

// Every split of n sorted points into k contiguous non-empty clusters; the
// first is pinned to −1, the last to +1, the others sit at their mean.
void enumerate(const std::vector<double>& x, const std::vector<double>& w, int k, std::vector<int>& starts,
               BruteForce& best) {
  const int n = static_cast<int>(x.size());
  if (static_cast<int>(starts.size()) == k) {
    double cost = 0.0;
    std::vector<float> levels;
    for (int c = 0; c < k; ++c) {
      const int begin = starts[c], end = c + 1 < k ? starts[c + 1] : n;
      const double centre = c == 0 ? -1.0 : (c == k - 1 ? 1.0 : cluster_mean(x, w, begin, end));
      cost += cluster_cost(x, w, begin, end, centre);
      levels.push_back(static_cast<float>(centre));
    }
    if (cost < best.cost) best = {cost, levels};
    return;
  }
  const int remaining = k - static_cast<int>(starts.size());
  for (int start = starts.back() + 1; start <= n - remaining; ++start) {
    starts.push_back(start);
    enumerate(x, w, k, starts, best);
    starts.pop_back();
  }
}

TEST(CodebookDp, MatchesExhaustiveEnumerationOnSmallProblems) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::uniform_int_distribution<int> count(1, 100);
  int problems = 0;
  for (int n = 2; n <= 10; ++n) {
    for (int k = 2; k <= std::min(n, 5); ++k) {
      for (int trial = 0; trial < 20; ++trial) {
        std::vector<double> x(n), w(n);
        for (double& xi : x) xi = uniform(rng);
        std::sort(x.begin(), x.end());
        for (double& wi : w) wi = count(rng);
        BruteForce best;
        std::vector<int> starts = {0};
        enumerate(x, w, k, starts, best);
        const std::vector<float> levels = kmeans_1d(x, w, k);
        ASSERT_EQ(static_cast<int>(levels.size()), k);
        for (int c = 0; c < k; ++c) ASSERT_NEAR(levels[c], best.levels[c], kLevelTolerance) << n << " " << k;
        ++problems;
      }
    }
  }
  EXPECT_EQ(problems, 20 * 30);  // (n, k) pairs with 2 ≤ k ≤ min(n, 5), n ≤ 10
}

TEST(CodebookDp, TiesGoToTheSmallestSplit) {
  // {−1 | −0.5 | 0.5, 1} and {−1, −0.5 | 0.5 | 1} both cost 0.25 exactly; the
  // last cluster's earliest start wins, so the middle level is −0.5.
  const std::vector<float> levels = kmeans_1d({-1.0, -0.5, 0.5, 1.0}, {1.0, 1.0, 1.0, 1.0}, 3);
  EXPECT_EQ(levels, (std::vector<float>{-1.0f, -0.5f, 1.0f}));
  EXPECT_THROW(kmeans_1d({0.0}, {1.0}, 2), std::invalid_argument);
}

std::vector<std::int64_t> gaussian_histogram(std::int64_t n, std::int64_t block, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> g(n);
  for (float& x : g) x = normal(rng);
  std::vector<std::int64_t> counts(kHistogramBins, 0);
  histogram_add(g.data(), n, block, counts);
  return counts;
}

TEST(Codebook, LearnedCodebookIsSortedWithPinnedEndpoints) {
  const std::vector<std::int64_t> counts = gaussian_histogram(4000, 400, 23);  // ~2000 non-empty bins
  const std::vector<float> levels = learn_codebook(counts);
  ASSERT_EQ(levels.size(), static_cast<std::size_t>(kCodebookSize));
  EXPECT_EQ(levels.front(), -1.0f);
  EXPECT_EQ(levels.back(), 1.0f);
  for (int i = 1; i < kCodebookSize; ++i) EXPECT_LT(levels[i - 1], levels[i]) << i;
  // Same as the DP over the non-empty bin centres.
  std::vector<double> centres, weights;
  for (int b = 0; b < kHistogramBins; ++b) {
    if (counts[b] > 0) {
      centres.push_back(histogram_bin_centre(b));
      weights.push_back(static_cast<double>(counts[b]));
    }
  }
  ASSERT_GT(centres.size(), static_cast<std::size_t>(kCodebookSize));
  EXPECT_EQ(levels, kmeans_1d(centres, weights, kCodebookSize));
}

TEST(Codebook, FullHistogramGivesDistinctLevels) {
  // All 4096 bins non-empty: the worst-case first-step cost, O(K·n²) ≈ 2·10^9 steps (~2 s).
  const std::vector<std::int64_t> counts = gaussian_histogram(1 << 21, 512, 29);
  for (std::int64_t count : counts) ASSERT_GT(count, 0);
  const std::vector<float> levels = learn_codebook(counts);
  ASSERT_EQ(levels.size(), static_cast<std::size_t>(kCodebookSize));
  for (int i = 1; i < kCodebookSize; ++i) EXPECT_LT(levels[i - 1], levels[i]) << i;
}

TEST(Codebook, FewBinsArePaddedWithTheLastCentreLikeTheReference) {
  // Period-1 quirk: every element normalised by itself lands on ±1 or 0.
  const std::vector<float> g = {3.0f, -2.0f, 0.0f, 5.0f, -0.5f, 0.0f};
  std::vector<std::int64_t> counts(kHistogramBins, 0);
  histogram_add(g.data(), static_cast<std::int64_t>(g.size()), 1, counts);
  EXPECT_EQ(counts[0], 2);
  EXPECT_EQ(counts[kHistogramBins / 2], 2);
  EXPECT_EQ(counts[kHistogramBins - 1], 2);
  const std::vector<float> levels = learn_codebook(counts);
  ASSERT_EQ(levels.size(), static_cast<std::size_t>(kCodebookSize));
  // [c0, c2048, c4095, c4095 …] with c0 → −1 and the last → +1, sorted.
  EXPECT_EQ(levels[0], -1.0f);
  EXPECT_EQ(levels[1], histogram_bin_centre(kHistogramBins / 2));
  for (int i = 2; i < kCodebookSize - 1; ++i) EXPECT_EQ(levels[i], histogram_bin_centre(kHistogramBins - 1));
  EXPECT_EQ(levels.back(), 1.0f);
  EXPECT_THROW(learn_codebook(std::vector<std::int64_t>(kHistogramBins, 0)), std::invalid_argument);
}

TEST(Codebook, HistogramBinsBlockAbsmaxNormalisedValues) {
  const std::vector<float> g = {3.0f, -2.0f, 0.0f, 5.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  std::vector<std::int64_t> counts(kHistogramBins, 0);
  histogram_add(g.data(), 8, 4, counts);
  EXPECT_EQ(counts[3276], 1);  // 0.6:  floor(1.6 · 2048)
  EXPECT_EQ(counts[1228], 1);  // −0.4: floor(0.6 · 2048)
  EXPECT_EQ(counts[2048], 5);  // zeros, including the all-zero block
  EXPECT_EQ(counts[4095], 1);  // +1 clamps into the last bin
  EXPECT_EQ(histogram_bin(-1.0f), 0);
  EXPECT_EQ(histogram_bin_centre(0), -1.0f + 1.0f / 4096.0f);
  EXPECT_EQ(histogram_bin_centre(kHistogramBins - 1), 1.0f - 1.0f / 4096.0f);
  EXPECT_THROW(histogram_add(g.data(), 8, 3, counts), std::invalid_argument);
}

TEST(Codebook, HistogramBlockSizeForPeriodOneTensors) {
  EXPECT_EQ(histogram_block_size(768 * 768, 768, false), 768);
  EXPECT_EQ(histogram_block_size(768 * 768, 768, true), 768);
  EXPECT_EQ(histogram_block_size(1000, 1, true), 1);
  EXPECT_EQ(histogram_block_size(1000, 1, false), 250);
  EXPECT_EQ(histogram_block_size(3 * 257, 1, false), 3);
  EXPECT_EQ(histogram_block_size(1, 1, false), 1);
  EXPECT_THROW(histogram_block_size(10, 3, false), std::invalid_argument);
}

TEST(Nearest, MatchesBruteForceArgminOnDistinctLevels) {
  std::mt19937 rng(31);
  std::uniform_real_distribution<float> uniform(-1.2f, 1.2f);
  for (int size : {1, 2, 3, 5, 64, 255, 256}) {
    std::vector<float> levels(size);
    for (float& level : levels) level = uniform(rng);
    std::sort(levels.begin(), levels.end());
    for (int i = 0; i < 20000; ++i) {
      const float x = uniform(rng);
      int expected = 0;  // first minimum = lower index on ties
      for (int j = 1; j < size; ++j) {
        if (std::fabs(x - levels[j]) < std::fabs(x - levels[expected])) expected = j;
      }
      ASSERT_EQ(nearest(levels.data(), size, x), expected) << "size " << size << " x " << x;
    }
  }
}

TEST(Nearest, TiesGoToTheLowerIndex) {
  const std::vector<float> levels = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f};
  const float* c = levels.data();
  EXPECT_EQ(nearest(c, 5, -0.75f), 0);
  EXPECT_EQ(nearest(c, 5, -0.25f), 1);
  EXPECT_EQ(nearest(c, 5, 0.25f), 2);
  EXPECT_EQ(nearest(c, 5, 0.75f), 3);
  EXPECT_EQ(nearest(c, 5, 0.5f), 3);
  EXPECT_EQ(nearest(c, 5, -3.0f), 0);
  EXPECT_EQ(nearest(c, 5, 3.0f), 4);
  // Padded duplicates: an exact hit takes the first copy; from between runs,
  // the copy next to x (the reference's searchsorted rule).
  const std::vector<float> padded = {-1.0f, 0.5f, 0.5f, 0.5f, 1.0f};
  EXPECT_EQ(nearest(padded.data(), 5, 0.5f), 1);
  EXPECT_EQ(nearest(padded.data(), 5, 0.3f), 1);
  EXPECT_EQ(nearest(padded.data(), 5, 0.7f), 3);
}

}  // namespace
}  // namespace blockscope::optimizers::math
