// One element's optimizer update once its new first moment is known — the
// composition of the per-element math (math/adam_update.h, momentum_update.h, the formats of
// bf16.h, companding.h, ulp_split.h) that the CPU reference (cpu/step.cpp)
// and the CUDA kernels (cuda/step.cu) both call, so they agree bit for bit.
// Not here: the codebook momentum and search, and the 32-element tile scales
// of the companded states (their reductions differ by device: the CPU loops
// over a tile buffer, CUDA reduces across a warp).
#pragma once

#include <cstdint>

#include "optimizers/math/adam_update.h"
#include "optimizers/math/bf16.h"
#include "optimizers/math/companding.h"
#include "optimizers/math/fp16.h"
#include "optimizers/math/host_device.h"
#include "optimizers/math/momentum_update.h"
#include "optimizers/math/ulp_split.h"
#include "optimizers/spec.h"
#include "optimizers/state_views.h"

namespace blockscope::optimizers {

// Element i's stored first moment in fp32 (m_scale: the dequantised fp16
// scale of its tile, companded m only). Not for codebook m.
template <FirstMoment M>
BLOCKSCOPE_HD_INLINE float stored_first_moment(const TensorState& in, std::int64_t i, float m_scale) {
  static_assert(M != FirstMoment::codebook, "codebook m is read through its codebook");
  if constexpr (M == FirstMoment::fp32) return in.m_fp32[i];
  if constexpr (M == FirstMoment::bf16) return math::bf16_to_float(in.m_bf16[i]);
  if constexpr (M == FirstMoment::companded) return math::expand_m(in.m_q8[i], m_scale);
  return 0.0f;
}

// Element i's weight θ in fp32: the parameter, joined with its ULP correction
// for bf16+intN weights.
template <WeightStorage W>
BLOCKSCOPE_HD_INLINE float stored_weight(const TensorStep& s, std::int64_t i) {
  constexpr std::int32_t levels = W == WeightStorage::bf16_int16 ? math::kRhoLevelsInt16 : math::kRhoLevelsInt8;
  const float theta = s.param_in[i];
  if constexpr (W == WeightStorage::bf16_int8)
    return math::join_weight(math::float_to_bf16(theta), s.in.rho8[i], levels);
  if constexpr (W == WeightStorage::bf16_int16) {
    return math::join_weight(math::float_to_bf16(theta), s.in.rho16[i], levels);
  }
  return theta;
}

// An element's new first moment (stored) and what moves its weight, by rule
// (spec.h), from its stored first moment, gradient g and weight θ (SGD's L2
// term). Not for codebook m.
struct ElementMoments {
  float m_new;   // stored
  float m_used;  // adam, sgd: m_new; lion: sign(β1 m + (1−β1) g)
};
template <UpdateRule R>
BLOCKSCOPE_HD_INLINE ElementMoments rule_moments(float m_old, float g, float theta, const math::StepScalars& sc) {
  if constexpr (R == UpdateRule::sgd) {
    const float m = math::first_moment(m_old, math::sgd_gradient(g, theta, sc), sc);
    return {m, m};
  }
  if constexpr (R == UpdateRule::lion) return {math::lion_momentum(m_old, g, sc), math::lion_direction(m_old, g, sc)};
  const float m = math::first_moment(m_old, g, sc);
  return {m, m};
}

// Given element i's gradient g, weight θ (stored_weight) and new first moment
// (m_new, stored; m_used, applied to the parameter): its new second moment
// (v_shared for shared v; v_scale the dequantised tile scale of companded v;
// none for sgd/lion), the parameter update by rule with the weight format, and
// the per-element moments stored. Returns the new v; companded m and v are
// left to the caller's tile pass.
template <UpdateRule R, FirstMoment M, SecondMoment V, WeightStorage W>
BLOCKSCOPE_HD_INLINE float finish_element(const TensorStep& s, std::int64_t i, float g, float theta, float m_new,
                                          float m_used, float v_shared, float v_scale) {
  constexpr std::int32_t levels = W == WeightStorage::bf16_int16 ? math::kRhoLevelsInt16 : math::kRhoLevelsInt8;
  const math::StepScalars& sc = s.scalars;
  float v_new = v_shared;
  if constexpr (V == SecondMoment::element) v_new = math::second_moment(s.in.v_fp32[i], g * g, sc);
  if constexpr (V == SecondMoment::companded) {
    v_new = math::second_moment(math::dequantize_v(s.in.v_q8[i], v_scale), g * g, sc);
  }
  if constexpr (R == UpdateRule::adam) {
    theta = math::apply_update(theta, m_used, v_new, sc);
  } else {
    theta = math::apply_direction(theta, m_used, sc);
  }
  if constexpr (W == WeightStorage::fp32) {
    s.param_out[i] = theta;
  } else {
    const math::SplitWeight split = math::split_weight(theta, levels);
    s.param_out[i] = math::bf16_to_float(split.hi);
    if constexpr (W == WeightStorage::bf16_int8) s.out.rho8[i] = static_cast<std::int8_t>(split.rho);
    if constexpr (W == WeightStorage::bf16_int16) s.out.rho16[i] = static_cast<std::int16_t>(split.rho);
  }
  if constexpr (M == FirstMoment::fp32) s.out.m_fp32[i] = m_new;
  if constexpr (M == FirstMoment::bf16) s.out.m_bf16[i] = math::float_to_bf16(m_new);
  if constexpr (V == SecondMoment::element) s.out.v_fp32[i] = v_new;
  return v_new;
}

}  // namespace blockscope::optimizers
