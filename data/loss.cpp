#include "data/loss.h"

#include <fmt/format.h>

namespace blockscope::data {
namespace {
std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}
}  // namespace

std::string loss_name(const at::Tensor& targets) {
  return at::isFloatingType(targets.scalar_type()) ? "mse" : "cross_entropy";
}

at::Tensor mean_loss(const at::Tensor& outputs, const at::Tensor& targets) {
  if (at::isFloatingType(targets.scalar_type())) {
    if (outputs.sizes() != targets.sizes()) {
      throw std::runtime_error(
          fmt::format("float targets {} do not match the model outputs {} (MSE needs equal shapes)", shape_of(targets),
                      shape_of(outputs)));
    }
    return at::mse_loss(outputs, targets.to(outputs.scalar_type()));
  }
  if (outputs.dim() != targets.dim() + 1 || outputs.sizes().slice(0, targets.dim()) != targets.sizes()) {
    throw std::runtime_error(
        fmt::format("integer targets {} do not match the model outputs {} (cross-entropy needs outputs "
                    "[..., classes] over targets [...])",
                    shape_of(targets), shape_of(outputs)));
  }
  const std::int64_t classes = outputs.size(-1);
  return at::cross_entropy_loss(outputs.reshape({-1, classes}), targets.reshape({-1}));
}

}  // namespace blockscope::data
