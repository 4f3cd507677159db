// Seeded, platform-independent random probes.
//
// Determinism contract: the same (seed, index) gives bit-identical vectors on
// every platform and compiler. Only std::mt19937_64 (fully specified by the
// standard) is used, never std::*_distribution (implementation-defined).
//   derive_seed(seed, i) = splitmix64(seed XOR splitmix64(i))
//   (splitmix64: Steele, Lea & Flood 2014, the seeding mixer of xoshiro).
// Callers derive one stream per (block, probe):
//   Lanczos probe l of a block:  derive_seed(block_seed, l)
//   coupling probe l of block b: derive_seed(derive_seed(seed, b), l)
#pragma once

#include <Eigen/Core>

#include <cstdint>

namespace blockscope::hessian {

std::uint64_t splitmix64(std::uint64_t x);
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index);

// Rademacher vector [n] of ±1.0 (float64) from mt19937_64(stream_seed): entry
// i is bit (i mod 64) of the (i div 64)-th draw, 1 → +1, 0 → −1.
Eigen::VectorXd rademacher(Eigen::Index n, std::uint64_t stream_seed);

}  // namespace blockscope::hessian
