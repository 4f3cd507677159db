// Block coupling against a dense matrix with known block Frobenius norms.
// Tolerance: 5 standard errors of the estimator, computed exactly. For one
// Rademacher probe z of block b, ‖H_ab z‖² = zᵀCz with C = H_abᵀH_ab, whose
// variance is 2(‖C‖²_F − Σ_i C_ii²); the reported off-diagonal value averages
// the (a, b) and (b, a) estimates of P probes each.
#include <gtest/gtest.h>

#include "hessian/coupling.h"
#include "test_matrices.h"

namespace blockscope::hessian {
namespace {

constexpr double kStandardErrors = 5.0;

std::vector<Eigen::Index> indices(const BlockRanges& ranges) {
  std::vector<Eigen::Index> out;
  for (const IndexRange& r : ranges) {
    for (Eigen::Index i = r.begin; i < r.end; ++i) out.push_back(i);
  }
  return out;
}

Eigen::MatrixXd sub(const Eigen::MatrixXd& h, const std::vector<Eigen::Index>& rows,
                    const std::vector<Eigen::Index>& cols) {
  Eigen::MatrixXd out(rows.size(), cols.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (std::size_t j = 0; j < cols.size(); ++j) out(i, j) = h(rows[i], cols[j]);
  }
  return out;
}

// Variance of zᵀCz for a Rademacher z, C = MᵀM.
double probe_variance(const Eigen::MatrixXd& m) {
  const Eigen::MatrixXd c = m.transpose() * m;
  return 2.0 * (c.squaredNorm() - c.diagonal().squaredNorm());
}

TEST(BlockCoupling, MatchesKnownBlockNormsWithinFiveStandardErrors) {
  const std::vector<BlockRanges> blocks = {{{0, 20}, {60, 75}}, {{20, 60}}, {{75, 100}}};
  // A symmetric matrix whose blocks couple with different strengths.
  Eigen::MatrixXd h = testing::wigner(110, 51);
  std::vector<std::vector<Eigen::Index>> idx;
  for (const BlockRanges& b : blocks) idx.push_back(indices(b));
  const double strength[3][3] = {{3.0, 0.5, 0.05}, {0.5, 1.0, 0.2}, {0.05, 0.2, 2.0}};
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      for (Eigen::Index i : idx[a]) {
        for (Eigen::Index j : idx[b]) h(i, j) *= strength[a][b];
      }
    }
  }
  DenseOperator op(h);
  const int probes = 400;
  int last_done = 0;
  const CouplingResult r = block_coupling(op, blocks, {probes, 17}, [&](int done, int total) {
    last_done = done;
    EXPECT_EQ(total, 3 * probes);
  });
  EXPECT_EQ(last_done, 3 * probes);
  EXPECT_EQ(r.num_operations, 3 * probes);
  EXPECT_EQ(op.num_operations(), 3 * probes);

  Eigen::MatrixXd exact(3, 3);
  Eigen::MatrixXd standard_error(3, 3);
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      const Eigen::MatrixXd h_ab = sub(h, idx[a], idx[b]);
      exact(a, b) = h_ab.squaredNorm();
      const double v_ab = probe_variance(h_ab) / probes;
      const double v_ba = probe_variance(sub(h, idx[b], idx[a])) / probes;
      standard_error(a, b) = a == b ? std::sqrt(v_ab) : 0.5 * std::sqrt(v_ab + v_ba);
    }
  }
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      EXPECT_NEAR(r.squared(a, b), exact(a, b), kStandardErrors * standard_error(a, b)) << a << "," << b;
      EXPECT_NEAR(r.frobenius(a, b), std::sqrt(exact(a, b)),
                  kStandardErrors * standard_error(a, b) / (2.0 * std::sqrt(exact(a, b))));
      // The sample standard error tracks the exact one (relative error of a
      // sample sd from 400 draws is ~5-10 %; a factor 1.5 leaves room).
      EXPECT_GT(r.squared_stderr(a, b), standard_error(a, b) / 1.5);
      EXPECT_LT(r.squared_stderr(a, b), standard_error(a, b) * 1.5);
      // r_ab by first-order propagation: δr/r = ½δS_ab/S_ab + ¼δS_aa/S_aa + ¼δS_bb/S_bb.
      const double exact_ratio = std::sqrt(exact(a, b)) / std::sqrt(std::sqrt(exact(a, a) * exact(b, b)));
      const double rel =
          kStandardErrors * (0.5 * standard_error(a, b) / exact(a, b) + 0.25 * standard_error(a, a) / exact(a, a) +
                             0.25 * standard_error(b, b) / exact(b, b));
      EXPECT_NEAR(r.ratio(a, b), exact_ratio, rel * exact_ratio);
    }
  }
  EXPECT_TRUE(r.squared == r.squared.transpose());
  EXPECT_TRUE((r.ratio.diagonal().array() == 1.0).all());
}

TEST(BlockCoupling, RejectsFewProbesAndBadBlocks) {
  DenseOperator op(Eigen::MatrixXd::Identity(10, 10));
  EXPECT_THROW(block_coupling(op, {{{0, 5}}}, {29, 0}), std::runtime_error);
  EXPECT_THROW(block_coupling(op, {}, {30, 0}), std::runtime_error);
  EXPECT_THROW(block_coupling(op, {{{0, 5}}, {{4, 8}}}, {30, 0}), std::runtime_error);
  EXPECT_THROW(block_coupling(op, {{{0, 11}}}, {30, 0}), std::runtime_error);
  EXPECT_THROW(block_coupling(op, {{{0, 5}}, {}}, {30, 0}), std::runtime_error);
}

TEST(BlockCoupling, IdentityHasNoOffDiagonalCoupling) {
  // H = I: ‖(I z_b)_a‖² = 0 for a ≠ b and exactly n_b on the diagonal (zᵢ² = 1).
  DenseOperator op(Eigen::MatrixXd::Identity(12, 12));
  const CouplingResult r = block_coupling(op, {{{0, 4}}, {{4, 12}}}, {30, 3});
  EXPECT_EQ(r.squared(0, 0), 4.0);
  EXPECT_EQ(r.squared(1, 1), 8.0);
  EXPECT_EQ(r.squared(0, 1), 0.0);
  EXPECT_EQ(r.squared_stderr(0, 0), 0.0);
}

}  // namespace
}  // namespace blockscope::hessian
