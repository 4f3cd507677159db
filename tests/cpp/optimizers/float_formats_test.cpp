// bf16 and fp16 conversions against a reference computed another way: the
// nearest multiple of the format's quantum, in float64 with nearbyint
// (round half even), overflow past the largest finite value to Inf.
// Agreement expected: bitwise.
#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "optimizers/math/bf16.h"
#include "optimizers/math/fp16.h"

namespace blockscope::optimizers::math {
namespace {

struct Format {
  int precision;      // significand bits including the hidden one
  int min_exponent;   // exponent of the smallest normal
  double max_finite;  // largest finite value
};
constexpr Format kBf16{8, -126, 0x1.FEp127};
constexpr Format kFp16{11, -14, 65504.0};

// x rounded to `format`, nearest even, as a double (±Inf past the range).
double reference_round(float x, const Format& format) {
  if (x == 0.0f || std::isinf(x)) return x;
  int e = 0;
  std::frexp(static_cast<double>(x), &e);  // x = f·2^e, f in [0.5, 1)
  const int exponent = std::max(e - 1, format.min_exponent);
  const double quantum = std::ldexp(1.0, exponent - (format.precision - 1));
  const double rounded = std::nearbyint(static_cast<double>(x) / quantum) * quantum;
  if (std::fabs(rounded) > format.max_finite) return std::copysign(HUGE_VAL, rounded);
  return rounded;
}

// Inputs: every bf16 pattern with low halves at the rounding boundaries
// (0x8000 is a tie), fp16 boundaries likewise, fp16 subnormal ties, and
// uniformly random bit patterns.
std::vector<float> test_inputs() {
  std::vector<float> xs;
  const std::uint32_t bf16_lows[] = {0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1234, 0xC3A1};
  for (std::uint32_t hi = 0; hi < 0x10000u; ++hi) {
    for (std::uint32_t lo : bf16_lows) xs.push_back(bits_float((hi << 16) | lo));
  }
  const std::uint32_t fp16_lows[] = {0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x1FFF};
  for (std::uint32_t hi = 0; hi < 0x80000u; ++hi) {
    for (std::uint32_t lo : fp16_lows) xs.push_back(bits_float((hi << 13) | lo));
  }
  for (int k = 0; k < 2048; ++k) {  // (k + 1/2)·2^-24 are fp16 subnormal (and normal) ties
    const float tie = std::ldexp(static_cast<float>(k) + 0.5f, -24);
    xs.insert(xs.end(), {tie, -tie, std::nextafter(tie, 0.0f), std::nextafter(tie, 1.0f)});
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000000; ++i) xs.push_back(bits_float(static_cast<std::uint32_t>(rng())));
  return xs;
}

TEST(Bf16, RoundsToNearestEvenLikeTheFloat64Reference) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  std::int64_t checked = 0;
  for (float x : test_inputs()) {
    const float got = round_to_bf16(x);
    if (std::isnan(x)) {
      ASSERT_EQ(float_to_bf16(x), 0x7FC0u) << "NaN bits " << std::hex << float_bits(x);
      continue;
    }
    const float expected = static_cast<float>(reference_round(x, kBf16));
    ASSERT_EQ(float_bits(got), float_bits(expected)) << "x bits 0x" << std::hex << float_bits(x);
    ++checked;
  }
  EXPECT_GT(checked, 3000000);
}

TEST(Bf16, WideningIsExactAndRoundTrips) {
  for (std::uint32_t b = 0; b < 0x10000u; ++b) {
    const float x = bf16_to_float(static_cast<std::uint16_t>(b));
    ASSERT_EQ(float_bits(x), b << 16);
    if (!std::isnan(x)) {
      ASSERT_EQ(float_to_bf16(x), b);
    }
  }
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80u);
  EXPECT_EQ(float_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80u);
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7F80u);  // rounds past the range
  EXPECT_EQ(float_to_bf16(-0.0f), 0x8000u);
}

TEST(Fp16, RoundsToNearestEvenLikeTheFloat64Reference) {
  std::int64_t checked = 0;
  for (float x : test_inputs()) {
    const std::uint16_t got = float_to_fp16(x);
    if (std::isnan(x)) {
      ASSERT_EQ(got & 0x7FFFu, 0x7E00u) << "NaN bits " << std::hex << float_bits(x);
      continue;
    }
    const float expected = static_cast<float>(reference_round(x, kFp16));
    ASSERT_EQ(float_bits(fp16_to_float(got)), float_bits(expected)) << "x bits 0x" << std::hex << float_bits(x);
    ++checked;
  }
  EXPECT_GT(checked, 5000000);
}

TEST(Fp16, WideningMatchesTheFormulaAndRoundTrips) {
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    const float x = fp16_to_float(static_cast<std::uint16_t>(h));
    const int exponent = (h >> 10) & 0x1F;
    const int mantissa = h & 0x3FF;
    const double sign = (h & 0x8000u) ? -1.0 : 1.0;
    if (exponent == 0x1F) {
      ASSERT_TRUE(mantissa == 0 ? std::isinf(x) : std::isnan(x)) << h;
      if (mantissa != 0) continue;
    } else {
      const double expected =
          exponent == 0 ? sign * std::ldexp(mantissa, -24) : sign * std::ldexp(1024 + mantissa, exponent - 25);
      ASSERT_EQ(float_bits(x), float_bits(static_cast<float>(expected))) << h;
    }
    ASSERT_EQ(float_to_fp16(x), h) << h;
  }
  EXPECT_EQ(float_to_fp16(std::nextafter(65520.0f, 0.0f)), 0x7BFFu);  // just below the Inf threshold 65520
  EXPECT_EQ(float_to_fp16(65520.0f), 0x7C00u);                        // the tie goes to even: Inf
  EXPECT_EQ(float_to_fp16(std::ldexp(1.0f, -25)), 0x0000u);           // tie between 0 and 2^-24
  EXPECT_EQ(float_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001u);
}

}  // namespace
}  // namespace blockscope::optimizers::math
