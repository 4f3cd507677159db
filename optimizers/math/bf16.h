// fp32 <-> bfloat16 by bit manipulation, identical on host and device.
//
// float_to_bf16 rounds to nearest, ties to even, like c10::BFloat16 and
// __float2bfloat16_rn: finite values past the largest bf16 become +-Inf, fp32
// subnormals round onto bf16 subnormals. Any NaN becomes the quiet NaN 0x7FC0
// (PyTorch's choice; CUDA's intrinsic returns 0x7FFF — both are NaN).
// bf16_to_float is exact. Not here: other rounding modes, stochastic rounding.
#pragma once

#include <cstdint>

#include "optimizers/math/host_device.h"

namespace blockscope::optimizers::math {

// bf16 bit pattern of x, round to nearest even.
BLOCKSCOPE_HD inline std::uint16_t float_to_bf16(float x) {
  const std::uint32_t u = float_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0u;
  const std::uint32_t lsb = (u >> 16) & 1u;  // ties go to the even neighbour
  return static_cast<std::uint16_t>((u + 0x7FFFu + lsb) >> 16);
}

// Exact widening of a bf16 bit pattern.
BLOCKSCOPE_HD inline float bf16_to_float(std::uint16_t b) { return bits_float(static_cast<std::uint32_t>(b) << 16); }

// x rounded to the nearest bf16 value, as fp32.
BLOCKSCOPE_HD inline float round_to_bf16(float x) { return bf16_to_float(float_to_bf16(x)); }

}  // namespace blockscope::optimizers::math
