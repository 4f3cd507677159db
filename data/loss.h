// The training/analysis loss, chosen by the targets' dtype (docs/design.md):
// integer targets → cross-entropy (outputs [N, C] with targets [N], or
// per position: outputs [N, T, C] with targets [N, T]); float targets →
// mean squared error against outputs of the same shape. Reduction: mean.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace blockscope::data {

// Throws a one-line error when outputs and targets do not match.
at::Tensor mean_loss(const at::Tensor& outputs, const at::Tensor& targets);

// "cross_entropy" or "mse", recorded in result files.
std::string loss_name(const at::Tensor& targets);

}  // namespace blockscope::data
