// Host side of adam_update.h: the per-step scalars.
#include "optimizers/math/adam_update.h"

#include <stdexcept>
#include <string>

namespace blockscope::optimizers::math {

StepScalars make_step_scalars(double lr, double beta1, double beta2, double eps, double weight_decay,
                              std::int64_t step) {
  if (step < 1) {
    throw std::invalid_argument("make_step_scalars: step counts from 1 (the step being taken), got " +
                                std::to_string(step));
  }
  const double t = static_cast<double>(step);
  StepScalars s;
  s.beta1 = static_cast<float>(beta1);
  s.beta2 = static_cast<float>(beta2);
  s.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  s.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  s.eps = static_cast<float>(eps);
  s.decay = static_cast<float>(1.0 - lr * weight_decay);
  s.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, t)));
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t)));
  return s;
}

}  // namespace blockscope::optimizers::math
