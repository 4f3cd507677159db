// Σ g² over one piece of a gradient in float64, in one fixed order shared by
// the CPU and CUDA kernels (the shared-v pass): element b + j goes to partial
// sum j mod kSquareSumLanes, and the partials are combined pairwise,
// ((0+1)+(2+3))+((4+5)+(6+7)). Interleaved partials let the CPU add
// kSquareSumLanes products at a time (vector registers) instead of waiting
// on one chain of dependent additions; the order does not depend on the
// vector width or the thread count. The products are exact in float64.
#pragma once

#include <cstdint>

#include "optimizers/math/host_device.h"

namespace blockscope::optimizers::math {

constexpr int kSquareSumLanes = 8;

BLOCKSCOPE_HD inline double square_sum_piece(const float* g, std::int64_t begin, std::int64_t end) {
  double lane[kSquareSumLanes] = {};
  std::int64_t i = begin;
  for (; i + kSquareSumLanes <= end; i += kSquareSumLanes) {
    for (int l = 0; l < kSquareSumLanes; ++l) {
      const double x = g[i + l];
      lane[l] += x * x;
    }
  }
  for (int l = 0; i < end; ++i, ++l) {
    const double x = g[i];
    lane[l] += x * x;
  }
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

}  // namespace blockscope::optimizers::math
