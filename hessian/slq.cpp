#include "hessian/slq.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "hessian/lanczos.h"

namespace blockscope::hessian {
namespace {

// exp(−x²/2) < 1e-300 beyond this many σ: those terms are skipped.
constexpr double kGaussianCutoffSigmas = 38.0;
constexpr double kPi = 3.14159265358979323846;

// out[i] += Σ_k w_k N(t_i; θ_k, σ²) over the grid, each term within the cutoff.
void add_gaussians(const double* nodes, const double* weights, Eigen::Index count, const DensityGrid& grid,
                   double* out) {
  const Eigen::Index g = grid.points.size();
  const double t0 = grid.points[0];
  const double inv_sigma = 1.0 / grid.sigma;
  const double scale = inv_sigma / std::sqrt(2.0 * kPi);
  const double reach = kGaussianCutoffSigmas * grid.sigma;
  for (Eigen::Index k = 0; k < count; ++k) {
    if (weights[k] == 0.0) continue;
    const double theta = nodes[k];
    const Eigen::Index lo = std::max<Eigen::Index>(0, Eigen::Index(std::ceil((theta - reach - t0) / grid.spacing)));
    const Eigen::Index hi =
        std::min<Eigen::Index>(g - 1, Eigen::Index(std::floor((theta + reach - t0) / grid.spacing)));
    const double amplitude = weights[k] * scale;
    for (Eigen::Index i = lo; i <= hi; ++i) {
      const double x = (grid.points[i] - theta) * inv_sigma;
      out[i] += amplitude * std::exp(-0.5 * x * x);
    }
  }
}

}  // namespace

SlqResult slq(const SymmetricOperator& op, const SlqOptions& options, const ProgressCallback& progress) {
  if (options.probes < 1) {
    throw std::runtime_error(fmt::format(
        "SLQ needs at least 1 probe, got n_v = {}; raise the probe count (≥ 20 for JS comparisons)", options.probes));
  }
  if (options.steps < 2) {
    throw std::runtime_error(
        fmt::format("SLQ needs at least 2 Lanczos steps, got m = {}; raise the Lanczos step count", options.steps));
  }
  SlqResult result;
  result.dimension = op.rows();
  const Eigen::Index max_steps = std::min<Eigen::Index>(options.steps, op.rows());
  result.nodes = Eigen::MatrixXd::Zero(options.probes, max_steps);
  result.weights = Eigen::MatrixXd::Zero(options.probes, max_steps);
  result.steps = Eigen::VectorXi::Zero(options.probes);
  Eigen::VectorXd probe_traces(options.probes);

  for (int l = 0; l < options.probes; ++l) {
    LanczosOptions lanczos_options{options.steps, options.reorthogonalize, options.seed, std::uint64_t(l)};
    const LanczosResult run = lanczos(op, lanczos_options);
    result.nodes.row(l).head(run.steps) = run.nodes.transpose();
    result.weights.row(l).head(run.steps) = run.weights.transpose();
    result.steps[l] = run.steps;
    result.breakdowns += run.breakdown ? 1 : 0;
    result.num_operations += run.num_operations;
    probe_traces[l] = double(result.dimension) * run.weights.dot(run.nodes);
    if (progress) progress(l + 1, options.probes);
  }

  result.trace = probe_traces.mean();
  if (options.probes > 1) {
    const double variance = (probe_traces.array() - result.trace).square().sum() / (options.probes - 1);
    result.trace_stderr = std::sqrt(variance / options.probes);
  } else {
    result.trace_stderr = std::numeric_limits<double>::quiet_NaN();
  }
  return result;
}

std::string to_string(SigmaMode mode) { return mode == SigmaMode::absolute ? "absolute" : "relative"; }

SigmaMode parse_sigma_mode(const std::string& name) {
  if (name == "absolute") return SigmaMode::absolute;
  if (name == "relative") return SigmaMode::relative;
  throw std::runtime_error(fmt::format("unknown sigma mode '{}'; valid: absolute, relative", name));
}

DensityGrid make_grid(double range_min, double range_max, const Smoothing& smoothing, const GridSettings& settings) {
  if (!(smoothing.value > 0.0) || !std::isfinite(smoothing.value)) {
    throw std::runtime_error(
        fmt::format("density smoothing σ must be a finite value > 0, got {}; pass a positive sigma", smoothing.value));
  }
  if (!std::isfinite(range_min) || !std::isfinite(range_max) || range_max < range_min) {
    throw std::runtime_error(
        fmt::format("spectral range [{}, {}] is not a finite interval; check the Lanczos nodes", range_min, range_max));
  }
  if (settings.min_points < 4000) {
    throw std::runtime_error(
        fmt::format("density grid needs at least 4000 points, got {}; raise the grid size", settings.min_points));
  }
  if (!(settings.padding_sigmas >= 3.0)) {
    throw std::runtime_error(
        fmt::format("density grid padding must be at least 3σ, got {}σ; raise the padding", settings.padding_sigmas));
  }
  const double range = range_max - range_min;
  double sigma = smoothing.value;
  if (smoothing.mode == SigmaMode::relative) {
    if (range == 0.0) {
      throw std::runtime_error(fmt::format(
          "relative σ needs a non-zero spectral range, but every node equals {}; give σ as absolute", range_min));
    }
    sigma *= range;
  }
  const double lo = range_min - settings.padding_sigmas * sigma;
  const double hi = range_max + settings.padding_sigmas * sigma;
  const double needed = std::ceil((hi - lo) / (0.5 * sigma)) + 1.0;
  if (needed > double(settings.max_points)) {
    throw std::runtime_error(
        fmt::format("σ = {} is too small for the spectral range [{}, {}]: the grid would need {} points (limit {}); "
                    "raise σ or the grid limit",
                    sigma, range_min, range_max, needed, settings.max_points));
  }
  const Eigen::Index points = std::max<Eigen::Index>(settings.min_points, Eigen::Index(needed));

  DensityGrid grid;
  grid.points = Eigen::VectorXd::LinSpaced(points, lo, hi);
  grid.spacing = (hi - lo) / double(points - 1);
  grid.sigma = sigma;
  grid.smoothing = smoothing;
  grid.range_min = range_min;
  grid.range_max = range_max;
  return grid;
}

SpectralRange node_range(const SlqResult& result) {
  SpectralRange range{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
  for (int l = 0; l < result.probes(); ++l) {
    const auto used = result.nodes.row(l).head(result.steps[l]);
    range.min = std::min(range.min, used.minCoeff());
    range.max = std::max(range.max, used.maxCoeff());
  }
  return range;
}

DensityGrid common_grid(const std::vector<SlqResult>& blocks, const Smoothing& smoothing,
                        const GridSettings& settings) {
  if (blocks.empty()) throw std::runtime_error("common_grid got no blocks; pass at least one SLQ result");
  SpectralRange all = node_range(blocks.front());
  for (const SlqResult& block : blocks) {
    const SpectralRange r = node_range(block);
    all.min = std::min(all.min, r.min);
    all.max = std::max(all.max, r.max);
  }
  return make_grid(all.min, all.max, smoothing, settings);
}

Eigen::VectorXd normalize_density(const Eigen::VectorXd& values, double spacing) {
  const Eigen::Index g = values.size();
  const double integral = spacing * (values.sum() - 0.5 * (values[0] + values[g - 1]));
  if (!(integral > 0.0)) {
    throw std::runtime_error("density integrates to zero on its grid; build the grid from these nodes");
  }
  return values / integral;
}

Eigen::VectorXd gaussian_density(const Eigen::VectorXd& nodes, const Eigen::VectorXd& weights,
                                 const DensityGrid& grid) {
  if (nodes.size() != weights.size()) {
    throw std::runtime_error(fmt::format("gaussian_density got {} nodes but {} weights; pass one weight per node",
                                         nodes.size(), weights.size()));
  }
  Eigen::VectorXd values = Eigen::VectorXd::Zero(grid.points.size());
  add_gaussians(nodes.data(), weights.data(), nodes.size(), grid, values.data());
  return normalize_density(values, grid.spacing);
}

Eigen::MatrixXd probe_densities(const SlqResult& result, const DensityGrid& grid) {
  // Row-major so each probe's density is contiguous for add_gaussians.
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> values =
      Eigen::MatrixXd::Zero(result.probes(), grid.points.size());
  for (int l = 0; l < result.probes(); ++l) {
    const Eigen::VectorXd nodes = result.nodes.row(l).transpose();
    const Eigen::VectorXd weights = result.weights.row(l).transpose();
    add_gaussians(nodes.data(), weights.data(), result.steps[l], grid, values.row(l).data());
  }
  return values;
}

Eigen::VectorXd slq_density(const SlqResult& result, const DensityGrid& grid) {
  return normalize_density(probe_densities(result, grid).colwise().mean().transpose(), grid.spacing);
}

Eigen::MatrixXd slq_densities(const std::vector<SlqResult>& blocks, const DensityGrid& grid) {
  Eigen::MatrixXd densities(Eigen::Index(blocks.size()), grid.points.size());
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    densities.row(Eigen::Index(b)) = slq_density(blocks[b], grid).transpose();
  }
  return densities;
}

}  // namespace blockscope::hessian
