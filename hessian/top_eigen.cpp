#include "hessian/top_eigen.h"

#include <Spectra/SymEigsSolver.h>
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "hessian/dense.h"
#include "hessian/lanczos.h"

namespace blockscope::hessian {
namespace {

EigenStatus from_spectra(Spectra::CompInfo info) {
  switch (info) {
    case Spectra::CompInfo::Successful:
      return EigenStatus::converged;
    case Spectra::CompInfo::NotConverging:
      return EigenStatus::not_converging;
    default:
      return EigenStatus::numerical_issue;
  }
}

// Spectra's OpType for a const operator: Spectra keeps a std::vector<OpType>
// member, which cannot hold a const or abstract type. Applications still go
// through SymmetricOperator::perform_op and are counted there.
class SpectraView {
 public:
  using Scalar = double;
  explicit SpectraView(const SymmetricOperator& op) : op_(&op) {}
  Eigen::Index rows() const { return op_->rows(); }
  Eigen::Index cols() const { return op_->rows(); }
  void perform_op(const double* x, double* y) const { op_->perform_op(x, y); }

 private:
  const SymmetricOperator* op_;
};

// One Spectra solve: nev eigenvalues by `rule`, in the same order (LargestAlge:
// descending; SmallestAlge: ascending). Entries Spectra did not converge are NaN.
Eigen::VectorXd spectra_solve(const SymmetricOperator& op, Eigen::Index nev, Spectra::SortRule rule,
                              const TopEigenOptions& options, TopEigenResult& result, EigenStatus& status) {
  SpectraView view(op);
  const Eigen::Index ncv = std::min<Eigen::Index>(op.rows(), std::max<Eigen::Index>(2 * nev + 1, 20));
  Spectra::SymEigsSolver<SpectraView> solver(view, nev, ncv);
  solver.init();
  solver.compute(rule, options.max_iterations, options.tolerance, rule);
  status = from_spectra(solver.info());
  result.iterations += int(solver.num_iterations());
  result.num_operations += solver.num_operations();
  Eigen::VectorXd values = Eigen::VectorXd::Constant(nev, std::numeric_limits<double>::quiet_NaN());
  if (status == EigenStatus::converged) values = solver.eigenvalues();
  return values;
}

}  // namespace

std::string to_string(EigenStatus status) {
  switch (status) {
    case EigenStatus::converged:
      return "converged";
    case EigenStatus::not_converging:
      return "not_converging";
    case EigenStatus::numerical_issue:
      return "numerical_issue";
    case EigenStatus::exact:
      return "exact";
    case EigenStatus::invariant_subspace:
      return "invariant_subspace";
  }
  return "unknown";
}

bool TopEigenResult::converged() const {
  auto ok = [](EigenStatus s) {
    return s == EigenStatus::converged || s == EigenStatus::exact || s == EigenStatus::invariant_subspace;
  };
  return ok(largest_status) && ok(smallest_status);
}

std::int64_t expected_top_operations(Eigen::Index n, const TopEigenOptions& options) {
  if (n <= std::max<Eigen::Index>(options.dense_below, 2 * options.k + 1)) return n;
  const auto ncv = [&](Eigen::Index nev) { return std::min<Eigen::Index>(n, std::max<Eigen::Index>(2 * nev + 1, 20)); };
  return ncv(options.k) + ncv(1);
}

TopEigenResult top_eigenvalues(const SymmetricOperator& op, const TopEigenOptions& options) {
  if (options.k < 1) {
    throw std::runtime_error(fmt::format("top-k needs k ≥ 1, got {}; ask for at least one eigenvalue", options.k));
  }
  const Eigen::Index n = op.rows();
  TopEigenResult result;
  if (n <= std::max<Eigen::Index>(options.dense_below, 2 * Eigen::Index(options.k) + 1)) {
    const DenseMatrix dense = dense_matrix(op);
    const Eigen::VectorXd ascending = symmetric_eigenvalues(dense.matrix);
    const Eigen::Index count = std::min<Eigen::Index>(options.k, n);
    result.largest = ascending.tail(count).reverse();
    result.smallest = ascending[0];
    result.dense_path = true;
    result.num_operations = dense.num_operations;
    return result;
  }
  result.largest = spectra_solve(op, options.k, Spectra::SortRule::LargestAlge, options, result, result.largest_status);
  // λ_min of A as λ_max + λ_min(A − λ_max I): Spectra's convergence test is
  // relative to |θ|, which fails for a λ_min inside a cluster at ~0 (a PSD
  // block with a large null space); after the shift |θ| ≈ the spectral range.
  const double shift = result.largest_status == EigenStatus::converged ? result.largest[0] : 0.0;
  const ShiftedOperator shifted(op, shift);
  result.smallest =
      shift + spectra_solve(shifted, 1, Spectra::SortRule::SmallestAlge, options, result, result.smallest_status)[0];
  if (!result.converged()) {
    const LanczosResult krylov = lanczos(op, {int(std::min<Eigen::Index>(n, 300)), true, 0, 0});
    result.num_operations += krylov.num_operations;
    if (krylov.breakdown) {
      const Eigen::Index count = std::min<Eigen::Index>(options.k, krylov.steps);
      result.largest = Eigen::VectorXd::Constant(options.k, std::numeric_limits<double>::quiet_NaN());
      result.largest.head(count) = krylov.nodes.tail(count).reverse();
      result.smallest = krylov.nodes[0];
      result.largest_status = result.smallest_status = EigenStatus::invariant_subspace;
    }
  }
  return result;
}

}  // namespace blockscope::hessian
