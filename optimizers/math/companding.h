// FlashOptim 8-bit optimizer states (docs/algorithms.md §7; databricks/flashoptim
// v0.1.3): groups of kStateGroupSize = 32 contiguous elements share one fp16
// scale.
//   m (int8, companded):  s = max(max_g |m|, 1e-12), x = m/s,
//                         q = floor(127 · 2x/(1+|x|) + 0.5)  in [−127, 127]
//                         m̂ = s16 · z/(2 − |z|),  z = q/127
//   v (uint8, on √v):     s = max(max_g √v, 1e-12),
//                         q = floor(255 · √v/s + 0.5)        in [0, 255]
//                         v̂ = (q/255 · s16)²
// The quantisers take the fp32 scale s; the dequantisers take s16, the stored
// fp16 scale (float_to_fp16(s)) widened back to fp32, as the reference does.
// Inputs are finite and |m| ≤ s, √v ≤ s (s is the group's own absmax).
// Not here: the group reduction and the loads/stores (kernel's job); the
// reference's CUDA kernel rounds half to even (__float2int_rn) where the
// algorithm rounds with floor(· + 0.5) — we follow the algorithm.
// Scales beyond fp16 (s ≥ 65520) store as Inf; s < 2^-14 loses precision.
#pragma once

#include <cmath>
#include <cstdint>

#include "optimizers/math/fp16.h"
#include "optimizers/math/host_device.h"

namespace blockscope::optimizers::math {

constexpr int kStateGroupSize = 32;
constexpr float kStateScaleFloor = 1e-12f;

// Group scale from the group's absmax (of |m| or of √v).
BLOCKSCOPE_HD inline float state_group_scale(float absmax) { return fmaxf(absmax, kStateScaleFloor); }

// int8 code of m for a group of scale s (fp32).
BLOCKSCOPE_HD inline std::int8_t compand_m(float m, float s) {
  const float x = m / s;
  const float y = 2.0f * x / (1.0f + fabsf(x));
  return static_cast<std::int8_t>(floor_to_int(mul_rn(127.0f, y) + 0.5f));
}

// m̂ from its int8 code and the widened fp16 scale s16.
BLOCKSCOPE_HD inline float expand_m(std::int8_t q, float s16) {
  const float z = static_cast<float>(q) / 127.0f;
  return mul_rn(z / (2.0f - fabsf(z)), s16);
}

// uint8 code of v, given √v and the group scale s (fp32, absmax of √v).
BLOCKSCOPE_HD inline std::uint8_t quantize_sqrt_v(float sqrt_v, float s) {
  return static_cast<std::uint8_t>(floor_to_int(mul_rn(255.0f, sqrt_v / s) + 0.5f));
}

// v̂ from its uint8 code and the widened fp16 scale s16.
BLOCKSCOPE_HD inline float dequantize_v(std::uint8_t q, float s16) {
  const float root = static_cast<float>(q) / 255.0f * s16;
  return mul_rn(root, root);
}

}  // namespace blockscope::optimizers::math
