// Extreme eigenvalues of a symmetric operator: the k largest (algebraic,
// descending) and the smallest (the most negative one when any is negative).
//
// Large operators: Spectra 1.0.1 SymEigsSolver (implicitly restarted Lanczos)
// on the operator by reference — LargestAlge with nev = k, then SmallestAlge
// with nev = 1 on A − λ_max I (shifted back; see top_eigen.cpp); ncv = min(n, max(2k + 1, 20)); Spectra's own random
// start (fixed seed, deterministic). Top 5 took ≈ 21 applications at tol 1e-8 in the reference measurement
// (docs/algorithms.md §2). Spectra stalls when the spectrum has fewer distinct values than its Krylov space needs (a
// large null space: unused embedding rows, a low-rank last layer); then Lanczos with full re-orthogonalisation from a
// Rademacher start runs until it breaks down on an invariant subspace, whose Ritz values are exact eigenvalues (status
// invariant_subspace); if it does not break down within min(n, 300) steps, Spectra's status and NaN stand. Small
// operators, n ≤ max(dense_below, 2k + 1): exact, via dense_matrix (n applications) and Eigen's dense solver. Spectra
// needs nev < ncv ≤ n, and below 64 the two Spectra solves cost about as many applications as the dense matrix, which
// has no convergence failure.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <string>

#include "hessian/operator.h"

namespace blockscope::hessian {

enum class EigenStatus {
  converged,           // Spectra CompInfo::Successful
  not_converging,      // CompInfo::NotConverging: max_iterations reached
  numerical_issue,     // CompInfo::NumericalIssue
  exact,               // solved by the dense path
  invariant_subspace,  // Spectra stalled; Lanczos broke down on an invariant subspace: exact
};
std::string to_string(EigenStatus status);  // "converged", "not_converging", ...

struct TopEigenOptions {
  int k = 5;                      // eigenvalues wanted, ≥ 1
  int max_iterations = 100;       // Spectra restarts per solve
  double tolerance = 1e-10;       // Spectra relative residual tolerance
  Eigen::Index dense_below = 64;  // exact dense path when n ≤ max(dense_below, 2k + 1)
};

struct TopEigenResult {
  Eigen::VectorXd largest;  // [min(k, n)] descending; NaN unless converged/exact
  double smallest = 0.0;    // λ_min; NaN unless converged/exact
  EigenStatus largest_status = EigenStatus::exact;
  EigenStatus smallest_status = EigenStatus::exact;
  bool dense_path = false;          // true: exact dense solve
  int iterations = 0;               // Spectra restarts, both solves (0 on the dense path)
  std::int64_t num_operations = 0;  // operator applications, both solves

  bool converged() const;  // both statuses converged or exact
};

// The operator applications top_eigenvalues is expected to make, for a
// progress total: n on the dense path; 2·ncv for the two Spectra solves
// (the true count is known only once they converge).
std::int64_t expected_top_operations(Eigen::Index n, const TopEigenOptions& options);

// Throws std::runtime_error if k < 1. Unconverged Spectra results are
// returned with their status, never thrown: record the status with them.
TopEigenResult top_eigenvalues(const SymmetricOperator& op, const TopEigenOptions& options = {});

}  // namespace blockscope::hessian
