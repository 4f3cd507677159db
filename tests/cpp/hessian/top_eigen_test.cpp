// Top-k and smallest eigenvalue against Eigen's dense solver.
// Tolerances: 1e-8 relative on the Spectra path (tolerance 1e-10 on the
// residual bounds the eigenvalue error by ~1e-10·|λ|); 1e-12 relative on the
// exact dense path (the same dense solver on the same matrix).
#include <gtest/gtest.h>

#include "hessian/dense.h"
#include "hessian/top_eigen.h"
#include "test_matrices.h"

namespace blockscope::hessian {
namespace {

constexpr double kSpectraRelTol = 1e-8;
constexpr double kDenseRelTol = 1e-12;

TEST(TopEigen, SpectraMatchesTheDenseSolver) {
  const Eigen::MatrixXd a =
      testing::wigner(500, 41) + testing::with_spectrum(testing::bulk_with_outliers(500), 42) / 10.0;
  DenseOperator op(a);
  const Eigen::VectorXd exact = symmetric_eigenvalues(a);
  const TopEigenResult r = top_eigenvalues(op, {5, 1000, 1e-10, 64});
  ASSERT_TRUE(r.converged());
  EXPECT_FALSE(r.dense_path);
  EXPECT_EQ(r.largest_status, EigenStatus::converged);
  ASSERT_EQ(r.largest.size(), 5);
  const double scale = exact.cwiseAbs().maxCoeff();
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(r.largest[i], exact[499 - i], kSpectraRelTol * scale);
  EXPECT_NEAR(r.smallest, exact[0], kSpectraRelTol * scale);
  EXPECT_GT(r.iterations, 0);
  EXPECT_EQ(r.num_operations, op.num_operations());
  EXPECT_LT(r.num_operations, 500);  // far fewer applications than the dense path
}

TEST(TopEigen, SmallBlocksAreSolvedExactly) {
  const Eigen::MatrixXd a = testing::wigner(40, 43);
  DenseOperator op(a);
  const Eigen::VectorXd exact = symmetric_eigenvalues(a);
  const TopEigenResult r = top_eigenvalues(op, {3, 1000, 1e-10, 64});
  EXPECT_TRUE(r.dense_path);
  EXPECT_EQ(r.largest_status, EigenStatus::exact);
  EXPECT_EQ(r.num_operations, 40);
  EXPECT_EQ(r.iterations, 0);
  const double scale = exact.cwiseAbs().maxCoeff();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(r.largest[i], exact[39 - i], kDenseRelTol * scale);
  EXPECT_NEAR(r.smallest, exact[0], kDenseRelTol * scale);
}

TEST(TopEigen, DensePathWhenSpectraCannotFitTheSubspace) {
  // n = 81 > 64 but n ≤ 2k + 1 = 81: Spectra's nev < ncv ≤ n leaves no room.
  DenseOperator op(testing::wigner(81, 44));
  EXPECT_TRUE(top_eigenvalues(op, {40, 1000, 1e-10, 64}).dense_path);
  // k > n returns the whole spectrum.
  DenseOperator tiny(testing::wigner(5, 45));
  EXPECT_EQ(top_eigenvalues(tiny, {10, 1000, 1e-10, 64}).largest.size(), 5);
}

TEST(TopEigen, UnconvergedResultsCarryTheirStatusAndNaN) {
  DenseOperator op(testing::wigner(500, 46));
  const TopEigenResult r = top_eigenvalues(op, {5, 1, 1e-14, 64});
  ASSERT_FALSE(r.converged());
  EXPECT_EQ(r.largest_status, EigenStatus::not_converging);
  EXPECT_TRUE(r.largest.array().isNaN().all());
}

// A PSD block with a large null space and few distinct eigenvalues (like an
// MLP's last layer on little data) exhausts Spectra's Krylov space; the
// Lanczos fallback finds the exact extremes on the invariant subspace.
TEST(TopEigen, FewDistinctEigenvaluesFallBackToAnInvariantSubspace) {
  Eigen::VectorXd spectrum = Eigen::VectorXd::Zero(128);
  for (int i = 0; i < 6; ++i) spectrum[122 + i] = 0.1 * (i + 1);
  DenseOperator op(testing::with_spectrum(spectrum, 9));
  const TopEigenResult r = top_eigenvalues(op, {3, 100, 1e-10, 64});
  ASSERT_TRUE(r.converged()) << to_string(r.largest_status) << "/" << to_string(r.smallest_status);
  // Lanczos in fp64 on an exact invariant subspace: rounding only.
  EXPECT_NEAR(r.largest[0], 0.6, 1e-10);
  EXPECT_NEAR(r.largest[2], 0.4, 1e-10);
  EXPECT_NEAR(r.smallest, 0.0, 1e-10);
}

TEST(TopEigen, RejectsKBelowOneAndNamesStatuses) {
  DenseOperator op(Eigen::MatrixXd::Identity(4, 4));
  EXPECT_THROW(top_eigenvalues(op, {0, 1000, 1e-10, 64}), std::runtime_error);
  EXPECT_EQ(to_string(EigenStatus::converged), "converged");
  EXPECT_EQ(to_string(EigenStatus::not_converging), "not_converging");
  EXPECT_EQ(to_string(EigenStatus::numerical_issue), "numerical_issue");
  EXPECT_EQ(to_string(EigenStatus::exact), "exact");
}

}  // namespace
}  // namespace blockscope::hessian
