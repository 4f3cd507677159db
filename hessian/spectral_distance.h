// Distances between spectral densities on one common uniform grid
// (docs/algorithms.md §3).
//
// Jensen–Shannon distance (bounded form, log base 2, in [0, 1]):
//   p_i = φ(t_i)Δt / Σ_j φ(t_j)Δt, q likewise, m = (p + q)/2
//   JS(p, q) = sqrt(½ KL(p‖m) + ½ KL(q‖m)); terms with p_i < 1e-300 are 0.
// JS depends strongly on σ and the grid: record both (DensityGrid) with every
// JS figure. The Adam-mini papers' JS⁰ is an unbounded, unpublished variant:
// compare orderings with them, not magnitudes.
//
// Bootstrap standard error over probes: each replicate resamples the n_v
// probes of every block with replacement (indices from mt19937_64 seeded with
// derive_seed(derive_seed(seed, replicate), block), index = draw mod n_v), rebuilds
// the densities from the per-probe densities and recomputes the JS matrix;
// stderr = standard deviation over replicates (n − 1 denominator).
//
// Wasserstein-1 between two densities on a grid = ∫ |F_p − F_q| dt with the
// CDFs from the cumulative trapezoid rule; used to validate SLQ.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <vector>

#include "hessian/slq.h"

namespace blockscope::hessian {

// p, q: densities [G] on the same uniform grid (any positive scale).
double js_distance(const Eigen::VectorXd& p, const Eigen::VectorXd& q);
// densities [B, G] → symmetric [B, B] JS matrix with a zero diagonal.
Eigen::MatrixXd js_matrix(const Eigen::MatrixXd& densities);
// Mean of the off-diagonal entries of a [B, B] matrix, B ≥ 2 (JS⁰ style).
double mean_pairwise(const Eigen::MatrixXd& matrix);
// [B, B] bootstrap standard error of js_matrix(slq_densities(blocks, grid)).
// Throws std::runtime_error if replicates < 2.
Eigen::MatrixXd js_bootstrap_stderr(const std::vector<SlqResult>& blocks, const DensityGrid& grid, int replicates,
                                    std::uint64_t seed);

// grid: [G] ascending; p, q: densities [G] (normalised here by the trapezoid rule).
double wasserstein1(const Eigen::VectorXd& grid, const Eigen::VectorXd& p, const Eigen::VectorXd& q);

}  // namespace blockscope::hessian
