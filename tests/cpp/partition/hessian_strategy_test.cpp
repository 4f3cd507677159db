// The Hessian-driven strategy on tiny problems with row-constant statistics:
// blocks stay inside tensors, neighbouring rows merge exactly where their
// levels agree, a target stops merging in Ward order, all-zero rows and
// negative curvature are handled, bad input is rejected.
#include "partition/hessian_strategy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace blockscope::partition {
namespace {

// Statistics of a [rows, cols] tensor whose row r is constant levels[r].
std::vector<double> rows_of(const std::vector<double>& levels, std::int64_t cols) {
  std::vector<double> out;
  for (double l : levels) out.insert(out.end(), std::size_t(cols), l);
  return out;
}

std::vector<std::int64_t> boundaries(const Partition& p, std::size_t t) {
  std::vector<std::int64_t> out{0};
  for (std::int64_t k = 0; k < p.tensors()[t].num_ranges(); ++k) out.push_back(p.tensors()[t].range(k).end);
  return out;
}

const std::vector<TensorInfo> kModel = {{"a.weight", {4, 3}}, {"b.bias", {5}}, {"c.weight", {2, 2}}};

TEST(HessianStrategy, MergesNeighboursWhoseLevelsAgree) {
  // a: rows 1, 1.5, 100, 120 → {0,1} and {2,3}; b: one candidate; c: rows 1, 1 → one block.
  // b and c have a's level 1 too, but blocks never cross tensors.
  const std::vector<std::vector<double>> s = {rows_of({1, 1.5, 100, 120}, 3), std::vector<double>(5, 1.0),
                                              rows_of({1, 1}, 2)};
  Partition p = hessian_partition(kModel, s, {});
  EXPECT_EQ(p.strategy(), "hessian");
  EXPECT_EQ(p.num_blocks(), 4);
  EXPECT_EQ(boundaries(p, 0), (std::vector<std::int64_t>{0, 6, 12}));
  EXPECT_EQ(boundaries(p, 1), (std::vector<std::int64_t>{0, 5}));
  EXPECT_EQ(boundaries(p, 2), (std::vector<std::int64_t>{0, 4}));
  EXPECT_EQ(p.settings()["candidate_blocks"], 7);
  EXPECT_EQ(p.settings()["merges"], 3);
  std::set<std::int64_t> seen;  // every block id belongs to one tensor
  for (const auto& t : p.tensors()) {
    std::set<std::int64_t> mine;
    for (std::int64_t k = 0; k < t.num_ranges(); ++k) mine.insert(t.range(k).block);
    for (std::int64_t id : mine) EXPECT_TRUE(seen.insert(id).second) << "block " << id << " crosses tensors";
  }
}

TEST(HessianStrategy, ThresholdDecidesAgreement) {
  // Levels 1 and 2.5 differ by ln 2.5 ≈ 0.92: apart at the default ln 2, merged at 1.0.
  const std::vector<std::vector<double>> s = {rows_of({1, 2.5, 2.5, 1}, 3), std::vector<double>(5, 1.0),
                                              rows_of({1, 2.5}, 2)};
  EXPECT_EQ(boundaries(hessian_partition(kModel, s, {}), 0), (std::vector<std::int64_t>{0, 3, 9, 12}));
  HessianStrategyOptions loose;
  loose.merge_threshold = 1.0;
  Partition p = hessian_partition(kModel, s, loose);
  EXPECT_EQ(p.num_blocks(), 3);
  HessianStrategyOptions none;
  none.merge_threshold = 0.0;  // only exactly equal levels merge
  EXPECT_EQ(hessian_partition(kModel, s, none).num_blocks(), 6);
}

TEST(HessianStrategy, TargetStopsInWardOrder) {
  // a: rows 1, 1.1, 1.6, 1.8 (all agree at threshold 1). Ward costs (3 elements each):
  // {1,1.1}: 1.5·ln²1.1 = 0.0136, {1.1,1.6}: 1.5·ln²(1.6/1.1) = 0.211, {1.6,1.8}: 1.5·ln²1.125 = 0.0208.
  // Target 4 (= a:2 + b:1 + c:1): merge rows 0–1, then rows 2–3.
  const std::vector<std::vector<double>> s = {rows_of({1, 1.1, 1.6, 1.8}, 3), std::vector<double>(5, 7.0),
                                              rows_of({3, 3}, 2)};
  HessianStrategyOptions o;
  o.merge_threshold = 1.0;
  o.target_blocks = 5;  // c's cheap merge (cost 0) first, then a's rows 0–1
  Partition p5 = hessian_partition(kModel, s, o);
  EXPECT_EQ(boundaries(p5, 0), (std::vector<std::int64_t>{0, 6, 9, 12}));
  EXPECT_EQ(boundaries(p5, 2), (std::vector<std::int64_t>{0, 4}));
  o.target_blocks = 4;
  EXPECT_EQ(boundaries(hessian_partition(kModel, s, o), 0), (std::vector<std::int64_t>{0, 6, 12}));
  o.target_blocks = 1;  // below one block per tensor: every tensor whole
  Partition p1 = hessian_partition(kModel, s, o);
  EXPECT_EQ(p1.num_blocks(), 3);
  EXPECT_EQ(boundaries(p1, 0), (std::vector<std::int64_t>{0, 12}));
}

TEST(HessianStrategy, TargetWithoutThresholdMergesDisagreeingLevels) {
  // Every pair disagrees at ln 2; a target alone merges by Ward's cost:
  // a's rows 1, 100 (1.5·ln²100 = 31.8), then c's rows 1, 1e3 (1·ln²1e3 = 47.7);
  // a's other pairs cost 1.5·ln²1e3 = 71.6.
  const std::vector<std::vector<double>> s = {rows_of({1, 100, 1e5, 1e8}, 3), std::vector<double>(5, 1.0),
                                              rows_of({1, 1e3}, 2)};
  HessianStrategyOptions o;
  o.target_blocks = 5;
  Partition p = hessian_partition(kModel, s, o);
  EXPECT_EQ(p.num_blocks(), 5);
  EXPECT_EQ(boundaries(p, 0), (std::vector<std::int64_t>{0, 6, 9, 12}));
  EXPECT_EQ(boundaries(p, 2), (std::vector<std::int64_t>{0, 4}));
  EXPECT_TRUE(std::isinf(p.settings()["merge_threshold"].get<double>()));
}

TEST(HessianStrategy, ZeroRowsAndNegativeCurvature) {
  // Rows 0 and 0 (a token never seen) merge with each other, not with level 1;
  // a row of −1.2 (negative diagonal curvature) has level 1.2 and merges with
  // 1; the merged level is |3 − 3.6| / 6 = 0.1, still far from the zero rows.
  const std::vector<std::vector<double>> s = {rows_of({0, 0, 1, -1.2}, 3), std::vector<double>(5, 1.0),
                                              rows_of({1, 1}, 2)};
  EXPECT_EQ(boundaries(hessian_partition(kModel, s, {}), 0), (std::vector<std::int64_t>{0, 6, 12}));
}

TEST(HessianStrategy, RejectsBadInput) {
  auto error_of = [](const std::vector<std::vector<double>>& s, HessianStrategyOptions o = {}) {
    try {
      hessian_partition(kModel, s, o);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  std::vector<std::vector<double>> s = {std::vector<double>(12, 1.0), std::vector<double>(4, 1.0),
                                        std::vector<double>(4, 1.0)};
  EXPECT_EQ(error_of(s), "hessian partition: tensor 'b.bias' has 5 elements but 4 statistics");
  s[1].push_back(NAN);
  EXPECT_EQ(error_of(s), "hessian partition: statistic 4 of tensor 'b.bias' is nan");
  s[1][4] = 1.0;
  HessianStrategyOptions negative;
  negative.target_blocks = -1;
  EXPECT_EQ(error_of(s, negative), "hessian partition: the target block count and the merge threshold must be ≥ 0");
}

}  // namespace
}  // namespace blockscope::partition
