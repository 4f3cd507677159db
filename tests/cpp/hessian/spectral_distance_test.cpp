// Jensen–Shannon and Wasserstein-1 distances.
// Agreement expected: identities to 1e-12 (sums of ≤ 10⁴ rounded terms);
// symmetry bitwise (the same two sums added in the other order);
// |JS(SLQ) − JS(exact)| ≤ 0.03 at n_v = 20: docs/algorithms.md §2 measured
// JS(SLQ, exact) ≈ 0.02 for one density at n_v = 10 and 0.010 at n_v = 40.
#include <gtest/gtest.h>

#include "hessian/dense.h"
#include "hessian/slq.h"
#include "hessian/spectral_distance.h"
#include "test_matrices.h"

namespace blockscope::hessian {
namespace {

constexpr double kIdentityTol = 1e-12;
constexpr double kSlqJsTol = 0.03;

DensityGrid unit_grid() { return make_grid(-10.0, 110.0, {1.0, SigmaMode::absolute}); }

Eigen::VectorXd bump(const DensityGrid& grid, double centre) {
  return gaussian_density(Eigen::VectorXd::Constant(1, centre), Eigen::VectorXd::Ones(1), grid);
}

TEST(JsDistance, IdenticalDensitiesAreAtZeroDisjointAtOne) {
  const DensityGrid grid = unit_grid();
  const Eigen::VectorXd p = bump(grid, 0.0);
  EXPECT_NEAR(js_distance(p, p), 0.0, kIdentityTol);
  // 100σ apart: no overlap above 1e-300, so JS is exactly its maximum.
  EXPECT_NEAR(js_distance(p, bump(grid, 100.0)), 1.0, kIdentityTol);
}

TEST(JsDistance, SymmetricBoundedAndScaleFree) {
  const DensityGrid grid = unit_grid();
  for (int shift = 0; shift < 8; ++shift) {
    const Eigen::VectorXd p = bump(grid, 10.0);
    const Eigen::VectorXd q = 0.3 * bump(grid, 10.0 + shift) + 0.7 * bump(grid, 50.0);
    const double d = js_distance(p, q);
    EXPECT_EQ(d, js_distance(q, p));
    EXPECT_GE(d, 0.0);
    EXPECT_LE(d, 1.0);
    EXPECT_NEAR(js_distance(3.0 * p, q), d, kIdentityTol);
  }
}

TEST(JsDistance, RejectsMismatchedOrEmptyDensities) {
  EXPECT_THROW(js_distance(Eigen::VectorXd::Ones(3), Eigen::VectorXd::Ones(4)), std::runtime_error);
  EXPECT_THROW(js_distance(Eigen::VectorXd::Zero(3), Eigen::VectorXd::Ones(3)), std::runtime_error);
}

TEST(JsMatrix, SymmetricWithZeroDiagonalAndMeanPairwise) {
  const DensityGrid grid = unit_grid();
  Eigen::MatrixXd densities(3, grid.points.size());
  densities.row(0) = bump(grid, 0.0).transpose();
  densities.row(1) = bump(grid, 1.0).transpose();
  densities.row(2) = bump(grid, 100.0).transpose();
  const Eigen::MatrixXd js = js_matrix(densities);
  EXPECT_TRUE(js == js.transpose());
  EXPECT_TRUE((js.diagonal().array() == 0.0).all());
  EXPECT_NEAR(js(0, 2), 1.0, kIdentityTol);
  EXPECT_DOUBLE_EQ(mean_pairwise(js), (js(0, 1) + js(0, 2) + js(1, 2)) / 3.0);
  EXPECT_THROW(mean_pairwise(Eigen::MatrixXd::Zero(1, 1)), std::runtime_error);
}

TEST(JsDistance, SlqAgreesWithExactSpectra) {
  // Two overlapping but different spectra: a semicircle on [−2, 2] and a
  // wider, shifted one (JS well inside (0, 1), where errors are not squashed).
  const Eigen::MatrixXd a = testing::wigner(600, 31);
  const Eigen::MatrixXd b = 1.5 * testing::wigner(600, 32) + 0.5 * Eigen::MatrixXd::Identity(600, 600);
  DenseOperator op_a(a);
  DenseOperator op_b(b);
  const std::vector<SlqResult> blocks = {slq(op_a, {80, 20, true, 1}), slq(op_b, {80, 20, true, 2})};
  const Eigen::VectorXd exact_a = symmetric_eigenvalues(a);
  const Eigen::VectorXd exact_b = symmetric_eigenvalues(b);
  const DensityGrid grid = make_grid(std::min(exact_a.minCoeff(), exact_b.minCoeff()),
                                     std::max(exact_a.maxCoeff(), exact_b.maxCoeff()), {0.01, SigmaMode::relative});
  const Eigen::VectorXd uniform = Eigen::VectorXd::Constant(600, 1.0 / 600.0);
  const double js_exact =
      js_distance(gaussian_density(exact_a, uniform, grid), gaussian_density(exact_b, uniform, grid));
  const Eigen::MatrixXd js_slq = js_matrix(slq_densities(blocks, grid));
  RecordProperty("js_exact", std::to_string(js_exact));
  RecordProperty("js_slq", std::to_string(js_slq(0, 1)));
  EXPECT_GT(js_exact, 0.1);  // the pair is genuinely different
  EXPECT_LT(js_exact, 0.9);
  EXPECT_LE(std::abs(js_slq(0, 1) - js_exact), kSlqJsTol);

  const Eigen::MatrixXd stderr_a = js_bootstrap_stderr(blocks, grid, 100, 7);
  const Eigen::MatrixXd stderr_b = js_bootstrap_stderr(blocks, grid, 100, 7);
  RecordProperty("js_bootstrap_stderr", std::to_string(stderr_a(0, 1)));
  EXPECT_TRUE(stderr_a == stderr_b);  // seeded: bitwise reproducible
  EXPECT_TRUE(stderr_a == stderr_a.transpose());
  EXPECT_TRUE((stderr_a.diagonal().array() == 0.0).all());
  EXPECT_GT(stderr_a(0, 1), 0.0);
  EXPECT_LT(stderr_a(0, 1), kSlqJsTol);
  EXPECT_THROW(js_bootstrap_stderr(blocks, grid, 1, 7), std::runtime_error);
}

TEST(Wasserstein1, TranslatedDensityMovesByTheShift) {
  // For q(t) = p(t − d), W1 = d exactly; the trapezoid CDF errs by O(Δt²).
  const DensityGrid grid = make_grid(0.0, 20.0, {0.5, SigmaMode::absolute});
  EXPECT_NEAR(wasserstein1(grid.points, bump(grid, 5.0), bump(grid, 8.0)), 3.0, 1e-6);
  EXPECT_NEAR(wasserstein1(grid.points, bump(grid, 5.0), bump(grid, 5.0)), 0.0, kIdentityTol);
}

}  // namespace
}  // namespace blockscope::hessian
