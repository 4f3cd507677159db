// Per-element Adam-family steps on fp32 scalars, shared by the CPU reference
// loops and the CUDA kernels (docs/style.md 2; PyTorch fused_adam_utils.cuh, llm.c
// adamw.cuh).
//   AdamW (decoupled weight decay, PyTorch _single_tensor_adam/fused ADAMW):
//     p ← p·(1 − lr·wd);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
//     p ← p − (lr/(1−β1^t)) · m / (√v/√(1−β2^t) + eps)
//   Adam-mini (docs/algorithms.md §5): the same with v replaced by the block's
//     shared v_b = β2 v_b + (1−β2)·mean_b g², updated once per block.
//   Gefen (docs/algorithms.md §6), two passes per block b:
//     1. m_i = β1 · c[q_i]·s_b + (1−β1) g_i from the dequantised old state;
//        the kernel reduces s_b = max_i |m_i|.
//     2. q_i = nearest(c, m_i/s_b) (0 when s_b = 0; the reference stores
//        nearest(c, 0) there, which dequantises to the same 0), then
//        p_i ← p_i·(1 − lr·wd) − (lr/(1−β1^t)) · c[q_i]·s_b / (√v_b/√(1−β2^t) + eps):
//        the parameter moves by the QUANTISED momentum. The denominator is
//        written as in gefen.py _step_automatic (√v_b/√(1−β2^t), the same
//        form as AdamW); docs/algorithms.md's √(v_b/(1−β2^t)) differs only in rounding.
// All arithmetic is fp32; β-powers, 1 − lr·wd and lr/(1−β1^t) come in
// StepScalars, computed once per step on the host in float64. Tensors that
// skip weight decay (names with norm/ln/bias) get weight_decay = 0.
// Not here: block reductions (mean g², absmax), loads/stores, the reference's
// lerp-based momentum update (so results match it to fp32 rounding, not bitwise).
#pragma once

#include <cmath>
#include <cstdint>

#include "optimizers/math/codebook.h"
#include "optimizers/math/host_device.h"

namespace blockscope::optimizers::math {

// Per-step scalars for one tensor (fp32, read-only in the kernels). The SGD
// and Lion rules (momentum_update.h) fill the same fields their own way.
struct StepScalars {
  float beta1;                  // β1
  float beta2;                  // β2
  float one_minus_beta1;        // 1 − β1
  float one_minus_beta2;        // 1 − β2
  float eps;                    // added to the bias-corrected √v
  float decay;                  // 1 − lr·wd
  float step_size;              // lr / (1 − β1^t)
  float bias_correction2_sqrt;  // √(1 − β2^t)
  float l2 = 0.0f;              // coupled weight decay added to the gradient (SGD: wd; else 0)
};

// Host: the scalars for step t ≥ 1 (t counts the step being taken), computed
// in float64 and rounded once to fp32. Throws std::invalid_argument for t < 1.
StepScalars make_step_scalars(double lr, double beta1, double beta2, double eps, double weight_decay,
                              std::int64_t step);

// m ← β1 m + (1−β1) g.
BLOCKSCOPE_HD inline float first_moment(float m, float g, const StepScalars& s) {
  return mul_rn(s.beta1, m) + mul_rn(s.one_minus_beta1, g);
}

// v ← β2 v + (1−β2) g2, where g2 is g² (AdamW) or the block mean of g² (shared v).
BLOCKSCOPE_HD inline float second_moment(float v, float g2, const StepScalars& s) {
  return mul_rn(s.beta2, v) + mul_rn(s.one_minus_beta2, g2);
}

// p·(1 − lr·wd) − step_size · m / (√v/√(1−β2^t) + eps), for an already updated m and v.
BLOCKSCOPE_HD inline float apply_update(float p, float m, float v, const StepScalars& s) {
  const float denominator = sqrtf(v) / s.bias_correction2_sqrt + s.eps;
  return mul_rn(p, s.decay) - mul_rn(s.step_size, m) / denominator;
}

// Adam-mini element step: v_b is this element's block v, already updated
// with second_moment for this step. Updates p and m in place.
BLOCKSCOPE_HD inline void shared_v_step(float& p, float& m, float g, float v_b, const StepScalars& s) {
  m = first_moment(m, g, s);
  p = apply_update(p, m, v_b, s);
}

// AdamW element step: updates p, m, v in place.
BLOCKSCOPE_HD inline void adamw_step(float& p, float& m, float& v, float g, const StepScalars& s) {
  v = second_moment(v, g * g, s);
  shared_v_step(p, m, g, v, s);
}

// Gefen pass 1: the new fp32 momentum from the stored code q_old, the block's
// old scale and the gradient. codebook: kCodebookSize sorted fp32 levels.
BLOCKSCOPE_HD inline float gefen_momentum(float g, std::uint8_t q_old, float scale_old, const float* codebook,
                                          const StepScalars& s) {
  return first_moment(codebook[q_old] * scale_old, g, s);
}

// Gefen code of m in a block of scale s_b = max |m| over the block.
BLOCKSCOPE_HD inline std::uint8_t gefen_code(float m, float scale, const float* codebook) {
  if (scale == 0.0f) return 0;
  return static_cast<std::uint8_t>(nearest(codebook, kCodebookSize, m / scale));
}

// Gefen pass 2: quantises m (from pass 1) with the block's new scale, moves p
// by the quantised momentum; v_b is the block's updated v. Returns the code.
BLOCKSCOPE_HD inline std::uint8_t gefen_step(float& p, float m, float scale, float v_b, const float* codebook,
                                             const StepScalars& s) {
  const std::uint8_t q = gefen_code(m, scale, codebook);
  p = apply_update(p, codebook[q] * scale, v_b, s);
  return q;
}

}  // namespace blockscope::optimizers::math
