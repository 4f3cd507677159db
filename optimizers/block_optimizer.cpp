// The torch front end of the kernel family; contract in block_optimizer.h.
#include "optimizers/block_optimizer.h"

#ifdef BLOCKSCOPE_TORCH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

#include <c10/core/GradMode.h>
#include <fmt/format.h>

#include <set>
#include <stdexcept>

#include "optimizers/kernels.h"
#include "optimizers/math/codebook.h"
#include "optimizers/math/momentum_update.h"
#include "optimizers/state_components.h"

namespace blockscope::optimizers {
namespace {

KernelDevice kernel_device(const at::Tensor& t) { return t.is_cuda() ? KernelDevice::cuda : KernelDevice::cpu; }

// The tensor's CUDA device and torch's current stream on it, where the
// kernels must queue their work (a user's stream, or cuda:1, included).
CudaPlacement placement(const at::Tensor& t) {
  CudaPlacement p;
  if (!t.is_cuda()) return p;
  p.device = t.get_device();
#ifdef BLOCKSCOPE_TORCH_CUDA
  p.stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(p.device)).stream();
#endif
  return p;
}

at::Tensor zeros(std::int64_t n, at::ScalarType dtype, const at::Device& device) {
  return at::zeros({n}, at::TensorOptions().dtype(dtype).device(device));
}

at::ScalarType torch_dtype(StateDtype dtype) {
  switch (dtype) {
    case StateDtype::fp32:
      return at::kFloat;
    case StateDtype::uint8:
      return at::kByte;
    case StateDtype::int8:
      return at::kChar;
    case StateDtype::bits16:
    case StateDtype::int16:
      return at::kShort;
  }
  throw std::logic_error("unknown state dtype");
}

// Zero state for one tensor (zero codes and scales dequantise to zero).
TensorStateTensors allocate(const TensorLayout& t, const OptimizerSpec& spec, const at::Device& device) {
  TensorStateTensors s;
  for (const StateComponent& c : tensor_components(spec, t))
    s.slot(c.slot) = zeros(c.elements, torch_dtype(c.dtype), device);
  return s;
}

TensorState view(const TensorStateTensors& s, const TensorLayout& t, const OptimizerSpec& spec) {
  TensorState v;
  for (const StateComponent& c : tensor_components(spec, t)) c.bind(v, s.slot(c.slot).data_ptr());
  return v;
}

TensorStateTensors clone(const TensorStateTensors& s) {
  TensorStateTensors c;
  for (int k = 0; k < kStateSlots; ++k) {
    const at::Tensor& x = s.slot(static_cast<StateSlot>(k));
    c.slot(static_cast<StateSlot>(k)) = x.defined() ? x.clone() : x;
  }
  c.step = s.step;
  return c;
}

void check_same(const at::Tensor& current, const at::Tensor& incoming, const std::string& what) {
  if (current.defined() != incoming.defined() ||
      (current.defined() && (current.scalar_type() != incoming.scalar_type() || current.sizes() != incoming.sizes()))) {
    throw std::runtime_error(fmt::format("optimizer state '{}' does not match this optimizer's layout", what));
  }
}

std::vector<torch::optim::OptimizerParamGroup> torch_groups(const std::vector<NamedParamGroup>& groups) {
  std::vector<torch::optim::OptimizerParamGroup> out;
  for (const NamedParamGroup& g : groups) {
    std::vector<at::Tensor> params;
    for (const NamedTensor& p : g.params) params.push_back(p.tensor);
    if (g.options) {
      out.emplace_back(std::move(params), std::make_unique<BlockOptimizerOptions>(*g.options));
    } else {
      out.emplace_back(std::move(params));
    }
  }
  return out;
}

// One tensor's scalars for its step t under `rule` (wd: 0 for tensors that
// do not decay). sgd reads β1 as its momentum; sgd and lion ignore eps.
math::StepScalars step_scalars(UpdateRule rule, const BlockOptimizerOptions& o, double wd, std::int64_t t) {
  const auto [beta1, beta2] = o.betas();
  switch (rule) {
    case UpdateRule::sgd:
      return math::make_sgd_scalars(o.lr(), beta1, wd);
    case UpdateRule::lion:
      return math::make_lion_scalars(o.lr(), beta1, beta2, wd);
    case UpdateRule::adam:
      break;
  }
  return math::make_step_scalars(o.lr(), beta1, beta2, o.eps(), wd, t);
}

}  // namespace

NonFinitePolicy parse_non_finite_policy(const std::string& name) {
  if (name == "skip") return NonFinitePolicy::skip;
  if (name == "error") return NonFinitePolicy::error;
  throw std::invalid_argument(fmt::format("unknown non-finite gradient policy '{}' (valid: skip, error)", name));
}

const char* policy_name(NonFinitePolicy policy) { return policy == NonFinitePolicy::skip ? "skip" : "error"; }

BlockOptimizer::BlockOptimizer(std::vector<NamedTensor> params, partition::Partition partition, OptimizerSpec spec,
                               BlockOptimizerOptions defaults, NonFinitePolicy policy)
    : BlockOptimizer(std::vector<NamedParamGroup>{{std::move(params), std::nullopt}}, std::move(partition),
                     std::move(spec), std::move(defaults), policy) {}

BlockOptimizer::BlockOptimizer(std::vector<NamedParamGroup> groups, partition::Partition partition, OptimizerSpec spec,
                               BlockOptimizerOptions defaults, NonFinitePolicy policy)
    : torch::optim::Optimizer(torch_groups(groups), std::make_unique<BlockOptimizerOptions>(defaults)),
      partition_(std::move(partition)),
      policy_(policy) {
  // Each group's own options, set again: LibTorch 2.10+ add_param_group keeps
  // only its built-in option types and gives any other group the defaults.
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].options) param_groups_[g].set_options(std::make_unique<BlockOptimizerOptions>(*groups[g].options));
  }
  std::vector<partition::TensorInfo> infos;
  std::set<std::string> names;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (NamedTensor& p : groups[g].params) {
      const at::Tensor& t = p.tensor;
      if (!names.insert(p.name).second) {
        throw std::invalid_argument(fmt::format("optimizer: parameter name '{}' appears twice", p.name));
      }
      if (!t.defined() || t.scalar_type() != at::kFloat || !t.is_contiguous()) {
        throw std::invalid_argument(fmt::format(
            "optimizer: parameter '{}' must be a contiguous float32 tensor (convert the model with to(float32))",
            p.name));
      }
      if (!named_.empty() && t.device() != named_.front().tensor.device()) {
        throw std::invalid_argument(
            fmt::format("optimizer: parameter '{}' is on {}, the others on {}: move the model "
                        "to one device",
                        p.name, t.device().str(), named_.front().tensor.device().str()));
      }
      infos.push_back({p.name, t.sizes().vec()});
      named_.push_back(std::move(p));
      group_of_.push_back(g);
    }
  }
  for (const auto& group : param_groups_) {
    const auto& o = static_cast<const BlockOptimizerOptions&>(group.options());
    const auto [beta1, beta2] = o.betas();
    if (!(o.lr() >= 0.0) || !(o.eps() >= 0.0) || !(o.weight_decay() >= 0.0) || !(beta1 >= 0.0 && beta1 < 1.0) ||
        !(beta2 >= 0.0 && beta2 < 1.0)) {
      throw std::invalid_argument(
          fmt::format("optimizer: need lr, eps, weight_decay >= 0 and betas in [0, 1), got lr {} betas ({}, {}) eps {} "
                      "weight_decay {}",
                      o.lr(), beta1, beta2, o.eps(), o.weight_decay()));
    }
  }
  if (!named_.empty()) require_kernels(kernel_device(named_.front().tensor));
  layout_ = StateLayout::make(spec, partition_, infos);
  const at::Device device = named_.empty() ? at::Device(at::kCPU) : named_.front().tensor.device();
  for (std::size_t i = 0; i < named_.size(); ++i) {
    state_.tensors.push_back(allocate(layout_.tensors[i], layout_.spec, device));
    if (layout_.spec.w != WeightStorage::fp32 && layout_.tensors[i].numel > 0) {
      at::NoGradGuard no_grad;
      const TensorState v = view(state_.tensors[i], layout_.tensors[i], layout_.spec);
      split_weights(kernel_device(named_[i].tensor), layout_.spec.w, named_[i].tensor.data_ptr<float>(),
                    layout_.tensors[i].numel, v.rho8, v.rho16, placement(named_[i].tensor));
    }
  }
  if (layout_.spec.v == SecondMoment::shared) state_.shared_v = zeros(layout_.num_blocks, at::kFloat, device);
}

const BlockOptimizerOptions& BlockOptimizer::tensor_options(std::size_t i) const {
  return static_cast<const BlockOptimizerOptions&>(param_groups_[group_of_[i]].options());
}

struct BlockOptimizer::Plan {
  bool commit = true;
  std::vector<TensorStep> steps;
  std::vector<at::Tensor> grads;        // fp32 contiguous views or copies, kept alive
  std::vector<at::Tensor> params_out;   // preview only
  std::vector<TensorStateTensors> out;  // preview only
  at::Tensor shared_v_out;              // preview only
  std::vector<float> codebook;
  at::Tensor codebook_on_device;     // a codebook not committed yet, on the parameters' device
  std::vector<std::size_t> checked;  // tensors with a gradient, in the order of `flags`
  at::Tensor flags;                  // uint8 [checked] on the parameters' device: 1 = non-finite gradient
  FiniteCheck check;                 // the host's view of `flags`
  bool deferred = false;             // the step reads `flags` itself (skip_if); step() keeps `check`
  std::int64_t skipped = 0;
  GlobalState global;
};

BlockOptimizer::Plan BlockOptimizer::plan(bool commit) {
  settle();  // step counts exact before this step's scalars
  Plan p;
  p.commit = commit;
  const std::size_t n = named_.size();
  p.steps.resize(n);
  p.grads.resize(n);
  if (!commit) {
    p.params_out.resize(n);
    p.out.resize(n);
  }
  std::vector<const float*> checked_values;  // p.checked's gradients, checked for finiteness in one call
  std::vector<std::int64_t> checked_sizes;
  for (std::size_t i = 0; i < n; ++i) {
    const at::Tensor& param = named_[i].tensor;
    const at::Tensor& grad = param.grad();
    TensorStep& s = p.steps[i];
    s.active = grad.defined() && layout_.tensors[i].numel > 0;
    if (!commit) p.params_out[i] = param.detach().clone();
    if (!s.active) continue;
    if (grad.sizes() != param.sizes() || grad.is_sparse()) {
      throw std::runtime_error(fmt::format("optimizer: the gradient of '{}' is sparse or shaped {} instead of {}",
                                           named_[i].name, partition::shape_string(grad.sizes().vec()),
                                           partition::shape_string(param.sizes().vec())));
    }
    p.grads[i] = grad.detach().to(at::kFloat).contiguous();
    p.checked.push_back(i);
    checked_values.push_back(p.grads[i].data_ptr<float>());
    checked_sizes.push_back(layout_.tensors[i].numel);
  }
  // The flags stay on the device: under policy skip the step is queued
  // with skip_if pointing at them and the host learns them later (settle()).
  // Policy error, and the step that learns Gefen's codebook from the finite
  // gradients, need them now.
  if (!p.checked.empty()) {
    const at::Tensor& first = named_.front().tensor;
    p.flags = at::empty({static_cast<std::int64_t>(p.checked.size())},
                        at::TensorOptions().dtype(at::kByte).device(first.device()));
    p.check = check_finite(kernel_device(first), checked_values, checked_sizes, p.flags.data_ptr<std::uint8_t>(),
                           placement(first));
  }
  const bool learns_codebook = layout_.spec.m == FirstMoment::codebook && state_.codebook.empty();
  p.deferred = !p.checked.empty() && policy_ == NonFinitePolicy::skip && !learns_codebook;
  if (p.deferred) {
    for (std::size_t k = 0; k < p.checked.size(); ++k)
      p.steps[p.checked[k]].skip_if = p.flags.data_ptr<std::uint8_t>() + k;
  }
  const std::vector<bool> finite = p.deferred || p.checked.empty() ? std::vector<bool>{} : p.check.finite();
  for (std::size_t k = 0; k < finite.size(); ++k) {
    if (finite[k]) continue;
    const std::size_t i = p.checked[k];
    if (policy_ == NonFinitePolicy::error) {
      throw std::runtime_error(fmt::format(
          "non-finite gradient in parameter '{}' at its step {} (policy error; use skip to leave such tensors "
          "untouched)",
          named_[i].name, state_.tensors[i].step + 1));
    }
    p.steps[i].active = false;
    ++p.skipped;
  }
  if (layout_.spec.m == FirstMoment::codebook) {
    p.codebook = state_.codebook;
    bool any_active = false;
    for (const TensorStep& s : p.steps) any_active = any_active || s.active;
    if (p.codebook.empty() && any_active) {
      std::vector<const float*> grads(n, nullptr);
      for (std::size_t i = 0; i < n; ++i) {
        if (p.steps[i].active) grads[i] = p.grads[i].data_ptr<float>();
      }
      p.codebook =
          learn_codebook(kernel_device(named_.front().tensor), layout_, grads, placement(named_.front().tensor));
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    TensorStep& s = p.steps[i];
    if (!s.active) continue;
    const BlockOptimizerOptions& o = tensor_options(i);
    s.scalars = step_scalars(layout_.spec.rule, o, layout_.tensors[i].decays ? o.weight_decay() : 0.0,
                             state_.tensors[i].step + 1);
    s.grad = p.grads[i].data_ptr<float>();
    s.param_in = named_[i].tensor.data_ptr<float>();
    s.in = view(state_.tensors[i], layout_.tensors[i], layout_.spec);
    if (commit) {
      s.param_out = named_[i].tensor.data_ptr<float>();
      s.out = s.in;
    } else {
      s.param_out = p.params_out[i].data_ptr<float>();
      p.out[i] = clone(state_.tensors[i]);
      s.out = view(p.out[i], layout_.tensors[i], layout_.spec);
    }
  }
  if (state_.shared_v.defined()) {
    p.global.v_in = state_.shared_v.data_ptr<float>();
    if (commit) {
      p.global.v_out = state_.shared_v.data_ptr<float>();
    } else {
      p.shared_v_out = state_.shared_v.clone();
      p.global.v_out = p.shared_v_out.data_ptr<float>();
    }
  }
  return p;
}

void BlockOptimizer::run(Plan& p) {
  if (named_.empty()) return;
  if (!p.codebook.empty()) {
    // The committed codebook stays on the device between steps; one learned
    // by this step (or a preview's scratch one) is uploaded once.
    const bool committed = p.codebook == state_.codebook;
    if (!committed || !codebook_on_device_.defined()) {
      at::Tensor upload = at::from_blob(p.codebook.data(), {static_cast<std::int64_t>(p.codebook.size())}, at::kFloat)
                              .to(named_.front().tensor.device(), at::kFloat, /*non_blocking=*/false, /*copy=*/true);
      (committed ? codebook_on_device_ : p.codebook_on_device) = upload;
    }
    p.global.codebook = (committed ? codebook_on_device_ : p.codebook_on_device).data_ptr<float>();
  }
  run_step(kernel_device(named_.front().tensor), layout_, p.steps, p.global, placement(named_.front().tensor));
}

at::Tensor BlockOptimizer::step(LossClosure closure) {
  at::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  at::NoGradGuard no_grad;
  Plan p = plan(true);
  run(p);
  for (std::size_t i = 0; i < named_.size(); ++i) {
    if (p.steps[i].active) ++state_.tensors[i].step;  // undone by settle() where skip_if proves set
  }
  state_.skipped += p.skipped;
  if (p.deferred) pending_ = PendingCheck{std::move(p.check), std::move(p.checked)};
  if (state_.codebook.empty() && !p.codebook.empty()) {
    state_.codebook = p.codebook;
    codebook_on_device_ = p.codebook_on_device;
  }
  return loss;
}

std::vector<at::Tensor> BlockOptimizer::preview_step() {
  at::NoGradGuard no_grad;
  Plan p = plan(false);
  run(p);
  return p.params_out;
}

void BlockOptimizer::settle() const {
  if (!pending_) return;
  const std::vector<bool>& finite = pending_->check.finite();
  for (std::size_t k = 0; k < finite.size(); ++k) {
    if (finite[k]) continue;
    --state_.tensors[pending_->tensors[k]].step;
    ++state_.skipped;
  }
  pending_.reset();
}

void BlockOptimizer::restore_state(OptimizerState incoming) {
  settle();
  if (incoming.tensors.size() != state_.tensors.size()) {
    throw std::runtime_error(fmt::format("optimizer state holds {} tensors, this optimizer {}", incoming.tensors.size(),
                                         state_.tensors.size()));
  }
  for (std::size_t i = 0; i < state_.tensors.size(); ++i) {
    const TensorStateTensors &a = state_.tensors[i], &b = incoming.tensors[i];
    const std::string& name = named_[i].name;
    for (int k = 0; k < kStateSlots; ++k) {
      const auto slot = static_cast<StateSlot>(k);
      check_same(a.slot(slot), b.slot(slot), name + " " + slot_name(slot));
    }
    if (b.step < 0) throw std::runtime_error(fmt::format("optimizer state: negative step count for '{}'", name));
  }
  check_same(state_.shared_v, incoming.shared_v, "shared_v");
  const bool codebook_ok =
      incoming.codebook.empty() || (layout_.spec.m == FirstMoment::codebook &&
                                    incoming.codebook.size() == static_cast<std::size_t>(math::kCodebookSize));
  if (!codebook_ok) throw std::runtime_error("optimizer state: the codebook does not match this optimizer's spec");
  bool stepped = false;
  for (const TensorStateTensors& t : incoming.tensors) stepped = stepped || t.step > 0;
  if (layout_.spec.m == FirstMoment::codebook && stepped && incoming.codebook.empty()) {
    throw std::runtime_error("optimizer state has codebook indices but no codebook (refusing to re-learn one)");
  }
  const at::Device device = named_.empty() ? at::Device(at::kCPU) : named_.front().tensor.device();
  for (TensorStateTensors& t : incoming.tensors) {
    for (int k = 0; k < kStateSlots; ++k) {
      at::Tensor& x = t.slot(static_cast<StateSlot>(k));
      if (x.defined()) x = x.to(device).contiguous();
    }
  }
  if (incoming.shared_v.defined()) incoming.shared_v = incoming.shared_v.to(device).contiguous();
  state_ = std::move(incoming);
  codebook_on_device_ = at::Tensor();
}

}  // namespace blockscope::optimizers
