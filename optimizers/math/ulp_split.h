// FlashOptim master-weight splitting (docs/algorithms.md §7; databricks/flashoptim
// v0.1.3 encode_ecc/decode_ecc): an fp32 weight θ is kept as its bf16
// rounding θ′ plus a signed correction ρ in [−N, N] (N = 127 for int8,
// 32767 for int16):
//   ℓ = E(θ′) − 7 − 1          (log2 of ULP(θ′)/2; E = 1 − 127 for zero/subnormal θ′)
//   ρ = round_half_away((θ − θ′) · 2^(−ℓ) · N)
//   θ̂ = θ′ + (ρ/N) · 2^ℓ,      |θ − θ̂| ≤ ULP(θ′)/(4N) + half an fp32 ulp (storing θ̂)
// Powers of two are applied in two halves so 2^±134 never overflows fp32.
// ρ is computed exactly in integers: (θ − θ′)·2^(−ℓ) is a multiple of 2^-16
// in [−1, 1], so |ρ| ≤ N without a clamp. The reference rounds the fp32
// product instead: for N = 127 the two agree bitwise, for N = 32767 about
// 0.1 % of ρ differ by one step (the reference's, near a half). Reconstruction follows the reference's
// operation order. Not handled: θ′ = ±Inf/NaN (|θ| ≥ 2^128·(1 − 2^-9) or θ
// non-finite) gets ρ = 0 and reconstructs to θ′.
#pragma once

#include <cstdint>

#include "optimizers/math/bf16.h"
#include "optimizers/math/host_device.h"

namespace blockscope::optimizers::math {

constexpr std::int32_t kRhoLevelsInt8 = 127;
constexpr std::int32_t kRhoLevelsInt16 = 32767;

// x · 2^k for k in [−252, 254], as (x · 2^h) · 2^(k−h) with h = floor(k/2).
BLOCKSCOPE_HD inline float mul_pow2(float x, int k) {
  const int h = k >= 0 ? k / 2 : -((1 - k) / 2);
  const float first = bits_float(static_cast<std::uint32_t>(h + 127) << 23);
  const float second = bits_float(static_cast<std::uint32_t>(k - h + 127) << 23);
  return mul_rn(x * first, second);  // mul_rn: never fused into a following add
}

// ℓ = log2(ULP(θ′)/2) for the bf16 pattern hi (finite).
BLOCKSCOPE_HD inline int bf16_half_ulp_log2(std::uint16_t hi) {
  const int exponent_field = (hi >> 7) & 0xFF;
  const int exponent = exponent_field == 0 ? 1 - 127 : exponent_field - 127;
  return exponent - 7 - 1;
}

struct SplitWeight {
  std::uint16_t hi;  // θ′ as a bf16 bit pattern
  std::int32_t rho;  // correction in [−levels, levels]; store as int8/int16
};

// Splits θ (fp32) into θ′ = bf16(θ) and ρ with levels = kRhoLevelsInt8 or kRhoLevelsInt16.
// Selects instead of early returns, so that CPU loops over it vectorise; ρ fits
// int32: |error·65536·levels| ≤ 65536·32767 = 2^31 − 2^16.
BLOCKSCOPE_HD inline SplitWeight split_weight(float theta, std::int32_t levels) {
  const std::uint16_t hi = float_to_bf16(theta);
  const bool special = (hi & 0x7F80u) == 0x7F80u;  // θ′ = ±Inf/NaN: ρ = 0
  const float difference = special ? 0.0f : theta - bf16_to_float(hi);
  const float error = mul_pow2(difference, -bf16_half_ulp_log2(hi));  // exact, in [−1, 1]
  const std::int32_t n = static_cast<std::int32_t>(error * 65536.0f) * levels;
  const std::int32_t magnitude = ((n < 0 ? -n : n) + 32768) >> 16;  // round half away from zero
  return {hi, n < 0 ? -magnitude : magnitude};
}

// θ̂ = θ′ + (ρ/levels)·ULP(θ′)/2, in fp32.
BLOCKSCOPE_HD inline float join_weight(std::uint16_t hi, std::int32_t rho, std::int32_t levels) {
  const float theta_hi = bf16_to_float(hi);
  const float fraction = static_cast<float>(rho) / static_cast<float>(levels);
  const float joined = theta_hi + mul_pow2(fraction, bf16_half_ulp_log2(hi));
  return (hi & 0x7F80u) == 0x7F80u ? theta_hi : joined;
}

}  // namespace blockscope::optimizers::math
