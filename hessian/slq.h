// Stochastic Lanczos quadrature (SLQ): spectral density, nodes/weights and a
// Hutchinson trace of one block operator (docs/algorithms.md §2; the
// estimator of Ghorbani et al. 2019 / PyHessian / hessian-spectrum).
//
//   probe l = 0..n_v−1: lanczos(op, {m, reorth, seed, probe = l})
//   φ(t)  = (1/n_v) Σ_l Σ_k τ_k N(t; θ_k, σ²), normalised on the grid by the
//           trapezoid rule
//   tr(A) ≈ n_b · mean_l Σ_k τ_k θ_k, standard error = sd_l / √n_v
//
// Densities of several blocks share one uniform grid (common_grid) so they can
// be compared (JS, hessian/spectral_distance.h). σ is a recorded setting:
// absolute, or relative to the spectral range of all blocks on the grid.
// Everything float64. Gaussian terms beyond 38σ (< 1e-300 of the peak) are
// not evaluated.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

#include "hessian/operator.h"
#include "hessian/progress.h"

namespace blockscope::hessian {

struct SlqOptions {
  int steps = 100;              // m ≥ 2 (per block m_b = min(m, n_b))
  int probes = 10;              // n_v ≥ 1
  bool reorthogonalize = true;  // see hessian/lanczos.h
  std::uint64_t seed = 0;       // block stream seed; probe l starts from derive_seed(seed, l)
};

struct SlqResult {
  Eigen::Index dimension = 0;       // n_b
  Eigen::MatrixXd nodes;            // [n_v, m_b] θ of probe l, ascending; unused steps 0
  Eigen::MatrixXd weights;          // [n_v, m_b] τ of probe l; unused steps 0
  Eigen::VectorXi steps;            // [n_v] Lanczos steps done per probe
  int breakdowns = 0;               // probes stopped early on the β threshold
  double trace = 0.0;               // Hutchinson estimate of tr(A)
  double trace_stderr = 0.0;        // standard error over probes; NaN when n_v = 1
  std::int64_t num_operations = 0;  // operator applications (Σ steps)

  int probes() const { return int(nodes.rows()); }
};

// Progress reports (probes done, n_v) after each probe. Throws
// std::runtime_error if n_v < 1 or m < 2.
SlqResult slq(const SymmetricOperator& op, const SlqOptions& options, const ProgressCallback& progress = {});

// ---- densities on a common grid ----

enum class SigmaMode {
  absolute,  // σ = value
  relative,  // σ = value · (λ_max − λ_min), the spectral range covered by the grid
};
std::string to_string(SigmaMode mode);  // "absolute" | "relative"
SigmaMode parse_sigma_mode(const std::string& name);

struct Smoothing {
  double value = 0.01;
  SigmaMode mode = SigmaMode::relative;
};

struct GridSettings {
  Eigen::Index min_points = 4000;       // ≥ 4000 (docs/algorithms.md §2)
  double padding_sigmas = 5.0;          // ≥ 3: grid = [λ_min − pad·σ, λ_max + pad·σ]
  Eigen::Index max_points = 4'000'000;  // refuse grids larger than this
};

// Uniform grid; G = max(min_points, points needed for spacing ≤ σ/2), so the
// trapezoid rule integrates every Gaussian to ~1e-15.
struct DensityGrid {
  Eigen::VectorXd points;  // [G] ascending, uniform
  double spacing = 0.0;    // Δt
  double sigma = 0.0;      // absolute σ used for every density on this grid
  Smoothing smoothing;     // σ as requested (value, mode): record both
  double range_min = 0.0;  // spectral range covered, before padding
  double range_max = 0.0;
};

// Throws std::runtime_error if σ ≤ 0, a relative σ meets a zero range, the
// settings break the minima above, or the grid would exceed max_points.
DensityGrid make_grid(double range_min, double range_max, const Smoothing& smoothing,
                      const GridSettings& settings = {});
// One grid covering the nodes of every block (σ relative to their joint range).
DensityGrid common_grid(const std::vector<SlqResult>& blocks, const Smoothing& smoothing,
                        const GridSettings& settings = {});

// Smallest and largest node actually computed (steps used, all probes).
struct SpectralRange {
  double min = 0.0;
  double max = 0.0;
};
SpectralRange node_range(const SlqResult& result);

// Σ_k w_k N(t_i; θ_k, σ²) on the grid, normalised to trapezoid integral 1.
// nodes, weights: [K]. Exact spectra: nodes = eigenvalues, weights = 1/n.
Eigen::VectorXd gaussian_density(const Eigen::VectorXd& nodes, const Eigen::VectorXd& weights, const DensityGrid& grid);
// Per-probe unnormalised densities [n_v, G]: row l = Σ_k τ_lk N(t; θ_lk, σ²).
Eigen::MatrixXd probe_densities(const SlqResult& result, const DensityGrid& grid);
// Scales a density [G] on a uniform grid to trapezoid integral 1.
Eigen::VectorXd normalize_density(const Eigen::VectorXd& values, double spacing);
// φ of one block [G]; of several blocks [B, G] (row b = block b).
Eigen::VectorXd slq_density(const SlqResult& result, const DensityGrid& grid);
Eigen::MatrixXd slq_densities(const std::vector<SlqResult>& blocks, const DensityGrid& grid);

}  // namespace blockscope::hessian
