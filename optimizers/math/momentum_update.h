// Per-element steps of the momentum-only rules (spec.h rule=sgd, rule=lion),
// shared by the CPU reference loops and the CUDA kernels like adam_update.h,
// on the same StepScalars:
//   SGD (torch.optim.SGD, dampening 0, no Nesterov; _single_tensor_sgd):
//     d ← g + wd·θ;  m ← μ m + d (the first step: m = d, as m starts at 0);  θ ← θ − lr·m
//     scalars: beta1 = μ, one_minus_beta1 = 1 (so first_moment is μ m + d
//     exactly), l2 = wd, decay = 1, step_size = lr.
//   Lion (arXiv 2302.06675 Algorithm 2; lucidrains/lion-pytorch):
//     c ← β1 m + (1−β1) g;  θ ← θ·(1 − lr·wd) − lr·sign(c);  m ← β2 m + (1−β2) g
//     scalars: beta1, beta2 and their complements, decay = 1 − lr·wd,
//     step_size = lr, l2 = 0. sign(0) = 0, as torch.sign.
// Neither has bias correction or eps; the step count does not enter.
#pragma once

#include "optimizers/math/adam_update.h"
#include "optimizers/math/host_device.h"

namespace blockscope::optimizers::math {

// Host: the scalars of one SGD step (momentum μ = `momentum`), float64 rounded once.
StepScalars make_sgd_scalars(double lr, double momentum, double weight_decay);
// Host: the scalars of one Lion step.
StepScalars make_lion_scalars(double lr, double beta1, double beta2, double weight_decay);

// SGD: the gradient with coupled (L2) weight decay, g + wd·θ.
BLOCKSCOPE_HD inline float sgd_gradient(float g, float theta, const StepScalars& s) { return g + mul_rn(s.l2, theta); }

// Lion: sign(β1 m + (1−β1) g) from the old momentum, in {−1, 0, 1}.
BLOCKSCOPE_HD inline float lion_direction(float m, float g, const StepScalars& s) {
  const float c = first_moment(m, g, s);
  return c > 0.0f ? 1.0f : (c < 0.0f ? -1.0f : 0.0f);
}

// Lion: m ← β2 m + (1−β2) g.
BLOCKSCOPE_HD inline float lion_momentum(float m, float g, const StepScalars& s) {
  return mul_rn(s.beta2, m) + mul_rn(s.one_minus_beta2, g);
}

// θ·(1 − lr·wd) − lr·d for the direction d (SGD: its momentum, decay 1; Lion: the sign).
BLOCKSCOPE_HD inline float apply_direction(float p, float d, const StepScalars& s) {
  return mul_rn(p, s.decay) - mul_rn(s.step_size, d);
}

}  // namespace blockscope::optimizers::math
