// Views of one optimizer step's memory, shared by the CPU and CUDA kernels
// (cpu/step.h, cuda/step.h) and their callers: raw pointers, no ownership,
// every pointer on the device the step runs on. Which fields a spec uses is
// the table of state_components.h; the rest stay null.
#pragma once

#include <cstdint>

#include "optimizers/math/adam_update.h"

namespace blockscope::optimizers {

// One tensor's state components; null where the spec has none.
struct TensorState {
  float* m_fp32 = nullptr;
  std::uint16_t* m_bf16 = nullptr;
  std::uint8_t* m_code = nullptr;
  std::int8_t* m_q8 = nullptr;
  float* m_scale = nullptr;            // codebook: [scale groups]
  std::uint16_t* m_scale16 = nullptr;  // companded m: [ceil(n/32)] fp16 bits
  float* v_fp32 = nullptr;
  std::uint8_t* v_q8 = nullptr;
  std::uint16_t* v_scale16 = nullptr;  // companded v: [ceil(n/32)] fp16 bits
  std::int8_t* rho8 = nullptr;
  std::int16_t* rho16 = nullptr;
};

struct TensorStep {
  const float* grad = nullptr;      // [numel], finite when active
  const float* param_in = nullptr;  // [numel]; for bf16 weights exact bf16 values
  TensorState in;
  float* param_out = nullptr;   // [numel], may alias param_in
  TensorState out;              // may alias in
  math::StepScalars scalars{};  // this tensor's step (decay = 1 when excluded)
  bool active = true;           // false: skipped entirely
  // Non-null: a flag on the step's device (check_finite's, kernels.h) read
  // when the step runs; non-zero skips the tensor as if inactive. Lets the
  // host queue a step without waiting to learn which gradients are finite.
  const std::uint8_t* skip_if = nullptr;
  bool runs() const { return active && (skip_if == nullptr || *skip_if == 0); }  // host memory only
};

// The global state views: shared v [num_blocks] (v_out may alias v_in; blocks
// without active ranges are copied) and the codebook [256] (codebook m).
struct GlobalState {
  const float* v_in = nullptr;
  float* v_out = nullptr;
  const float* codebook = nullptr;
};

}  // namespace blockscope::optimizers
