// Hutchinson's diagonal against the matrix it estimates.
#include <gtest/gtest.h>

#include "hessian/diagonal.h"
#include "test_matrices.h"

namespace blockscope::hessian {
namespace {

// z_i² = 1 for Rademacher z: one probe of a diagonal matrix is exact
// (bitwise up to the sign flips, which are exact in floating point).
TEST(HutchinsonDiagonal, ExactForADiagonalMatrixWithOneProbe) {
  const Eigen::VectorXd d = testing::gaussian_matrix(50, 1, 3).col(0);
  const DenseOperator op(Eigen::MatrixXd(d.asDiagonal()));
  EXPECT_EQ(hutchinson_diagonal(op, 1, 7), d);
  EXPECT_EQ(op.num_operations(), 1);
}

// A dense symmetric A: the error of element i after P probes has standard
// deviation sqrt(Σ_{j≠i} A_ij² / P); every element must lie within 5 of them
// (a 5σ bound: failure probability < 1e-4 over all 40 elements).
TEST(HutchinsonDiagonal, ConvergesToTheDiagonalWithinItsStandardError) {
  const Eigen::MatrixXd g = testing::gaussian_matrix(40, 40, 11);
  const Eigen::MatrixXd a = 0.5 * (g + g.transpose());
  const DenseOperator op(a);
  const int probes = 400;
  const Eigen::VectorXd d = hutchinson_diagonal(op, probes, 5);
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    const double off = a.row(i).squaredNorm() - a(i, i) * a(i, i);
    EXPECT_NEAR(d[i], a(i, i), 5.0 * std::sqrt(off / probes)) << i;
  }
  EXPECT_THROW(hutchinson_diagonal(op, 0, 5), std::runtime_error);
}

}  // namespace
}  // namespace blockscope::hessian
