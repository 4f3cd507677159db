// Per-block spectra of a set of block operators — the computation behind
// `blockscope spectrum` (docs/algorithms.md §2–3):
//   per block b (seed_b = derive_seed(seed, b), independent of threads):
//     SLQ nodes/weights over n_v probes, Hutchinson trace ± stderr,
//     top-k eigenvalues (+ the most negative) with status and counts;
//   then one common density grid, densities [B, G], the bounded JS matrix
//   with its bootstrap standard error over probes, and the mean pairwise JS.
// Blocks run concurrently on `threads` workers, largest first; each block's
// numbers depend only on its operator and seed_b, so results are identical
// for any thread count (given deterministic operators).
#pragma once

#include <Eigen/Core>

#include <functional>
#include <string>
#include <vector>

#include "hessian/operator.h"
#include "hessian/slq.h"
#include "hessian/top_eigen.h"

namespace blockscope::hessian {

struct BlockSpectraOptions {
  SlqOptions slq;       // steps m, probes n_v, reorthogonalize, base seed
  Smoothing smoothing;  // σ and its mode
  GridSettings grid;
  bool top_eigenvalues = true;     // Spectra top-k per block
  TopEigenOptions top;             // k, tolerance
  int bootstrap_replicates = 100;  // JS standard error; needs n_v ≥ 2 to be non-zero
  int threads = 1;                 // concurrent blocks
};

struct BlockSpectra {
  std::vector<std::string> names;   // [B]
  std::vector<Eigen::Index> sizes;  // [B]
  std::vector<SlqResult> slq;       // [B]
  std::vector<TopEigenResult> top;  // [B] (empty when not requested)
  DensityGrid grid;
  Eigen::MatrixXd densities;        // [B, G]
  Eigen::MatrixXd js;               // [B, B]
  Eigen::MatrixXd js_stderr;        // [B, B]
  double mean_js = 0.0;             // mean off-diagonal JS (0 for B = 1)
  std::int64_t num_operations = 0;  // all operator applications
};

// Operator applications planned for blocks of these sizes: SLQ exactly
// (Σ n_v·min(m, n_b)), top-k as estimated by expected_top_operations.
struct SpectraPlan {
  std::int64_t slq = 0;
  std::int64_t top = 0;
  std::int64_t total() const { return slq + top; }
};
SpectraPlan plan_block_spectra(const std::vector<Eigen::Index>& sizes, const BlockSpectraOptions& options);

// Called from worker threads, serialised: (applications done, applications
// expected). The expectation is the plan; when a block's top-k solve ends,
// its estimate is replaced by the count it took, so the total moves only by
// that difference. A probe that breaks down early counts its planned steps.
using OperationProgress = std::function<void(std::int64_t done, std::int64_t expected)>;

// Throws a one-line std::runtime_error naming the bad setting (m < 2,
// n_v < 1, σ ≤ 0, k < 1); front ends call it before any expensive set-up.
void validate(const BlockSpectraOptions& options);

// blocks[b] must outlive the call and be safe to apply from several threads
// at once. Throws std::runtime_error on invalid options (from SLQ/grid) or
// when a worker fails (the first error is rethrown after all workers stop).
BlockSpectra compute_block_spectra(const std::vector<const SymmetricOperator*>& blocks,
                                   const std::vector<std::string>& names, const BlockSpectraOptions& options,
                                   const OperationProgress& progress = {});

}  // namespace blockscope::hessian
