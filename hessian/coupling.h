// Block coupling ("Hessian alignment", docs/algorithms.md §4): Frobenius
// norms of the Hessian blocks H_ab of a full operator, estimated matrix-free.
//
//   probe l of block b: x = Rademacher on b's indices, 0 elsewhere
//                        (z = rademacher(n_b, derive_seed(derive_seed(seed, b), l)),
//                         laid out over b's ranges in order), y = H x
//   E ‖y_a‖² = ‖H_ab‖²_F, so one application per probe of b gives column b
//   for every row block a at once:  S_ab = mean_l ‖y_a‖²
//   ‖H_ab‖²_F estimate = (S_ab + S_ba)/2 (H symmetric: two independent
//   estimates of one value), ‖H_aa‖²_F = S_aa
//   r_ab = ‖H_ab‖_F / sqrt(‖H_aa‖_F ‖H_bb‖_F)
//
// Cost: B · probes operator applications. At least 30 probes per block.
// Blocks: disjoint global index ranges; they need not cover the operator.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <vector>

#include "hessian/operator.h"
#include "hessian/progress.h"

namespace blockscope::hessian {

inline constexpr int kMinCouplingProbes = 30;

struct CouplingOptions {
  int probes = 30;  // per block, ≥ 30
  std::uint64_t seed = 0;
};

struct CouplingResult {
  Eigen::MatrixXd frobenius;       // [B, B] ‖H_ab‖_F estimate, symmetric
  Eigen::MatrixXd squared;         // [B, B] ‖H_ab‖²_F estimate, symmetric
  Eigen::MatrixXd squared_stderr;  // [B, B] standard error of `squared` over probes
  Eigen::MatrixXd ratio;           // [B, B] r_ab; 1 on the diagonal; NaN where ‖H_aa‖_F ‖H_bb‖_F = 0
  int probes = 0;
  std::int64_t num_operations = 0;  // B · probes
};

// Progress reports (applications done, B · probes). Throws
// std::runtime_error if probes < 30 or the blocks are empty, out of range or
// overlapping.
CouplingResult block_coupling(const SymmetricOperator& op, const std::vector<BlockRanges>& blocks,
                              const CouplingOptions& options = {}, const ProgressCallback& progress = {});

}  // namespace blockscope::hessian
