// FlashOptim master-weight splitting: ρ against the formula evaluated exactly
// in float64, and the reconstruction bound.
//   Bound: the real-valued θ′ + (ρ/N)·ULP/2 is within ULP(θ′)/(4N) of θ
//   (ρ rounds (θ−θ′)/(ULP/2)·N to an integer); storing θ̂ in fp32 adds at
//   most half an fp32 ulp of θ̂ — which matters for N = 32767, where
//   ULP/(4N) is itself about half an fp32 ulp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "optimizers/math/ulp_split.h"

namespace blockscope::optimizers::math {
namespace {

// ρ = round_half_away((θ − θ′)/2^ℓ · N), exact in float64.
std::int32_t reference_rho(float theta, std::uint16_t hi, std::int32_t levels) {
  const double error = static_cast<double>(theta) - static_cast<double>(bf16_to_float(hi));
  return static_cast<std::int32_t>(std::round(std::ldexp(error, -bf16_half_ulp_log2(hi)) * levels));
}

void check_split(float theta, std::int32_t levels) {
  const SplitWeight split = split_weight(theta, levels);
  ASSERT_EQ(split.hi, float_to_bf16(theta));
  ASSERT_EQ(split.rho, reference_rho(theta, split.hi, levels)) << "theta " << theta;
  ASSERT_LE(std::abs(split.rho), levels);
  const float rebuilt = join_weight(split.hi, split.rho, levels);
  const double ulp = std::ldexp(1.0, bf16_half_ulp_log2(split.hi) + 1);
  const double fp32_half_ulp = 0.5 * (std::nextafter(std::fabs(rebuilt), HUGE_VALF) - std::fabs(rebuilt));
  ASSERT_LE(std::fabs(static_cast<double>(theta) - rebuilt), ulp / (4.0 * levels) + fp32_half_ulp)
      << "theta " << theta << " levels " << levels;
}

TEST(UlpSplit, ReconstructsWithinAQuarterStepOverMagnitudes1e30) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> log_magnitude(-30.0, 30.0);
  for (std::int32_t levels : {kRhoLevelsInt8, kRhoLevelsInt16}) {
    for (int i = 0; i < 400000; ++i) {
      const float theta = static_cast<float>(std::pow(10.0, log_magnitude(rng)) * (i % 2 ? -1.0 : 1.0));
      check_split(theta, levels);
    }
  }
}

TEST(UlpSplit, HandlesTiesBinadeEdgesZeroAndSubnormals) {
  std::vector<float> thetas = {
      0.0f, -0.0f, 1.0f, -1.0f, 1e-45f, -3e-42f, 1.17e-38f, 5e-39f, std::ldexp(1.0f, -126), std::ldexp(1.0f, -133),
      3e38f};
  for (int e = -140; e <= 120; e += 7) {
    const float base = std::ldexp(1.0f, e);
    // Just below a power of two (θ′ rounds up a binade), bf16 ties (low half 0x8000),
    // and a quarter / three quarters of a bf16 step (ρ ties for odd N).
    for (std::uint32_t low : {0x8000u, 0x4000u, 0xC000u, 0x0001u, 0xFFFFu}) {
      thetas.push_back(bits_float(float_bits(base) | low));
      thetas.push_back(-bits_float(float_bits(base) | low));
    }
    thetas.push_back(std::nextafter(base, 0.0f));
  }
  for (std::int32_t levels : {kRhoLevelsInt8, kRhoLevelsInt16}) {
    for (float theta : thetas) check_split(theta, levels);
  }
  EXPECT_EQ(split_weight(0.0f, kRhoLevelsInt8).rho, 0);
  EXPECT_EQ(join_weight(0, 0, kRhoLevelsInt8), 0.0f);
  // Subnormal and zero θ′ use exponent 1 − 127: ULP/2 = 2^-134.
  EXPECT_EQ(bf16_half_ulp_log2(0x0000), -134);
  EXPECT_EQ(bf16_half_ulp_log2(0x0001), -134);
  EXPECT_EQ(bf16_half_ulp_log2(0x0080), -134);  // smallest normal bf16, 2^-126
  EXPECT_EQ(bf16_half_ulp_log2(0x3F80), -8);    // 1.0: ULP 2^-7
}

TEST(UlpSplit, NonFiniteHighPartKeepsRhoZero) {
  const float big = 3.4e38f;  // rounds to bf16 Inf
  const SplitWeight split = split_weight(big, kRhoLevelsInt8);
  EXPECT_EQ(split.hi, 0x7F80u);
  EXPECT_EQ(split.rho, 0);
  EXPECT_TRUE(std::isinf(join_weight(split.hi, split.rho, kRhoLevelsInt8)));
  EXPECT_EQ(split_weight(std::nanf(""), kRhoLevelsInt16).rho, 0);
}

TEST(UlpSplit, Int16ReconstructionIsWithinOneFp32Ulp) {
  // 16 bits of ρ cover the 16 fp32 mantissa bits below bf16 almost exactly.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-4.0f, 4.0f);
  int exact = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const float theta = uniform(rng);
    const SplitWeight split = split_weight(theta, kRhoLevelsInt16);
    const float rebuilt = join_weight(split.hi, split.rho, kRhoLevelsInt16);
    ASSERT_LE(std::fabs(theta - rebuilt), std::nextafter(std::fabs(theta), HUGE_VALF) - std::fabs(theta));
    exact += rebuilt == theta;
  }
  EXPECT_GT(exact, n * 99 / 100);
}

}  // namespace
}  // namespace blockscope::optimizers::math
