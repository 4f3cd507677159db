// An operator adapter that reports every application to a progress bar, for
// routines without their own progress hook (dense matrices, top-k).
#pragma once

#include <mutex>

#include "experiments/cli/progress_bar.h"
#include "hessian/operator.h"

namespace blockscope::cli {

class ReportingOperator final : public hessian::SymmetricOperator {
 public:
  ReportingOperator(const hessian::SymmetricOperator& base, ProgressBar& bar, std::int64_t expected)
      : base_(base), bar_(bar), expected_(expected) {}
  Eigen::Index rows() const override { return base_.rows(); }

 protected:
  void apply(const double* x, double* y) const override {
    base_.perform_op(x, y);
    std::lock_guard<std::mutex> lock(mutex_);
    ++done_;
    bar_.update(done_, std::max(done_, expected_));
  }

 private:
  const hessian::SymmetricOperator& base_;
  ProgressBar& bar_;
  std::int64_t expected_;
  mutable std::int64_t done_ = 0;
  mutable std::mutex mutex_;
};

}  // namespace blockscope::cli
