// Per-element AdamW / Adam-mini / Gefen steps.
//   AdamW and Adam-mini against the formulas evaluated in float64 from the
//   same fp32 state: |fp32 − f64| ≤ kStepRtol · (sum of the magnitudes of the
//   terms that were added), because each result is a chain of at most ~10
//   fp32 roundings and 6 fp32-rounded scalars, each ≤ 2^-24 relative (16 ulp,
//   doubled for margin). Adam-mini with one-element blocks equals AdamW
//   bitwise; the Gefen properties are bitwise or exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "optimizers/math/adam_update.h"

namespace blockscope::optimizers::math {
namespace {

constexpr double kStepRtol = 32.0 * 0x1p-24;

struct Hyper {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.1;
};

struct Reference {
  double p, m, v;
  double p_scale, m_scale, v_scale;  // magnitudes of the summed terms, for the tolerance
};

// docs/algorithms.md §5 / PyTorch AdamW in float64. v_shared < 0: per-element v.
Reference reference_step(double p, double m, double v, double g, const Hyper& h, std::int64_t t, double mean_g2) {
  Reference r;
  r.m = h.beta1 * m + (1 - h.beta1) * g;
  r.m_scale = std::fabs(h.beta1 * m) + std::fabs((1 - h.beta1) * g);
  r.v = h.beta2 * v + (1 - h.beta2) * mean_g2;
  r.v_scale = r.v;
  const double step_size = h.lr / (1 - std::pow(h.beta1, t));
  const double denominator = std::sqrt(r.v) / std::sqrt(1 - std::pow(h.beta2, t)) + h.eps;
  const double decayed = p * (1 - h.lr * h.weight_decay);
  const double update = step_size * r.m / denominator;
  r.p = decayed - update;
  // m's own error (relative to m_scale) passes through the update.
  r.p_scale = std::fabs(decayed) + std::fabs(update) + step_size * r.m_scale / denominator;
  return r;
}

TEST(StepScalars, ComputedOnceInFloat64) {
  const StepScalars s = make_step_scalars(1e-3, 0.9, 0.999, 1e-8, 0.1, 1);
  EXPECT_EQ(s.step_size, static_cast<float>(1e-3 / (1 - 0.9)));
  EXPECT_EQ(s.bias_correction2_sqrt, static_cast<float>(std::sqrt(1 - 0.999)));
  EXPECT_EQ(s.decay, static_cast<float>(1 - 1e-4));
  EXPECT_EQ(s.one_minus_beta2, static_cast<float>(1 - 0.999));
  EXPECT_THROW(make_step_scalars(1e-3, 0.9, 0.999, 1e-8, 0.1, 0), std::invalid_argument);
}

TEST(AdamW, ElementStepMatchesTheFloat64Formula) {
  std::mt19937 rng(41);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<double> log_scale(-6.0, 2.0);
  const Hyper h;
  for (std::int64_t t : {1, 2, 10, 1000, 100000}) {
    const StepScalars s = make_step_scalars(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, t);
    for (int i = 0; i < 50000; ++i) {
      const float scale = static_cast<float>(std::pow(10.0, log_scale(rng)));
      float p = normal(rng), m = normal(rng) * scale, v = normal(rng) * scale, g = normal(rng) * scale;
      v = v * v;
      const Reference r = reference_step(p, m, v, g, h, t, static_cast<double>(g) * g);
      adamw_step(p, m, v, g, s);
      ASSERT_LE(std::fabs(m - r.m), kStepRtol * r.m_scale) << "t " << t;
      ASSERT_LE(std::fabs(v - r.v), kStepRtol * r.v_scale) << "t " << t;
      ASSERT_LE(std::fabs(p - r.p), kStepRtol * r.p_scale) << "t " << t;
    }
  }
}

TEST(AdamMini, SharedVStepMatchesTheFloat64Formula) {
  std::mt19937 rng(43);
  std::normal_distribution<float> normal;
  const Hyper h;
  const StepScalars s = make_step_scalars(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, 7);
  const int block = 96;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> p(block), m(block), g(block);
    double sum_g2 = 0.0;
    float sum_g2_fp32 = 0.0f;
    for (int i = 0; i < block; ++i) {
      p[i] = normal(rng);
      m[i] = 0.1f * normal(rng);
      g[i] = normal(rng);
      sum_g2 += static_cast<double>(g[i]) * g[i];
      sum_g2_fp32 += g[i] * g[i];
    }
    const float v_old = 0.5f;
    const float v_b = second_moment(v_old, sum_g2_fp32 / block, s);
    for (int i = 0; i < block; ++i) {
      const Reference r = reference_step(p[i], m[i], v_old, g[i], h, 7, sum_g2 / block);
      // The fp32 block mean adds ≤ block · 2^-24 relative to v (sequential sum).
      ASSERT_LE(std::fabs(v_b - r.v), (kStepRtol + block * 0x1p-24) * r.v_scale);
      shared_v_step(p[i], m[i], g[i], v_b, s);
      ASSERT_LE(std::fabs(m[i] - r.m), kStepRtol * r.m_scale);
      ASSERT_LE(std::fabs(p[i] - r.p), (kStepRtol + block * 0x1p-24) * r.p_scale);
    }
  }
}

TEST(AdamMini, OneElementBlocksEqualAdamWBitwise) {
  std::mt19937 rng(47);
  std::normal_distribution<float> normal;
  const Hyper h;
  for (std::int64_t t : {1, 3, 500}) {
    const StepScalars s = make_step_scalars(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, t);
    for (int i = 0; i < 100000; ++i) {
      const float p0 = normal(rng), m0 = normal(rng), g = normal(rng);
      const float v0 = std::fabs(normal(rng));
      float p1 = p0, m1 = m0, v1 = v0;
      adamw_step(p1, m1, v1, g, s);
      float p2 = p0, m2 = m0;
      const float mean_g2 = (0.0f + g * g) / 1.0f;  // block of one element
      const float v2 = second_moment(v0, mean_g2, s);
      shared_v_step(p2, m2, g, v2, s);
      ASSERT_EQ(float_bits(p1), float_bits(p2));
      ASSERT_EQ(float_bits(m1), float_bits(m2));
      ASSERT_EQ(float_bits(v1), float_bits(v2));
    }
  }
}

// A sorted codebook with ±1 ends and unequal gaps: c_i = sign(u)·|u|^1.5.
std::vector<float> test_codebook() {
  std::vector<float> c(kCodebookSize);
  for (int i = 0; i < kCodebookSize; ++i) {
    const double u = -1.0 + 2.0 * i / (kCodebookSize - 1);
    c[i] = static_cast<float>(std::copysign(std::pow(std::fabs(u), 1.5), u));
  }
  return c;
}

TEST(Gefen, ParameterMovesByTheQuantisedMomentum) {
  const std::vector<float> c = test_codebook();
  std::mt19937 rng(53);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> code(0, kCodebookSize - 1);
  const Hyper h;
  const StepScalars s = make_step_scalars(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, 5);
  const int block = 128;
  int moved_differently = 0;
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<float> p(block), g(block), m(block);
    std::vector<std::uint8_t> q(block);
    const float scale_old = std::fabs(normal(rng)) + 0.1f;
    float scale = 0.0f, sum_g2 = 0.0f;
    for (int i = 0; i < block; ++i) {
      p[i] = normal(rng);
      g[i] = normal(rng);
      q[i] = static_cast<std::uint8_t>(code(rng));
      m[i] = gefen_momentum(g[i], q[i], scale_old, c.data(), s);  // pass 1
      ASSERT_EQ(m[i], first_moment(c[q[i]] * scale_old, g[i], s));
      scale = std::max(scale, std::fabs(m[i]));
      sum_g2 += g[i] * g[i];
    }
    const float v_b = second_moment(0.2f, sum_g2 / block, s);
    for (int i = 0; i < block; ++i) {  // pass 2
      const float p_old = p[i];
      const std::uint8_t q_new = gefen_step(p[i], m[i], scale, v_b, c.data(), s);
      ASSERT_EQ(q_new, nearest(c.data(), kCodebookSize, m[i] / scale));
      const float m_quantised = c[q_new] * scale;
      // Within half the local gap of the codebook.
      const float gap = c[std::min(q_new + 1, kCodebookSize - 1)] - c[std::max(q_new - 1, 0)];
      ASSERT_LE(std::fabs(m[i] / scale - c[q_new]), 0.5f * gap);
      ASSERT_EQ(float_bits(p[i]), float_bits(apply_update(p_old, m_quantised, v_b, s)));
      moved_differently += p[i] != apply_update(p_old, m[i], v_b, s);
      if (std::fabs(m[i]) == scale) {
        ASSERT_TRUE(q_new == 0 || q_new == kCodebookSize - 1);
      }
    }
  }
  EXPECT_GT(moved_differently, 100 * block / 2);  // the unquantised momentum would move p elsewhere
}

TEST(Gefen, RepresentableMomentumKeepsItsCode) {
  const std::vector<float> c = test_codebook();
  for (int j = 0; j < kCodebookSize; ++j) {
    ASSERT_EQ(gefen_code(c[j] * 2.0f, 2.0f, c.data()), j);
  }
}

TEST(Gefen, ZeroBlockScaleGivesCodeZeroAndOnlyDecay) {
  const std::vector<float> c = test_codebook();
  const Hyper h;
  const StepScalars s = make_step_scalars(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, 1);
  // First step: the stored state is all zero (any code, scale 0) and g = 0.
  const float m = gefen_momentum(0.0f, 77, 0.0f, c.data(), s);
  EXPECT_EQ(m, 0.0f);
  float p = 1.5f;
  EXPECT_EQ(gefen_step(p, m, 0.0f, second_moment(0.0f, 0.0f, s), c.data(), s), 0);
  EXPECT_EQ(p, mul_rn(1.5f, s.decay));
  // A non-zero gradient at the first step: m = (1 − β1)·g.
  EXPECT_EQ(gefen_momentum(0.25f, 77, 0.0f, c.data(), s), s.one_minus_beta1 * 0.25f);
}

}  // namespace
}  // namespace blockscope::optimizers::math
