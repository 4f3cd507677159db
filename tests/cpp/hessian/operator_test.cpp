// Operator concept and adapters, seeded probes, the dense ground truth.
// Agreement expected: bitwise where the same arithmetic is done (counters,
// gathers, seeds); 1e-12 relative for matrix products and dense eigenvalues
// of O(1) matrices of size ≤ 100 (a few hundred ulp of accumulated rounding).
#include <gtest/gtest.h>

#include <Spectra/SymEigsSolver.h>

#include "hessian/dense.h"
#include "hessian/operator.h"
#include "hessian/random.h"
#include "test_matrices.h"

namespace blockscope::hessian {
namespace {

constexpr double kProductTolerance = 1e-12;

TEST(DenseOperator, AppliesTheMatrixAndCountsEachApplication) {
  const Eigen::MatrixXd a = testing::wigner(30, 1);
  DenseOperator op(a);
  const Eigen::VectorXd x = testing::gaussian_matrix(30, 1, 2);
  Eigen::VectorXd y(30);
  op.perform_op(x.data(), y.data());
  op.perform_op(x.data(), y.data());
  EXPECT_LE((y - a * x).norm(), kProductTolerance * (a * x).norm());
  EXPECT_EQ(op.num_operations(), 2);
  EXPECT_EQ(op.cols(), 30);
  op.reset_num_operations();
  EXPECT_EQ(op.num_operations(), 0);
}

TEST(DenseOperator, RejectsNonSquareMatrices) {
  EXPECT_THROW(DenseOperator(Eigen::MatrixXd::Zero(3, 4)), std::runtime_error);
  EXPECT_THROW(DenseOperator(Eigen::MatrixXd()), std::runtime_error);
}

TEST(DenseOperator, SpectraSolverByReferenceIsCountedByTheOperator) {
  DenseOperator op(testing::wigner(120, 3));
  Spectra::SymEigsSolver<DenseOperator> solver(op, 3, 12);
  solver.init();
  solver.compute(Spectra::SortRule::LargestAlge, 1000, 1e-10);
  ASSERT_EQ(solver.info(), Spectra::CompInfo::Successful);
  EXPECT_EQ(op.num_operations(), solver.num_operations());
}

TEST(ShiftedOperator, SubtractsTheShiftAndCountsBoth) {
  const Eigen::MatrixXd a = testing::wigner(20, 4);
  DenseOperator base(a);
  ShiftedOperator shifted(base, 0.75);
  const Eigen::VectorXd x = testing::gaussian_matrix(20, 1, 5);
  Eigen::VectorXd y(20);
  shifted.perform_op(x.data(), y.data());
  const Eigen::VectorXd expected = a * x - 0.75 * x;
  EXPECT_LE((y - expected).norm(), kProductTolerance * expected.norm());
  EXPECT_EQ(shifted.num_operations(), 1);
  EXPECT_EQ(base.num_operations(), 1);
}

TEST(RestrictedOperator, EqualsTheSubmatrixOfItsRanges) {
  const Eigen::MatrixXd a = testing::wigner(50, 6);
  DenseOperator full(a);
  const BlockRanges ranges = {{30, 40}, {5, 8}};  // order given = block-local order
  RestrictedOperator block(full, ranges);
  ASSERT_EQ(block.rows(), 13);
  std::vector<Eigen::Index> index;
  for (const IndexRange& r : ranges) {
    for (Eigen::Index i = r.begin; i < r.end; ++i) index.push_back(i);
  }
  const DenseMatrix dense = dense_matrix(block);
  for (Eigen::Index i = 0; i < 13; ++i) {
    for (Eigen::Index j = 0; j < 13; ++j) EXPECT_EQ(dense.matrix(i, j), a(index[i], index[j]));
  }
  EXPECT_EQ(full.num_operations(), 13);
}

TEST(RestrictedOperator, RejectsEmptyOutOfRangeAndOverlappingRanges) {
  DenseOperator full(Eigen::MatrixXd::Identity(10, 10));
  EXPECT_THROW(RestrictedOperator(full, {}), std::runtime_error);
  EXPECT_THROW(RestrictedOperator(full, {{3, 3}}), std::runtime_error);
  EXPECT_THROW(RestrictedOperator(full, {{8, 11}}), std::runtime_error);
  EXPECT_THROW(RestrictedOperator(full, {{-1, 2}}), std::runtime_error);
  EXPECT_THROW(RestrictedOperator(full, {{0, 5}, {4, 6}}), std::runtime_error);
  EXPECT_NO_THROW(RestrictedOperator(full, {{5, 10}, {0, 5}}));
}

TEST(Random, SameSeedGivesIdenticalRademacherVectors) {
  const Eigen::VectorXd a = rademacher(1000, derive_seed(42, 3));
  const Eigen::VectorXd b = rademacher(1000, derive_seed(42, 3));
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == rademacher(1000, derive_seed(42, 4)));
  EXPECT_FALSE(a == rademacher(1000, derive_seed(43, 3)));
  EXPECT_TRUE((a.array().abs() == 1.0).all());
  // Balance: the sum of 1000 fair signs has sd √1000 ≈ 31.6; 5 sd allowed.
  EXPECT_LE(std::abs(a.sum()), 5.0 * std::sqrt(1000.0));
}

TEST(Random, SplitMixMatchesTheReferenceRecurrence) {
  // First output of the splitmix64 recurrence from state 0 (Vigna,
  // prng.di.unimi.it/splitmix64.c), recomputed independently in Python.
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);
}

class SkewOperator final : public SymmetricOperator {
 public:
  explicit SkewOperator(Eigen::MatrixXd m) : m_(std::move(m)) {}
  Eigen::Index rows() const override { return m_.rows(); }

 protected:
  void apply(const double* x, double* y) const override {
    Eigen::Map<Eigen::VectorXd>(y, rows()) = m_ * Eigen::Map<const Eigen::VectorXd>(x, rows());
  }

 private:
  Eigen::MatrixXd m_;
};

TEST(DenseMatrix, SymmetrisesAndMeasuresAsymmetry) {
  Eigen::MatrixXd a = testing::wigner(40, 7);
  a(3, 5) += 0.5;  // breaks symmetry by 0.5 in one entry pair
  SkewOperator op(a);
  const DenseMatrix dense = dense_matrix(op);
  EXPECT_EQ(dense.num_operations, 40);
  EXPECT_TRUE(dense.matrix.isApprox(dense.matrix.transpose(), 0.0));
  EXPECT_DOUBLE_EQ(dense.asymmetry, 0.5 / a.cwiseAbs().maxCoeff());
  EXPECT_DOUBLE_EQ(dense.matrix(3, 5), a(3, 5) - 0.25);
  EXPECT_THROW(dense_matrix(op, 39), std::runtime_error);
}

TEST(DenseMatrix, EigenvaluesOfAKnownSpectrum) {
  const Eigen::VectorXd spectrum = testing::bulk_with_outliers(100);
  DenseOperator op(testing::with_spectrum(spectrum, 8));
  const Eigen::VectorXd eigenvalues = dense_eigenvalues(op);
  EXPECT_LE((eigenvalues - spectrum).cwiseAbs().maxCoeff(), kProductTolerance * 30.0);
}

}  // namespace
}  // namespace blockscope::hessian
