// Element-pair check of Gefen's sharing claim on a dense Hessian block
// (docs/algorithms.md §4): with H ≈ E[g gᵀ], a pair whose mixed entry is
// large, c_ij = |H_ij| / max(H_ii, H_jj) ≥ c, should have squared gradients
// within a factor: E[g_i²]/E[g_j²] ∈ [c², 1/c²].
//
// For each threshold c this counts the pairs i < j of the block with
// c_ij ≥ c (pairs with a non-positive diagonal entry are skipped and
// counted) and the fraction of them whose measured ratio lies in the
// interval. rank_correlation is Spearman's ρ between the normalised
// coupling ρ_ij = |H_ij|/sqrt(H_ii H_jj) and −|log(g_i²/g_j²)| over all
// usable pairs (positive when coupled pairs have closer squared gradients).
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <vector>

namespace blockscope::hessian {

struct PairCheckResult {
  std::vector<double> thresholds;         // [C] the c values
  std::vector<std::int64_t> pairs_above;  // [C] pairs with c_ij ≥ c
  std::vector<double> fraction_within;    // [C] of those, share with ratio in [c², 1/c²] (NaN if none)
  std::int64_t pairs = 0;                 // usable pairs (positive diagonals, g² > 0)
  std::int64_t skipped = 0;               // pairs skipped for a non-positive diagonal or zero g²
  double rank_correlation = 0.0;          // Spearman ρ (NaN with < 3 pairs)
};

// hessian_block: [n, n] symmetric; squared_gradients: [n] measured E[g²].
PairCheckResult check_gradient_ratio_pairs(const Eigen::MatrixXd& hessian_block,
                                           const Eigen::VectorXd& squared_gradients,
                                           const std::vector<double>& thresholds);

}  // namespace blockscope::hessian
