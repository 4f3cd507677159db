#include "hessian/dense.h"

#include <fmt/format.h>
#include <Eigen/Eigenvalues>

#include <stdexcept>

namespace blockscope::hessian {

DenseMatrix dense_matrix(const SymmetricOperator& op, Eigen::Index max_size,
                         const std::function<void(std::int64_t, std::int64_t)>& progress) {
  const Eigen::Index n = op.rows();
  if (n < 1) throw std::runtime_error("dense_matrix got an empty operator (0 rows); check the block sizes");
  if (n > max_size) {
    throw std::runtime_error(
        fmt::format("operator of size {} is too large for the dense path (limit {}, n² float64); "
                    "use SLQ / top-k for this block or raise the limit",
                    n, max_size));
  }
  DenseMatrix result;
  Eigen::MatrixXd a(n, n);
  Eigen::VectorXd unit = Eigen::VectorXd::Zero(n);
  for (Eigen::Index j = 0; j < n; ++j) {
    unit[j] = 1.0;
    op.perform_op(unit.data(), a.col(j).data());
    unit[j] = 0.0;
    if (progress) progress(j + 1, n);
  }
  result.num_operations = n;
  const double scale = a.cwiseAbs().maxCoeff();
  result.asymmetry = scale > 0.0 ? (a - a.transpose()).cwiseAbs().maxCoeff() / scale : 0.0;
  result.matrix = 0.5 * (a + a.transpose());
  return result;
}

Eigen::VectorXd symmetric_eigenvalues(const Eigen::MatrixXd& matrix) {
  if (matrix.rows() != matrix.cols()) {
    throw std::runtime_error(
        fmt::format("symmetric_eigenvalues needs a square matrix, got {}x{}", matrix.rows(), matrix.cols()));
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(matrix, Eigen::EigenvaluesOnly);
  if (solver.info() != Eigen::Success) {
    throw std::runtime_error("dense symmetric eigensolver did not converge; check the matrix for NaN/Inf");
  }
  return solver.eigenvalues();
}

Eigen::VectorXd dense_eigenvalues(const SymmetricOperator& op, Eigen::Index max_size) {
  return symmetric_eigenvalues(dense_matrix(op, max_size).matrix);
}

}  // namespace blockscope::hessian
