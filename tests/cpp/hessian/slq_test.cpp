// SLQ: density against the exact eigenvalue density smoothed with the same σ,
// the Hutchinson trace, the grid rules and determinism.
//
// SLQ density error has two parts, tested apart:
//  - quadrature: m-step Gauss quadrature vs the probes' own spectral measures
//    Σ_i (q_iᵀv_l)² δ(λ_i). This is the algorithm; W1/range ≤ 1e-4 (observed
//    ≤ 7e-6 over 40 seeds at n_v = 10, m = 80 on a 1000² Wigner matrix).
//  - Monte Carlo: the probe measures vs the uniform eigenvalue measure. W1 is
//    at least the shift of the mean, the Hutchinson error zᵀAz/n, whose sd is
//    sqrt(2(‖A‖²_F − Σ A_ii²))/n per probe; CDF fluctuations have sd
//    ≈ sqrt(F(1−F)·2/(n·n_v)). Hence W1/range ≈ 0.32·sqrt(2/(n·n_v)):
//      * Hessian-like spectrum (bulk on [−1, 1] + outliers to 30, n = 1000,
//        n_v = 10, m = 80): the range is dominated by outliers, W1/range ≤ 2e-3
//        as quoted in docs/algorithms.md §2 (5e-4 … 1.8e-3 for an MLP Hessian;
//        observed median 6e-4, max 1.7e-3 over 40 seeds);
//      * Wigner semicircle (n = 1000, n_v = 10): the prediction is 4.5e-3
//        (observed median 4.0e-3, max 1.1e-2 over 40 seeds — the max is seed 3,
//        the seed fixed here before measuring), so 2e-3 is not reachable at
//        n_v = 10; the bound is 3× the prediction, 1.35e-2.
//  - trace within 3 standard errors of the exact trace (a ~99.7 % interval;
//    the seed is fixed, so the test is deterministic).
//  - density integral 1 to 1e-12 (trapezoid sum of ≤ 10⁵ terms).
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>

#include "hessian/dense.h"
#include "hessian/random.h"
#include "hessian/slq.h"
#include "hessian/spectral_distance.h"
#include "test_matrices.h"

namespace blockscope::hessian {
namespace {

constexpr double kQuadratureW1OverRangeTol = 1e-4;
constexpr double kHessianLikeW1OverRangeTol = 2e-3;
constexpr double kTraceStandardErrors = 3.0;
constexpr double kIntegralTol = 1e-12;

double trapezoid(const DensityGrid& grid, const Eigen::VectorXd& values) {
  return grid.spacing * (values.sum() - 0.5 * (values[0] + values[values.size() - 1]));
}

// W1/range between the SLQ density of `a` (n_v = 10, m = 80, seed 3) and
// (1) the exact smoothed eigenvalue density, (2) the smoothed exact spectral
// measures of the same probes.
struct DensityErrors {
  double vs_exact = 0.0;
  double vs_probe_measures = 0.0;
};

DensityErrors slq_density_errors(const Eigen::MatrixXd& a) {
  const Eigen::Index n = a.rows();
  const int probes = 10;
  const std::uint64_t seed = 3;
  DenseOperator op(a);
  const SlqResult result = slq(op, {80, probes, true, seed});
  EXPECT_EQ(result.num_operations, 800);
  EXPECT_EQ(op.num_operations(), 800);

  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> exact(a);
  const Eigen::VectorXd& lambda = exact.eigenvalues();
  Eigen::VectorXd probe_mass = Eigen::VectorXd::Zero(n);  // mean_l (q_iᵀ v_l)²
  for (int l = 0; l < probes; ++l) {
    const Eigen::VectorXd v = rademacher(n, derive_seed(seed, std::uint64_t(l))) / std::sqrt(double(n));
    probe_mass += (exact.eigenvectors().transpose() * v).array().square().matrix() / double(probes);
  }
  const SpectralRange approx = node_range(result);
  const double lo = std::min(lambda[0], approx.min);
  const double hi = std::max(lambda[n - 1], approx.max);
  const DensityGrid grid = make_grid(lo, hi, {0.01, SigmaMode::relative});
  const Eigen::VectorXd phi_slq = slq_density(result, grid);
  const Eigen::VectorXd phi_exact = gaussian_density(lambda, Eigen::VectorXd::Constant(n, 1.0 / double(n)), grid);
  const Eigen::VectorXd phi_probes = gaussian_density(lambda, probe_mass, grid);
  return {wasserstein1(grid.points, phi_slq, phi_exact) / (hi - lo),
          wasserstein1(grid.points, phi_slq, phi_probes) / (hi - lo)};
}

TEST(Slq, DensityMatchesTheExactSmoothedSpectrum) {
  // Random symmetric Q diag(λ) Qᵀ (Haar Q) with a Hessian-like spectrum.
  const DensityErrors errors = slq_density_errors(testing::with_spectrum(testing::bulk_with_outliers(1000), 22));
  RecordProperty("w1_over_range", std::to_string(errors.vs_exact));
  EXPECT_LE(errors.vs_exact, kHessianLikeW1OverRangeTol);
  EXPECT_LE(errors.vs_probe_measures, kQuadratureW1OverRangeTol);
}

TEST(Slq, WignerDensityErrorIsTheProbesMonteCarloError) {
  const Eigen::Index n = 1000;
  const DensityErrors errors = slq_density_errors(testing::wigner(n, 21));
  RecordProperty("w1_over_range", std::to_string(errors.vs_exact));
  EXPECT_LE(errors.vs_probe_measures, kQuadratureW1OverRangeTol);
  const double predicted = 0.32 * std::sqrt(2.0 / (double(n) * 10.0));
  EXPECT_LE(errors.vs_exact, 3.0 * predicted);
}

TEST(Slq, TraceIsWithinThreeStandardErrors) {
  const Eigen::VectorXd spectrum = testing::bulk_with_outliers(500);
  DenseOperator op(testing::with_spectrum(spectrum, 22));
  const SlqResult result = slq(op, {40, 30, true, 8});
  ASSERT_GT(result.trace_stderr, 0.0);
  EXPECT_LE(std::abs(result.trace - spectrum.sum()), kTraceStandardErrors * result.trace_stderr);
}

TEST(Slq, OneProbeHasNoStandardError) {
  DenseOperator op(testing::wigner(50, 23));
  EXPECT_TRUE(std::isnan(slq(op, {10, 1, true, 0}).trace_stderr));
}

TEST(Slq, ShapesPadUnusedStepsWithZeroWeight) {
  Eigen::VectorXd spectrum(90);
  for (int i = 0; i < 90; ++i) spectrum[i] = double(i / 30);  // 3 distinct eigenvalues
  DenseOperator op(testing::with_spectrum(spectrum, 24));
  int calls = 0;
  const SlqResult result = slq(op, {20, 4, true, 1}, [&](int done, int total) {
    ++calls;
    EXPECT_EQ(done, calls);
    EXPECT_EQ(total, 4);
  });
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(result.nodes.rows(), 4);
  EXPECT_EQ(result.nodes.cols(), 20);
  EXPECT_EQ(result.breakdowns, 4);
  EXPECT_TRUE((result.steps.array() == 3).all());
  EXPECT_TRUE((result.weights.rightCols(17).array() == 0.0).all());
  const SpectralRange range = node_range(result);
  EXPECT_NEAR(range.min, 0.0, 1e-10);
  EXPECT_NEAR(range.max, 2.0, 1e-10);
}

TEST(Slq, SameSeedGivesBitwiseIdenticalNodesAndWeights) {
  DenseOperator op(testing::wigner(200, 25));
  const SlqResult a = slq(op, {30, 5, true, 99});
  const SlqResult b = slq(op, {30, 5, true, 99});
  EXPECT_TRUE(a.nodes == b.nodes);
  EXPECT_TRUE(a.weights == b.weights);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_FALSE(a.nodes == slq(op, {30, 5, true, 100}).nodes);
}

TEST(Slq, RejectsBadSettings) {
  DenseOperator op(Eigen::MatrixXd::Identity(10, 10));
  EXPECT_THROW(slq(op, {10, 0, true, 0}), std::runtime_error);
  EXPECT_THROW(slq(op, {1, 5, true, 0}), std::runtime_error);
}

TEST(DensityGrid, PaddingSizeAndNormalisation) {
  const DensityGrid grid = make_grid(-1.0, 3.0, {0.02, SigmaMode::relative});
  EXPECT_DOUBLE_EQ(grid.sigma, 0.08);
  EXPECT_EQ(grid.points.size(), 4000);
  EXPECT_LE(grid.points[0], -1.0 - 3.0 * grid.sigma);
  EXPECT_GE(grid.points[3999], 3.0 + 3.0 * grid.sigma);
  EXPECT_NEAR(grid.points[1] - grid.points[0], grid.spacing, 1e-15);
  const Eigen::Vector3d nodes(-1.0, 0.5, 3.0);
  const Eigen::Vector3d weights(0.2, 0.3, 0.5);
  EXPECT_NEAR(trapezoid(grid, gaussian_density(nodes, weights, grid)), 1.0, kIntegralTol);
}

TEST(DensityGrid, RefinesWhenSigmaIsSmallAgainstTheRange) {
  const DensityGrid grid = make_grid(0.0, 100.0, {0.01, SigmaMode::absolute});
  EXPECT_GT(grid.points.size(), 4000);
  EXPECT_LE(grid.spacing, 0.5 * grid.sigma);
  EXPECT_EQ(grid.smoothing.mode, SigmaMode::absolute);
  EXPECT_THROW(make_grid(0.0, 1e6, {1e-6, SigmaMode::absolute}), std::runtime_error);
}

TEST(DensityGrid, RejectsBadSettings) {
  EXPECT_THROW(make_grid(0.0, 1.0, {0.0, SigmaMode::absolute}), std::runtime_error);
  EXPECT_THROW(make_grid(0.0, 1.0, {-0.1, SigmaMode::relative}), std::runtime_error);
  EXPECT_THROW(make_grid(2.0, 2.0, {0.1, SigmaMode::relative}), std::runtime_error);
  EXPECT_NO_THROW(make_grid(2.0, 2.0, {0.1, SigmaMode::absolute}));
  EXPECT_THROW(make_grid(0.0, 1.0, {0.1, SigmaMode::absolute}, {3999, 5.0, 4'000'000}), std::runtime_error);
  EXPECT_THROW(make_grid(0.0, 1.0, {0.1, SigmaMode::absolute}, {4000, 2.5, 4'000'000}), std::runtime_error);
}

TEST(DensityGrid, SigmaModeNamesRoundTrip) {
  EXPECT_EQ(parse_sigma_mode(to_string(SigmaMode::absolute)), SigmaMode::absolute);
  EXPECT_EQ(parse_sigma_mode(to_string(SigmaMode::relative)), SigmaMode::relative);
  EXPECT_THROW(parse_sigma_mode("relative_to_range"), std::runtime_error);
}

TEST(DensityGrid, CommonGridCoversEveryBlock) {
  DenseOperator small(Eigen::VectorXd::LinSpaced(40, -1.0, 1.0).asDiagonal().toDenseMatrix());
  DenseOperator large(Eigen::VectorXd::LinSpaced(40, 2.0, 9.0).asDiagonal().toDenseMatrix());
  const std::vector<SlqResult> blocks = {slq(small, {40, 2, true, 0}), slq(large, {40, 2, true, 1})};
  const DensityGrid grid = common_grid(blocks, {0.01, SigmaMode::relative});
  EXPECT_NEAR(grid.range_min, -1.0, 1e-10);
  EXPECT_NEAR(grid.range_max, 9.0, 1e-10);
  const Eigen::MatrixXd densities = slq_densities(blocks, grid);
  ASSERT_EQ(densities.rows(), 2);
  for (int b = 0; b < 2; ++b) {
    EXPECT_NEAR(trapezoid(grid, densities.row(b).transpose()), 1.0, kIntegralTol);
  }
}

}  // namespace
}  // namespace blockscope::hessian
