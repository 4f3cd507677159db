// Host side of momentum_update.h: the per-step scalars of SGD and Lion.
#include "optimizers/math/momentum_update.h"

namespace blockscope::optimizers::math {

StepScalars make_sgd_scalars(double lr, double momentum, double weight_decay) {
  StepScalars s{};
  s.beta1 = static_cast<float>(momentum);
  s.one_minus_beta1 = 1.0f;  // dampening 0
  s.beta2 = 0.0f;
  s.one_minus_beta2 = 1.0f;
  s.eps = 0.0f;
  s.decay = 1.0f;  // weight decay is coupled: l2
  s.step_size = static_cast<float>(lr);
  s.bias_correction2_sqrt = 1.0f;
  s.l2 = static_cast<float>(weight_decay);
  return s;
}

StepScalars make_lion_scalars(double lr, double beta1, double beta2, double weight_decay) {
  StepScalars s{};
  s.beta1 = static_cast<float>(beta1);
  s.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  s.beta2 = static_cast<float>(beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  s.eps = 0.0f;
  s.decay = static_cast<float>(1.0 - lr * weight_decay);
  s.step_size = static_cast<float>(lr);
  s.bias_correction2_sqrt = 1.0f;
  return s;
}

}  // namespace blockscope::optimizers::math
