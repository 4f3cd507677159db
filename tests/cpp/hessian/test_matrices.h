// Matrices with known spectra for the hessian tests. Gaussians come from
// mt19937_64 through Box–Muller (no std::*_distribution), so every platform
// builds the same matrices and the same tolerances apply.
#pragma once

#include <Eigen/Core>
#include <Eigen/QR>

#include <cmath>
#include <cstdint>
#include <random>

namespace blockscope::hessian::testing {

inline Eigen::MatrixXd gaussian_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  auto uniform = [&] { return (double(generator() >> 11) + 0.5) * 0x1.0p-53; };  // (0, 1)
  Eigen::MatrixXd g(rows, cols);
  for (Eigen::Index i = 0; i < g.size(); i += 2) {
    const double radius = std::sqrt(-2.0 * std::log(uniform()));
    const double angle = 2.0 * 3.14159265358979323846 * uniform();
    g.data()[i] = radius * std::cos(angle);
    if (i + 1 < g.size()) g.data()[i + 1] = radius * std::sin(angle);
  }
  return g;
}

// Haar-distributed orthogonal [n, n].
inline Eigen::MatrixXd random_orthogonal(Eigen::Index n, std::uint64_t seed) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(gaussian_matrix(n, n, seed));
  return qr.householderQ() * Eigen::MatrixXd::Identity(n, n);
}

// Q diag(eigenvalues) Qᵀ, exactly symmetrised.
inline Eigen::MatrixXd with_spectrum(const Eigen::VectorXd& eigenvalues, std::uint64_t seed) {
  const Eigen::MatrixXd q = random_orthogonal(eigenvalues.size(), seed);
  const Eigen::MatrixXd a = q * eigenvalues.asDiagonal() * q.transpose();
  return 0.5 * (a + a.transpose());
}

// Wigner matrix (G + Gᵀ)/sqrt(2n): semicircle spectrum on about [−2, 2].
inline Eigen::MatrixXd wigner(Eigen::Index n, std::uint64_t seed) {
  const Eigen::MatrixXd g = gaussian_matrix(n, n, seed);
  return (g + g.transpose()) / std::sqrt(2.0 * double(n));
}

// Hessian-like spectrum [n]: a bulk spread uniformly on [−1, 1] plus outliers
// 4, 8, 15, 30 (well separated at the top, as in trained networks).
inline Eigen::VectorXd bulk_with_outliers(Eigen::Index n) {
  Eigen::VectorXd values(n);
  values.head(n - 4) = Eigen::VectorXd::LinSpaced(n - 4, -1.0, 1.0);
  values.tail(4) << 4.0, 8.0, 15.0, 30.0;
  return values;
}

}  // namespace blockscope::hessian::testing
