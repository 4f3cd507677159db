// FlashOptim 8-bit states: exact reproduction of the representable points and
// round-trip bounds derived from the quantiser step.
//   m: y = 2x/(1+|x|) is rounded to a multiple of 1/127, so |y − z| ≤ 1/254;
//      x = y/(2−|y|) has slope 2/(2−|y|)² ≤ 2, so |x − x̂| ≤ slope_max/254
//      (≤ 1/127 at the ends). √v: linear step s/255, error ≤ s/510.
//   The stored fp16 scale adds ≤ 2^-11 relative (normal fp16 range), and the
//   fp32 arithmetic a few units of 2^-24 (kArithmeticSlack).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "optimizers/math/companding.h"

namespace blockscope::optimizers::math {
namespace {

constexpr double kFp16Relative = 0x1p-11;           // half an fp16 ulp, relative
constexpr double kArithmeticSlack = 8.0 * 0x1p-24;  // ≤ 8 fp32 roundings, relative to s

float stored_scale(float s) { return fp16_to_float(float_to_fp16(s)); }

TEST(Companding, FloorToIntEqualsFloorf) {
  // The quantisers' rounding (floor(· + 0.5)) without libm: every quarter
  // step over the codes' range, the fp32 neighbours of each integer and half,
  // and random values up to 2^24.
  std::vector<float> xs;
  for (int k = -4 * 300; k <= 4 * 300; ++k) {
    const float x = 0.25f * static_cast<float>(k);
    for (float y : {x, std::nextafter(x, -1e9f), std::nextafter(x, 1e9f)}) xs.push_back(y);
  }
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> wide(-16777215.0f, 16777215.0f);
  for (int i = 0; i < 100000; ++i) xs.push_back(wide(rng));
  for (float x : xs) ASSERT_EQ(floor_to_int(x), static_cast<std::int32_t>(std::floor(x))) << x;
}

TEST(Companding, RepresentableMomentumPointsReproduceExactly) {
  for (float s : {1.0f, 0.0625f, 3.5f, stored_scale(1e-3f), stored_scale(1234.5f)}) {
    ASSERT_EQ(stored_scale(s), s);
    for (int q = -127; q <= 127; ++q) {
      const float m = expand_m(static_cast<std::int8_t>(q), s);
      ASSERT_LE(std::fabs(m), s);
      ASSERT_EQ(compand_m(m, s), q) << "s " << s;
    }
  }
}

TEST(Companding, RepresentableVariancePointsReproduceExactly) {
  for (float s : {1.0f, 0.0625f, 3.5f, stored_scale(1e-3f), stored_scale(1234.5f)}) {
    for (int q = 0; q <= 255; ++q) {
      const float v = dequantize_v(static_cast<std::uint8_t>(q), s);
      ASSERT_EQ(quantize_sqrt_v(std::sqrt(v), s), q) << "s " << s;
    }
  }
}

// Groups of 32 values with magnitudes spread over 1e-4 .. 1e4 (fp16 normal scales).
std::vector<std::vector<float>> random_groups(int count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> log_scale(-4.0, 4.0);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> groups(count, std::vector<float>(kStateGroupSize));
  for (auto& group : groups) {
    const float scale = static_cast<float>(std::pow(10.0, log_scale(rng)));
    for (float& x : group) x = normal(rng) * scale;
  }
  return groups;
}

TEST(Companding, MomentumRoundTripWithinTheQuantiserStep) {
  for (const auto& group : random_groups(20000, 5)) {
    float absmax = 0.0f;
    for (float m : group) absmax = std::max(absmax, std::fabs(m));
    const float s = state_group_scale(absmax);
    const float s16 = stored_scale(s);
    for (float m : group) {
      const std::int8_t q = compand_m(m, s);
      ASSERT_GE(q, -127);
      const float m_hat = expand_m(q, s16);
      const double z = q / 127.0;
      const double y_max = std::min(1.0, std::fabs(z) + 1.0 / 254.0);
      const double slope_max = 2.0 / ((2.0 - y_max) * (2.0 - y_max));
      const double x_hat = std::fabs(m_hat) / s;
      const double tolerance = s * (slope_max / 254.0 + x_hat * kFp16Relative + kArithmeticSlack);
      ASSERT_LE(std::fabs(static_cast<double>(m) - m_hat), tolerance) << "m " << m << " s " << s;
      // x̂ ≤ 1 + 2^-11 (the fp16 scale may round up): the global bound ≈ s/127.
      ASSERT_LE(tolerance, s * (1.0 / 127.0 + (1.0 + kFp16Relative) * kFp16Relative + kArithmeticSlack));
    }
  }
}

TEST(Companding, VarianceRoundTripWithinTheQuantiserStep) {
  for (const auto& group : random_groups(20000, 6)) {
    float absmax = 0.0f;
    std::vector<float> v(group.size());
    for (std::size_t i = 0; i < group.size(); ++i) {
      v[i] = group[i] * group[i];
      absmax = std::max(absmax, std::sqrt(v[i]));
    }
    const float s = state_group_scale(absmax);
    const float s16 = stored_scale(s);
    for (float vi : v) {
      const std::uint8_t q = quantize_sqrt_v(std::sqrt(vi), s);
      const float v_hat = dequantize_v(q, s16);
      const double root_hat = std::sqrt(static_cast<double>(v_hat));
      const double tolerance = s * (1.0 / 510.0 + (q / 255.0) * kFp16Relative + kArithmeticSlack);
      ASSERT_LE(std::fabs(std::sqrt(static_cast<double>(vi)) - root_hat), tolerance) << "v " << vi;
    }
  }
}

TEST(Companding, ZeroGroupsUseTheScaleFloorAndStayZero) {
  const float s = state_group_scale(0.0f);
  EXPECT_EQ(s, kStateScaleFloor);
  EXPECT_EQ(compand_m(0.0f, s), 0);
  EXPECT_EQ(expand_m(0, stored_scale(s)), 0.0f);
  EXPECT_EQ(quantize_sqrt_v(0.0f, s), 0);
  EXPECT_EQ(dequantize_v(0, stored_scale(s)), 0.0f);
  // The group's extreme maps to the extreme code.
  EXPECT_EQ(compand_m(-2.5f, 2.5f), -127);
  EXPECT_EQ(compand_m(2.5f, 2.5f), 127);
  EXPECT_EQ(quantize_sqrt_v(2.5f, 2.5f), 255);
}

}  // namespace
}  // namespace blockscope::optimizers::math
