#include "hessian/random.h"

#include <random>

namespace blockscope::hessian {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index) { return splitmix64(seed ^ splitmix64(index)); }

Eigen::VectorXd rademacher(Eigen::Index n, std::uint64_t stream_seed) {
  std::mt19937_64 generator(stream_seed);
  Eigen::VectorXd z(n);
  std::uint64_t bits = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    if (i % 64 == 0) bits = generator();
    z[i] = ((bits >> (i % 64)) & 1U) ? 1.0 : -1.0;
  }
  return z;
}

}  // namespace blockscope::hessian
