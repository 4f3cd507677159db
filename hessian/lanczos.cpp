#include "hessian/lanczos.h"

#include <fmt/format.h>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "hessian/random.h"

namespace blockscope::hessian {

LanczosResult lanczos(const SymmetricOperator& op, const LanczosOptions& options) {
  const Eigen::Index n = op.rows();
  if (options.steps < 2) {
    throw std::runtime_error(
        fmt::format("Lanczos needs at least 2 steps, got m = {}; raise the Lanczos step count", options.steps));
  }
  if (n < 1) throw std::runtime_error("Lanczos got an empty operator (0 rows); check the block sizes");

  const Eigen::Index max_steps = std::min<Eigen::Index>(options.steps, n);
  LanczosResult result;
  Eigen::VectorXd alpha(max_steps);
  Eigen::VectorXd beta(std::max<Eigen::Index>(max_steps - 1, 0));

  Eigen::MatrixXd basis;  // [n, m_b], only with re-orthogonalisation
  if (options.reorthogonalize) basis.resize(n, max_steps);
  Eigen::VectorXd v = rademacher(n, derive_seed(options.seed, options.probe)) / std::sqrt(double(n));
  Eigen::VectorXd v_prev = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd w(n);
  double max_abs_alpha = 0.0;

  Eigen::Index steps = 0;
  for (Eigen::Index j = 0; j < max_steps; ++j) {
    if (options.reorthogonalize) basis.col(j) = v;
    op.perform_op(v.data(), w.data());
    ++result.num_operations;
    if (j > 0) w -= beta[j - 1] * v_prev;
    alpha[j] = v.dot(w);
    if (!std::isfinite(alpha[j])) {
      throw std::runtime_error(fmt::format(
          "the operator returned non-finite values at Lanczos step {}; check the model and loss for NaN/Inf", j + 1));
    }
    w -= alpha[j] * v;
    max_abs_alpha = std::max(max_abs_alpha, std::abs(alpha[j]));
    steps = j + 1;
    if (steps == max_steps) break;

    if (options.reorthogonalize) {
      const auto previous = basis.leftCols(j + 1);
      for (int pass = 0; pass < 2; ++pass) w.noalias() -= previous * (previous.transpose() * w);
    }
    const double b = w.norm();
    if (b <= kLanczosBreakdownTolerance * max_abs_alpha) {
      result.breakdown = true;
      break;
    }
    beta[j] = b;
    v_prev.swap(v);
    v = w / b;
  }

  result.steps = int(steps);
  result.alpha = alpha.head(steps);
  result.beta = beta.head(steps - 1);
  gauss_quadrature(result);
  return result;
}

void gauss_quadrature(LanczosResult& result) {
  const Eigen::Index k = result.alpha.size();
  if (k == 1) {
    result.nodes = result.alpha;
    result.weights = Eigen::VectorXd::Ones(1);
    return;
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver;
  solver.computeFromTridiagonal(result.alpha, result.beta, Eigen::ComputeEigenvectors);
  if (solver.info() != Eigen::Success) {
    throw std::runtime_error(fmt::format(
        "tridiagonal eigensolver did not converge on a {}x{} Lanczos matrix; report this with the α/β values", k, k));
  }
  result.nodes = solver.eigenvalues();
  result.weights = solver.eigenvectors().row(0).transpose().array().square();
}

}  // namespace blockscope::hessian
