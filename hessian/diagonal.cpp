#include "hessian/diagonal.h"

#include <fmt/format.h>

#include <stdexcept>

#include "hessian/random.h"

namespace blockscope::hessian {

Eigen::VectorXd hutchinson_diagonal(const SymmetricOperator& op, int probes, std::uint64_t seed,
                                    const std::function<void(int, int)>& progress) {
  if (probes < 1) throw std::runtime_error(fmt::format("Hutchinson's diagonal needs ≥ 1 probe, got {}", probes));
  const Eigen::Index n = op.rows();
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(n), y(n);
  for (int p = 0; p < probes; ++p) {
    const Eigen::VectorXd z = rademacher(n, derive_seed(seed, static_cast<std::uint64_t>(p)));
    op.perform_op(z.data(), y.data());
    sum += z.cwiseProduct(y);
    if (progress) progress(p + 1, probes);
  }
  return sum / static_cast<double>(probes);
}

}  // namespace blockscope::hessian
