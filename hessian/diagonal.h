// Hutchinson's estimate of the diagonal of a symmetric operator (Bekas,
// Kokiopoulou & Saad 2007): d = (1/P) Σ_p z_p ⊙ A z_p with Rademacher z_p =
// rademacher(n, derive_seed(seed, p)), P applications of A. Unbiased:
// E[z_i (Az)_i] = A_ii, with variance Σ_{j≠i} A_ij² per probe — exact for a
// diagonal A with one probe.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <functional>

#include "hessian/operator.h"

namespace blockscope::hessian {

// progress(done, probes) after each application. Throws std::runtime_error
// for probes < 1.
Eigen::VectorXd hutchinson_diagonal(const SymmetricOperator& op, int probes, std::uint64_t seed,
                                    const std::function<void(int, int)>& progress = {});

}  // namespace blockscope::hessian
