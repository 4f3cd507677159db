// Lanczos against matrices with known spectra (Q diag(λ) Qᵀ).
// Tolerances:
//  - top eigenvalue ≤ 1e-8 relative with re-orthogonalisation: the outlier gap
//    (30 vs 15 over a spread of 31) makes Kaniel–Paige convergence reach
//    machine precision within ~20 steps; 1e-8 is the brief's accuracy target.
//  - Σ τ = 1 to 1e-13: the first row of an orthogonal eigenvector matrix
//    (m ≤ 100 entries, each rounding ~1e-16).
//  - exact Krylov cases (breakdown, m_b = n): 1e-10 · max|λ| — the breakdown
//    threshold itself is 1e-10 · max|α|.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "hessian/lanczos.h"
#include "hessian/random.h"
#include "hessian/slq.h"
#include "hessian/spectral_distance.h"
#include "test_matrices.h"

namespace blockscope::hessian {
namespace {

constexpr double kTopEigenvalueRelTol = 1e-8;
constexpr double kWeightSumTol = 1e-13;
constexpr double kExactKrylovRelTol = 1e-10;

int copies_near(const Eigen::VectorXd& nodes, double value, double tolerance) {
  return int(((nodes.array() - value).abs() <= tolerance).count());
}

TEST(Lanczos, FindsTheTopEigenvalueWithReorthogonalisation) {
  const Eigen::VectorXd spectrum = testing::bulk_with_outliers(400);
  DenseOperator op(testing::with_spectrum(spectrum, 11));
  const LanczosResult r = lanczos(op, {100, true, 5, 0});
  ASSERT_EQ(r.steps, 100);
  EXPECT_FALSE(r.breakdown);
  EXPECT_EQ(r.alpha.size(), 100);
  EXPECT_EQ(r.beta.size(), 99);
  EXPECT_EQ(r.num_operations, 100);
  EXPECT_EQ(op.num_operations(), 100);
  EXPECT_LE(std::abs(r.nodes.maxCoeff() - 30.0) / 30.0, kTopEigenvalueRelTol);
  EXPECT_LE(std::abs(r.nodes[r.steps - 2] - 15.0) / 15.0, kTopEigenvalueRelTol);
  EXPECT_NEAR(r.weights.sum(), 1.0, kWeightSumTol);
  EXPECT_TRUE((r.weights.array() >= 0.0).all());
  EXPECT_TRUE(std::is_sorted(r.nodes.data(), r.nodes.data() + r.steps));
  // Ritz values lie inside the spectrum (Cauchy interlacing).
  EXPECT_GE(r.nodes.minCoeff(), -1.0 - kExactKrylovRelTol * 30.0);
  // With a basis kept orthogonal, λ_max appears exactly once.
  EXPECT_EQ(copies_near(r.nodes, 30.0, 1e-6), 1);
}

TEST(Lanczos, BreaksDownOnAMatrixWithFewDistinctEigenvalues) {
  // 4 distinct eigenvalues, 50 copies each: the Krylov space has dimension 4.
  Eigen::VectorXd spectrum(200);
  const double distinct[4] = {-2.0, 0.5, 1.0, 3.0};
  for (int i = 0; i < 200; ++i) spectrum[i] = distinct[i / 50];
  const Eigen::MatrixXd q = testing::random_orthogonal(200, 12);
  DenseOperator op(q * spectrum.asDiagonal() * q.transpose());
  const LanczosResult r = lanczos(op, {50, true, 9, 2});
  EXPECT_TRUE(r.breakdown);
  ASSERT_EQ(r.steps, 4);
  // Gauss quadrature is exact here: nodes are the eigenvalues and weight i is
  // ‖P_i v_1‖², the start vector's mass in eigenspace i.
  const Eigen::VectorXd v1 = rademacher(200, derive_seed(9, 2)) / std::sqrt(200.0);
  const Eigen::VectorXd coefficients = q.transpose() * v1;
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(r.nodes[i], distinct[i], kExactKrylovRelTol * 3.0);
    EXPECT_NEAR(r.weights[i], coefficients.segment(50 * i, 50).squaredNorm(), kExactKrylovRelTol);
  }
}

TEST(Lanczos, FullKrylovSpaceWhenStepsExceedTheSize) {
  const Eigen::VectorXd spectrum = Eigen::VectorXd::LinSpaced(12, -3.0, 5.0);
  DenseOperator op(testing::with_spectrum(spectrum, 13));
  const LanczosResult r = lanczos(op, {100, true, 1, 0});
  ASSERT_EQ(r.steps, 12);  // m_b = min(m, n)
  EXPECT_FALSE(r.breakdown);
  EXPECT_LE((r.nodes - spectrum).cwiseAbs().maxCoeff(), kExactKrylovRelTol * 5.0);
}

TEST(Lanczos, WithoutReorthogonalisationGhostsAppearButTheDensityHolds) {
  const Eigen::VectorXd spectrum = testing::bulk_with_outliers(400);
  DenseOperator op(testing::with_spectrum(spectrum, 14));
  const LanczosResult plain = lanczos(op, {200, false, 3, 0});
  const LanczosResult orthogonal = lanczos(op, {200, true, 3, 0});
  // Loss of orthogonality re-introduces converged eigenvalues (ghosts)...
  EXPECT_GE(copies_near(plain.nodes, 30.0, 1e-6), 2);
  EXPECT_EQ(copies_near(orthogonal.nodes, 30.0, 1e-6), 1);
  // ...which split λ_max's weight but leave the smoothed density in place:
  // W1/range between the two quadratures stays within the SLQ accuracy figure
  // of docs/algorithms.md §2 (5e-4 … 1.8e-3).
  EXPECT_NEAR(plain.weights.sum(), 1.0, kWeightSumTol);
  const DensityGrid grid = make_grid(-1.0, 30.0, {0.01, SigmaMode::relative});
  const double w1 = wasserstein1(grid.points, gaussian_density(plain.nodes, plain.weights, grid),
                                 gaussian_density(orthogonal.nodes, orthogonal.weights, grid));
  EXPECT_LE(w1 / 31.0, 1.8e-3);
}

TEST(Lanczos, SameSeedAndProbeGiveBitwiseIdenticalResults) {
  DenseOperator op(testing::wigner(300, 15));
  const LanczosResult a = lanczos(op, {60, true, 77, 4});
  const LanczosResult b = lanczos(op, {60, true, 77, 4});
  EXPECT_TRUE(a.alpha == b.alpha);
  EXPECT_TRUE(a.beta == b.beta);
  EXPECT_TRUE(a.nodes == b.nodes);
  EXPECT_TRUE(a.weights == b.weights);
  EXPECT_FALSE(a.alpha == lanczos(op, {60, true, 77, 5}).alpha);
}

TEST(Lanczos, RejectsTooFewSteps) {
  DenseOperator op(Eigen::MatrixXd::Identity(5, 5));
  EXPECT_THROW(lanczos(op, {1, true, 0, 0}), std::runtime_error);
}

class NanOperator final : public SymmetricOperator {
 public:
  Eigen::Index rows() const override { return 8; }

 protected:
  void apply(const double*, double* y) const override {
    Eigen::Map<Eigen::VectorXd>(y, 8).setConstant(std::numeric_limits<double>::quiet_NaN());
  }
};

TEST(Lanczos, RejectsNonFiniteOperatorOutput) {
  NanOperator op;
  EXPECT_THROW(lanczos(op, {4, true, 0, 0}), std::runtime_error);
}

}  // namespace
}  // namespace blockscope::hessian
