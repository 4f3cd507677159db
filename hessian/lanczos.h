// Lanczos tridiagonalisation with Gauss quadrature nodes and weights, one
// probe — the inner loop of SLQ (docs/algorithms.md §2, steps 1–5; the
// recurrence of PyHessian / hessian-spectrum, float64 throughout).
//
//   v_1 = z/√n, z = rademacher(n, derive_seed(seed, probe))   (hessian/random.h)
//   m_b = min(steps, n)
//   w = A v_j − β_{j−1} v_{j−1};  α_j = v_jᵀw;  w −= α_j v_j
//   [reorthogonalize: w −= V(Vᵀw), classical Gram–Schmidt, twice]
//   β_j = ‖w‖; stop (breakdown) if β_j ≤ 1e-10 · max_i |α_i|
//   T = tridiag(β, α, β): θ_k = eigenvalues (ascending), τ_k = (e_1ᵀ u_k)²
//
// One operator application per step. Without re-orthogonalisation converged
// eigenvalues reappear as ghost copies (their weights split between copies),
// which barely changes densities but corrupts eigenvalue counts: keep it on
// whenever eigenvalues, top-k or outlier counts are reported. Memory with
// re-orthogonalisation: n × m_b float64 for the Lanczos basis.
#pragma once

#include <Eigen/Core>

#include <cstdint>

#include "hessian/operator.h"

namespace blockscope::hessian {

// Relative breakdown threshold on β_j (docs/algorithms.md §2 step 4).
inline constexpr double kLanczosBreakdownTolerance = 1e-10;

struct LanczosOptions {
  int steps = 100;              // m ≥ 2; m_b = min(m, n) steps are attempted
  bool reorthogonalize = true;  // full re-orthogonalisation (CGS2)
  std::uint64_t seed = 0;       // stream seed of the block
  std::uint64_t probe = 0;      // probe index l: start vector uses derive_seed(seed, l)
};

struct LanczosResult {
  Eigen::VectorXd alpha;            // [steps] diagonal of T
  Eigen::VectorXd beta;             // [steps − 1] off-diagonal of T
  int steps = 0;                    // steps done = size of T (≤ m_b)
  bool breakdown = false;           // stopped before m_b on the β threshold
  Eigen::VectorXd nodes;            // [steps] θ_k, ascending
  Eigen::VectorXd weights;          // [steps] τ_k ≥ 0, Σ τ_k = 1 (to rounding)
  std::int64_t num_operations = 0;  // operator applications by this call (= steps)
};

// Throws std::runtime_error if steps < 2 or the operator is empty.
LanczosResult lanczos(const SymmetricOperator& op, const LanczosOptions& options);

// Eigendecomposition of the symmetric tridiagonal T = tridiag(beta, alpha,
// beta): fills result.nodes and result.weights from result.alpha/beta.
void gauss_quadrature(LanczosResult& result);

}  // namespace blockscope::hessian
