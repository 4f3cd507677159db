// fp32 <-> IEEE binary16 by integer bit manipulation, identical on host and
// device (one code path for both, so the stored fp16 scales of the 8-bit
// states agree bitwise between the CPU reference and the CUDA kernels).
//
// float_to_fp16 rounds to nearest, ties to even, like __float2half_rn and
// c10::Half: |x| >= 65520 becomes +-Inf, values below 2^-14 round onto fp16
// subnormals (step 2^-24), |x| <= 2^-25 becomes +-0. NaN becomes sign|0x7E00.
// fp16_to_float is exact (NaN payloads kept). Not here: other rounding modes.
#pragma once

#include <cstdint>

#include "optimizers/math/host_device.h"

namespace blockscope::optimizers::math {

// fp16 bit pattern of x, round to nearest even.
BLOCKSCOPE_HD inline std::uint16_t float_to_fp16(float x) {
  const std::uint32_t u = float_bits(x);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7E00u;   // NaN
  if (a >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 = 65504 + half a step: Inf
  if (a >= 0x38800000u) {                       // fp16 normal range, >= 2^-14
    const std::uint32_t lsb = (a >> 13) & 1u;
    a += 0xC8000FFFu + lsb;  // exponent bias 127 -> 15 (−112 << 23), plus rounding
    return static_cast<std::uint16_t>(sign | (a >> 13));
  }
  if (a <= 0x33000000u) return sign;  // <= 2^-25: rounds to zero (2^-25 is a tie to even 0)
  // fp16 subnormal: x / 2^-24 = mantissa_with_hidden_bit >> shift, shift in [14, 24].
  const std::uint32_t mantissa = (a & 0x007FFFFFu) | 0x00800000u;
  const int shift = 126 - static_cast<int>(a >> 23);
  std::uint32_t r = mantissa >> shift;
  const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (r & 1u))) ++r;  // may carry into the smallest normal
  return static_cast<std::uint16_t>(sign | r);
}

// Exact widening of an fp16 bit pattern.
BLOCKSCOPE_HD inline float fp16_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  std::uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1Fu) return bits_float(sign | 0x7F800000u | (mantissa << 13));
  if (exponent != 0) return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  if (mantissa == 0) return bits_float(sign);
  std::uint32_t e = 113;  // subnormal m·2^-24: normalise so the hidden bit is bit 10
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  return bits_float(sign | (e << 23) | ((mantissa & 0x3FFu) << 13));
}

}  // namespace blockscope::optimizers::math
