// Gefen period search: the expected periods on row×column-scaled synthetic
// gradients (docs/algorithms.md §6), a brute-force check of S(p) and of the
// selection rule, the v1.1.1 rule on a hand-worked array, and the partition.
#include "partition/gefen.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "partition/strategies.h"

namespace blockscope::partition {
namespace {

// g_ij = r_i · c_j · z_ij with log r, log c, z ~ N(0, 1), row-major [rows, cols].
std::vector<float> row_column_scaled(std::int64_t rows, std::int64_t cols, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> r(static_cast<std::size_t>(rows)), c(static_cast<std::size_t>(cols));
  for (double& x : r) x = std::exp(normal(rng));
  for (double& x : c) x = std::exp(normal(rng));
  std::vector<float> g(static_cast<std::size_t>(rows * cols));
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < cols; ++j) {
      g[static_cast<std::size_t>(i * cols + j)] =
          static_cast<float>(r[static_cast<std::size_t>(i)] * c[static_cast<std::size_t>(j)] * normal(rng));
    }
  }
  return g;
}

GradientView view(const std::vector<float>& g) { return {g.data(), static_cast<std::int64_t>(g.size())}; }

TEST(GefenPeriod, RowColumnScaledGradients) {
  std::vector<float> g = row_column_scaled(768, 768, 1);
  EXPECT_EQ(search_period(view(g), GefenRule::v1_2_3).period, 768);
  g = row_column_scaled(768, 3072, 2);  // row period 3072 > 1024 → capped to 1536
  EXPECT_EQ(search_period(view(g), GefenRule::v1_2_3).period, 1536);
  g = row_column_scaled(256, 4096, 3);  // 4096 → 2048
  EXPECT_EQ(search_period(view(g), GefenRule::v1_2_3).period, 2048);
}

// S(p) and the selection rule written out directly from docs/algorithms.md §6.
TEST(GefenPeriod, ScoresAndChoiceMatchBruteForce) {
  std::vector<float> g = row_column_scaled(24, 40, 7);  // n = 960
  PeriodSearch search = search_period(view(g), GefenRule::v1_2_3);
  const std::int64_t n = 960;
  std::vector<std::int64_t> expected_candidates;
  for (std::int64_t p = 1; p <= n; ++p) {
    if (n % p == 0 && n / p >= 4) expected_candidates.push_back(p);
  }
  ASSERT_EQ(search.candidates, expected_candidates);
  std::vector<double> s(expected_candidates.size());
  for (std::size_t i = 0; i < expected_candidates.size(); ++i) {
    std::int64_t p = expected_candidates[i];
    std::vector<double> means;
    for (std::int64_t k = 0; k < n / p; ++k) {
      double sum = 0.0;
      for (std::int64_t e = k * p; e < (k + 1) * p; ++e) {
        float sq = g[static_cast<std::size_t>(e)] * g[static_cast<std::size_t>(e)];
        sum += std::log(static_cast<double>(sq) + 1e-12);
      }
      means.push_back(sum / static_cast<double>(p));
    }
    double total = 0.0;
    for (std::size_t k = 0; k + 1 < means.size(); ++k) total += std::fabs(means[k + 1] - means[k]);
    s[i] = total / static_cast<double>(means.size() - 1);
    // Same float64 sums in the same order: agreement to rounding (1e-12 relative).
    EXPECT_NEAR(search.scores[i], s[i], 1e-12 * std::fabs(s[i])) << "p = " << p;
  }
  std::int64_t best = 1;
  double best_s = -1.0;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    if (expected_candidates[i] > 8 && s[i] > s[i - 1] && s[i] > s[i + 1] && s[i] >= best_s) {
      best = expected_candidates[i];
      best_s = s[i];
    }
  }
  EXPECT_EQ(search.period, best);
  EXPECT_EQ(search.period, 40);  // the row length
}

TEST(GefenPeriod, NoStructureOrTinyTensorGivesOne) {
  std::vector<float> constant(4096, 0.5f);  // S ≡ 0: no strict local maximum
  EXPECT_EQ(search_period(view(constant), GefenRule::v1_2_3).period, 1);
  std::vector<float> bias = row_column_scaled(1, 64, 4);  // candidates 1..16: no interior p > 8 peak
  EXPECT_EQ(search_period(view(bias), GefenRule::v1_2_3).period, 1);
  std::vector<float> scalar = {3.0f};
  EXPECT_EQ(search_period(view(scalar), GefenRule::v1_2_3).period, 1);
  EXPECT_EQ(search_period(view(scalar), GefenRule::v1_1_1).period, 1);
}

// g² = 1 on [0,12), 4 on [12,24), 1 on [24,36), 4 on [36,48): blocks of
// 1, 2, 3, 4, 6 and 12 elements are constant (E = 0), blocks of 8 are not, so
// the largest drop of E is from p = 8 to p = 12.
TEST(GefenPeriod, V111LargestDropOfBlockVariance) {
  std::vector<float> g(48);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = (i / 12) % 2 == 0 ? 1.0f : -2.0f;
  PeriodSearch old_rule = search_period(view(g), GefenRule::v1_1_1);
  EXPECT_EQ(old_rule.candidates, (std::vector<std::int64_t>{1, 2, 3, 4, 6, 8, 12, 16, 24}));
  EXPECT_EQ(old_rule.scores[0], 1e-12);
  // E(8): of the six blocks, [8,16) and [32,40) hold four 1s and four 4s
  // (variance 2.25), the rest are constant: E = sqrt(2 · 2.25 / 6) = sqrt(0.75).
  EXPECT_NEAR(old_rule.scores[5], std::sqrt(0.75), 1e-15);
  EXPECT_NEAR(old_rule.scores[6], -std::sqrt(0.75), 1e-15);
  EXPECT_EQ(old_rule.period, 12);
  // The v1.2.3 rule sees no interior peak here (12 is the last candidate).
  EXPECT_EQ(search_period(view(g), GefenRule::v1_2_3).period, 1);
}

TEST(GefenPartition, PeriodsPerTensorAndConsecutiveIds) {
  std::vector<float> w = row_column_scaled(24, 40, 7);
  std::vector<float> b(24, 1.0f);
  std::vector<TensorInfo> model = {{"fc.weight", {24, 40}}, {"fc.bias", {24}}};
  Partition p = gefen(model, {view(w), view(b)}, {});
  EXPECT_EQ(p.strategy(), "gefen");
  EXPECT_EQ(p.settings()["period_rule"], "v1.2.3");
  EXPECT_EQ(p.tensors()[0].period, 40);
  EXPECT_EQ(p.tensors()[1].period, 1);
  EXPECT_EQ(p.num_blocks(), 24 + 24);
  EXPECT_EQ(p.block_of(1, 0), 24);

  Partition old_rule = gefen(model, {view(w), view(b)}, {GefenRule::v1_1_1});
  EXPECT_EQ(old_rule.settings()["period_rule"], "v1.1.1");
}

TEST(GefenPartition, BadGradientsAreRejected) {
  std::vector<TensorInfo> model = {{"fc.weight", {4, 4}}};
  std::vector<float> short_gradient(15, 1.0f);
  try {
    gefen(model, {view(short_gradient)}, {});
    FAIL() << "expected a size mismatch to throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "gefen: the gradient of tensor 'fc.weight' has 15 values but the tensor [4, 4] has 16");
  }
  std::vector<float> nan_gradient(16, 1.0f);
  nan_gradient[5] = std::numeric_limits<float>::quiet_NaN();
  try {
    gefen(model, {view(nan_gradient)}, {});
    FAIL() << "expected a NaN gradient to throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "gefen: the first-step gradient of tensor 'fc.weight' is not finite at element 5 "
                 "(nan); compute it from a batch with a finite loss");
  }
  EXPECT_THROW(gefen(model, {}, {}), std::runtime_error);
  try {
    parse_gefen_rule("v2");
    FAIL() << "expected an unknown rule to throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "unknown Gefen period rule 'v2' (valid: v1.2.3, v1.1.1)");
  }
  EXPECT_EQ(parse_gefen_rule("v1.1.1"), GefenRule::v1_1_1);
}

}  // namespace
}  // namespace blockscope::partition
