// Dense ground truth of an operator: the matrix built column by column from n
// applications to unit vectors, symmetrised, and its eigenvalues (Eigen's
// SelfAdjointEigenSolver). Memory n² float64: for blocks up to a few
// thousand, and for validating Lanczos/SLQ/top-k/coupling.
//
//   A[:, j] = op(e_j);  asymmetry = max|A − Aᵀ| / max|A|;  matrix = (A + Aᵀ)/2
//
// asymmetry measures how far the operator is from symmetric (an HVP should be
// symmetric to rounding; a large value points at a wrong HVP).
#pragma once

#include <Eigen/Core>

#include <cstdint>

#include <functional>

#include "hessian/operator.h"

namespace blockscope::hessian {

// Largest operator accepted by dense_matrix by default: 16384² float64 = 2 GiB.
inline constexpr Eigen::Index kDefaultMaxDenseSize = 16384;

struct DenseMatrix {
  Eigen::MatrixXd matrix;           // [n, n] symmetrised
  double asymmetry = 0.0;           // max|A − Aᵀ| / max|A| before symmetrising (0 for A = 0)
  std::int64_t num_operations = 0;  // = n
};

// Throws std::runtime_error if n > max_size. progress: (columns done, n)
// after each application.
DenseMatrix dense_matrix(const SymmetricOperator& op, Eigen::Index max_size = kDefaultMaxDenseSize,
                         const std::function<void(std::int64_t done, std::int64_t total)>& progress = {});
// Eigenvalues [n] ascending of a symmetric matrix [n, n] (lower triangle read).
Eigen::VectorXd symmetric_eigenvalues(const Eigen::MatrixXd& matrix);
// Eigenvalues [n] ascending of dense_matrix(op).matrix.
Eigen::VectorXd dense_eigenvalues(const SymmetricOperator& op, Eigen::Index max_size = kDefaultMaxDenseSize);

}  // namespace blockscope::hessian
