// Helpers shared by the optimizer tests: seeded parameters, a deterministic
// synthetic gradient, and partitions over them.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "optimizers/block_optimizer.h"
#include "partition/strategies.h"

namespace blockscope::optimizers::testing {

struct ParamSpec {
  std::string name;
  std::vector<std::int64_t> shape;
};

// The default test model: a linear layer, its bias, a norm weight, a
// 37-element vector (not a multiple of 32) and a row-structured matrix.
inline std::vector<ParamSpec> default_specs() {
  return {{"fc.weight", {16, 24}}, {"fc.bias", {16}}, {"ln_f.weight", {24}}, {"odd", {37}}, {"head.weight", {8, 64}}};
}

inline std::vector<NamedTensor> make_params(const std::vector<ParamSpec>& specs, std::uint64_t seed) {
  at::manual_seed(seed);
  std::vector<NamedTensor> out;
  for (const ParamSpec& s : specs) out.push_back({s.name, at::randn(s.shape).set_requires_grad(true)});
  return out;
}

inline std::vector<partition::TensorInfo> infos(const std::vector<NamedTensor>& params) {
  std::vector<partition::TensorInfo> out;
  for (const auto& p : params) out.push_back({p.name, p.tensor.sizes().vec()});
  return out;
}

// g = 0.1·sin(3p + 0.7·step + i) · (1 + row index), deterministic, with rows
// of different scale so shared-v and codebook blocks see structure.
inline void set_gradients(const std::vector<NamedTensor>& params, int step) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::Tensor p = params[i].tensor.detach();
    at::Tensor g = 0.1 * at::sin(3.0 * p + 0.7 * step + static_cast<double>(i));
    if (p.dim() == 2) g = g * (1.0 + at::arange(p.size(0), at::kFloat)).unsqueeze(1);
    params[i].tensor.mutable_grad() = g.contiguous();
  }
}

inline std::vector<at::Tensor> clone_values(const std::vector<NamedTensor>& params) {
  std::vector<at::Tensor> out;
  for (const auto& p : params) out.push_back(p.tensor.detach().clone());
  return out;
}

inline bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  return a.defined() == b.defined() && (!a.defined() || (a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
                                                         at::equal(a.view(at::kByte), b.view(at::kByte))));
}

}  // namespace blockscope::optimizers::testing
