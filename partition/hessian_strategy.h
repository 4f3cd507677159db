// Hessian-driven partition ("hessian"): merge fine candidate blocks whose
// curvature agrees, so a shared v is kept only where the elements it stands
// for look alike. Torch-free: the caller passes one statistic per element
// (analysis/element_statistics.h computes them from a model):
//   curvature         Hutchinson's diagonal estimate diag(H) ≈ mean_p z_p ⊙ H z_p
//                     (Rademacher z_p; Bekas, Kokiopoulou & Saad 2007)
//   squared-gradient  E[g²] over minibatches (what Adam's v tracks)
//
// Algorithm.
// 1. Candidates: every row of a tensor with ndim ≥ 2 (numel / shape[0]
//    contiguous elements: an output neuron, a token, a filter); a 0-D or
//    1-D tensor (norms, biases) is one candidate.
// 2. A segment (run of neighbouring candidates inside one tensor) has the
//    level m = max(|Σ s_i| / n, floor), floor = 1e-12 · mean |s| over the
//    model (so all-zero rows — tokens never seen — get a finite log level).
//    |Σ s_i|/n is the Hutchinson trace of the segment's diagonal block per
//    element: far less noisy than per-element estimates.
// 3. Neighbouring segments A, B of one tensor AGREE when
//    |log m_A − log m_B| ≤ merge_threshold. Agreeing pairs are merged
//    greedily, cheapest first by Ward's cost on log levels,
//    n_A n_B / (n_A + n_B) · (log m_A − log m_B)² (the increase of the
//    within-segment sum of squares of log levels), recomputing a merged
//    segment's neighbours, until target_blocks segments remain (0: no
//    target) or no agreeing pair is left. Without a threshold, every
//    neighbouring pair agrees: with a target, the default, the budget alone
//    decides; without a target, the default threshold is ln 2 (levels within
//    a factor 2).
// Blocks never cross tensors (at least one block per non-empty tensor), are
// contiguous ranges, and get consecutive ids in model order. Ties in cost
// go to the earlier pair in model order. Cost O(C log C) for C candidates.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "partition/partition.h"

namespace blockscope::partition {

inline constexpr double kDefaultMergeThreshold = 0.6931471805599453;  // ln 2

struct HessianStrategyOptions {
  std::int64_t target_blocks = 0;  // stop at this many blocks; 0 = merge every agreeing pair
  // |ln m_A − ln m_B| for agreement; unset: none with a target, ln 2 without one.
  std::optional<double> merge_threshold;
  nlohmann::json settings = nlohmann::json::object();  // recorded with the partition (statistic, probes, ...)
};

// statistics[i] has one value per element of model[i] (row-major). Throws a
// one-line message naming the tensor on a size mismatch or a non-finite
// value, or for a negative target or threshold.
Partition hessian_partition(const std::vector<TensorInfo>& model, const std::vector<std::vector<double>>& statistics,
                            const HessianStrategyOptions& options);

}  // namespace blockscope::partition
