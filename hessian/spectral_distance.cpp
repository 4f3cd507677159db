#include "hessian/spectral_distance.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "hessian/random.h"

namespace blockscope::hessian {
namespace {

// Probabilities below this contribute 0 (0·log 0 = 0; avoids NaN in tails).
constexpr double kProbabilityFloor = 1e-300;

// Σ_i a_i log2(a_i / m_i) over a_i ≥ floor.
double kl_to_mixture(const Eigen::VectorXd& a, const Eigen::VectorXd& m) {
  double sum = 0.0;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    if (a[i] >= kProbabilityFloor) sum += a[i] * std::log2(a[i] / m[i]);
  }
  return sum;
}

Eigen::VectorXd to_probabilities(const Eigen::VectorXd& density) {
  const double total = density.sum();
  if (!(total > 0.0) || !std::isfinite(total)) {
    throw std::runtime_error("JS distance got a density with zero or non-finite mass; check the grid and nodes");
  }
  return density / total;
}

// Cumulative trapezoid integral of values over grid, scaled to end at 1.
Eigen::VectorXd cdf(const Eigen::VectorXd& grid, const Eigen::VectorXd& values) {
  Eigen::VectorXd f(grid.size());
  f[0] = 0.0;
  for (Eigen::Index i = 1; i < grid.size(); ++i) {
    f[i] = f[i - 1] + 0.5 * (values[i] + values[i - 1]) * (grid[i] - grid[i - 1]);
  }
  if (!(f[grid.size() - 1] > 0.0)) {
    throw std::runtime_error("Wasserstein-1 got a density with zero mass on its grid; check the grid");
  }
  return f / f[grid.size() - 1];
}

}  // namespace

double js_distance(const Eigen::VectorXd& p, const Eigen::VectorXd& q) {
  if (p.size() != q.size() || p.size() == 0) {
    throw std::runtime_error(
        fmt::format("JS distance needs two densities on one grid, got sizes {} and {}; build them on a common grid",
                    p.size(), q.size()));
  }
  const Eigen::VectorXd pp = to_probabilities(p);
  const Eigen::VectorXd qq = to_probabilities(q);
  const Eigen::VectorXd m = 0.5 * (pp + qq);
  const double divergence = 0.5 * kl_to_mixture(pp, m) + 0.5 * kl_to_mixture(qq, m);
  return std::sqrt(std::clamp(divergence, 0.0, 1.0));
}

Eigen::MatrixXd js_matrix(const Eigen::MatrixXd& densities) {
  const Eigen::Index b = densities.rows();
  Eigen::MatrixXd js = Eigen::MatrixXd::Zero(b, b);
  for (Eigen::Index i = 0; i < b; ++i) {
    for (Eigen::Index j = i + 1; j < b; ++j) {
      js(i, j) = js(j, i) = js_distance(densities.row(i).transpose(), densities.row(j).transpose());
    }
  }
  return js;
}

double mean_pairwise(const Eigen::MatrixXd& matrix) {
  const Eigen::Index b = matrix.rows();
  if (b < 2 || matrix.cols() != b) {
    throw std::runtime_error(
        fmt::format("mean pairwise distance needs a square matrix of at least 2 blocks, got {}x{}", b, matrix.cols()));
  }
  return (matrix.sum() - matrix.trace()) / double(b * (b - 1));
}

Eigen::MatrixXd js_bootstrap_stderr(const std::vector<SlqResult>& blocks, const DensityGrid& grid, int replicates,
                                    std::uint64_t seed) {
  if (replicates < 2) {
    throw std::runtime_error(fmt::format(
        "JS bootstrap needs at least 2 replicates, got {}; raise the replicate count (e.g. 200)", replicates));
  }
  const Eigen::Index b = Eigen::Index(blocks.size());
  std::vector<Eigen::MatrixXd> per_probe;
  per_probe.reserve(blocks.size());
  for (const SlqResult& block : blocks) per_probe.push_back(probe_densities(block, grid));

  Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(b, b);
  Eigen::MatrixXd sum_sq = Eigen::MatrixXd::Zero(b, b);
  Eigen::MatrixXd densities(b, grid.points.size());
  for (int r = 0; r < replicates; ++r) {
    const std::uint64_t replicate_seed = derive_seed(seed, std::uint64_t(r));
    for (Eigen::Index k = 0; k < b; ++k) {
      const Eigen::Index probes = per_probe[k].rows();
      std::mt19937_64 generator(derive_seed(replicate_seed, std::uint64_t(k)));
      Eigen::VectorXd resampled = Eigen::VectorXd::Zero(grid.points.size());
      for (Eigen::Index l = 0; l < probes; ++l) {
        resampled += per_probe[k].row(Eigen::Index(generator() % std::uint64_t(probes))).transpose();
      }
      densities.row(k) = resampled.transpose();
    }
    const Eigen::MatrixXd js = js_matrix(densities);
    sum += js;
    sum_sq += js.cwiseProduct(js);
  }
  const double n = replicates;
  const Eigen::MatrixXd variance = (sum_sq - sum.cwiseProduct(sum) / n) / (n - 1.0);
  return variance.cwiseMax(0.0).cwiseSqrt();
}

double wasserstein1(const Eigen::VectorXd& grid, const Eigen::VectorXd& p, const Eigen::VectorXd& q) {
  if (grid.size() < 2 || p.size() != grid.size() || q.size() != grid.size()) {
    throw std::runtime_error(
        fmt::format("Wasserstein-1 needs two densities on one grid of ≥ 2 points, got grid {}, densities {} and {}",
                    grid.size(), p.size(), q.size()));
  }
  const Eigen::VectorXd difference = (cdf(grid, p) - cdf(grid, q)).cwiseAbs();
  double w = 0.0;
  for (Eigen::Index i = 1; i < grid.size(); ++i) {
    w += 0.5 * (difference[i] + difference[i - 1]) * (grid[i] - grid[i - 1]);
  }
  return w;
}

}  // namespace blockscope::hessian
