#include "hessian/operator.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace blockscope::hessian {

DenseOperator::DenseOperator(Eigen::MatrixXd matrix) : matrix_(std::move(matrix)) {
  if (matrix_.rows() != matrix_.cols() || matrix_.rows() == 0) {
    throw std::runtime_error(
        fmt::format("DenseOperator needs a non-empty square matrix, got {}x{}; pass the [n, n] matrix", matrix_.rows(),
                    matrix_.cols()));
  }
}

void DenseOperator::apply(const double* x, double* y) const {
  Eigen::Map<Eigen::VectorXd>(y, rows()).noalias() = matrix_ * Eigen::Map<const Eigen::VectorXd>(x, rows());
}

ShiftedOperator::ShiftedOperator(const SymmetricOperator& base, double shift) : base_(base), shift_(shift) {}

void ShiftedOperator::apply(const double* x, double* y) const {
  base_.perform_op(x, y);
  Eigen::Map<Eigen::VectorXd>(y, rows()) -= shift_ * Eigen::Map<const Eigen::VectorXd>(x, rows());
}

RestrictedOperator::RestrictedOperator(const SymmetricOperator& full, BlockRanges ranges)
    : full_(full), ranges_(std::move(ranges)), size_(validate_ranges(ranges_, full.rows())) {}

void RestrictedOperator::apply(const double* x, double* y) const {
  Eigen::VectorXd x_full = Eigen::VectorXd::Zero(full_.rows());
  Eigen::VectorXd y_full(full_.rows());
  Eigen::Index offset = 0;
  for (const IndexRange& r : ranges_) {
    x_full.segment(r.begin, r.size()) = Eigen::Map<const Eigen::VectorXd>(x + offset, r.size());
    offset += r.size();
  }
  full_.perform_op(x_full.data(), y_full.data());
  offset = 0;
  for (const IndexRange& r : ranges_) {
    Eigen::Map<Eigen::VectorXd>(y + offset, r.size()) = y_full.segment(r.begin, r.size());
    offset += r.size();
  }
}

Eigen::Index validate_ranges(const BlockRanges& ranges, Eigen::Index n) {
  if (ranges.empty()) {
    throw std::runtime_error("a block has no index ranges; give each block at least one [begin, end)");
  }
  for (const IndexRange& r : ranges) {
    if (r.begin < 0 || r.end > n || r.begin >= r.end) {
      throw std::runtime_error(
          fmt::format("index range [{}, {}) is empty or outside [0, {}); fix the block definition", r.begin, r.end, n));
    }
  }
  BlockRanges sorted = ranges;
  std::sort(sorted.begin(), sorted.end(), [](const IndexRange& a, const IndexRange& b) { return a.begin < b.begin; });
  Eigen::Index total = sorted.front().size();
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw std::runtime_error(fmt::format("index ranges [{}, {}) and [{}, {}) overlap; blocks must be disjoint",
                                           sorted[i - 1].begin, sorted[i - 1].end, sorted[i].begin, sorted[i].end));
    }
    total += sorted[i].size();
  }
  return total;
}

}  // namespace blockscope::hessian
