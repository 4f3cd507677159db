// The torch::optim::Optimizer front end of the partition-driven kernel family
// (spec.h, state_layout.h, cpu/step.h): AdamW, Adam-mini, Gefen, FlashOptim-
// style AdamW, SGD with momentum, Lion, their FlashOptim variants and any
// other OptimizerSpec, over a model's named fp32 parameters and a Partition
// of them. Options: betas = (β1, β2) of adam and lion; sgd's momentum is β1
// (β2 unused); eps is adam's only.
//
// Boundary checks (docs/style.md 6), once, at construction: every parameter fp32,
// contiguous, on one device, named uniquely; the partition holds exactly these
// names and shapes. Per step: gradients (any float dtype, converted to fp32)
// are checked for finiteness per tensor; policy `error` throws naming the
// tensor before any state changes, policy `skip` leaves that tensor's
// parameter and state untouched (its step count does not advance, its ranges
// do not feed shared v) and counts it — the kernels read the check's flags
// on the device, so the step is queued without the host waiting for them
// (skipped_tensor_steps and state_tensors wait when read). A parameter without
// a gradient is left alone and not counted. Step counts are per tensor (bias
// correction).
// Gefen's codebook is learned at the first step with a finite gradient, from
// that step's gradients, and never again (a checkpoint restores it).
// bf16+intN weights: at construction each parameter is replaced by bf16(θ)
// and the optimizer keeps ρ; the model then computes with bf16 weights.
// Weight decay (rule sgd: coupled, g + wd·θ, as torch.optim.SGD; otherwise
// decoupled): p·(1 − lr·wd) before the update, skipped for names matching
// spec.decay_exclude (adamw/flash-adamw exclude nothing, as torch.optim.AdamW
// on a full parameter list; adam-mini/gefen exclude norm, ln, bias).
// Device: routed by optimizers/kernels.h (CPU kernels, and CUDA kernels in a
// CUDA build; state lives on the parameters' device). Not here: amsgrad, maximize, foreach/capturable flags, sparse
// gradients.
#pragma once

#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "optimizers/kernels.h"
#include "optimizers/spec.h"
#include "optimizers/state_components.h"
#include "optimizers/state_layout.h"
#include "partition/partition.h"

namespace blockscope::optimizers {

struct BlockOptimizerOptions : public torch::optim::OptimizerCloneableOptions<BlockOptimizerOptions> {
  BlockOptimizerOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  using betas_t = std::tuple<double, double>;
  TORCH_ARG(betas_t, betas) = std::make_tuple(0.9, 0.999);
  TORCH_ARG(double, eps) = 1e-8;
  TORCH_ARG(double, weight_decay) = 0.0;

 public:
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

enum class NonFinitePolicy { skip, error };
// "skip" / "error"; parse throws listing both.
NonFinitePolicy parse_non_finite_policy(const std::string& name);
const char* policy_name(NonFinitePolicy policy);

struct NamedTensor {
  std::string name;
  at::Tensor tensor;
};

// A parameter group; options empty = the optimizer's defaults.
struct NamedParamGroup {
  std::vector<NamedTensor> params;
  std::optional<BlockOptimizerOptions> options;
};

// One tensor's state tensors, one per component of state_components.h
// (dtypes: fp32 → kFloat, uint8 → kByte, int8 → kChar, bf16/fp16 bit patterns
// and int16 → kShort), 1-D; undefined when the spec has no such component.
struct TensorStateTensors {
  at::Tensor m, m_scale, v, v_scale, rho;
  std::int64_t step = 0;
  // The tensor of one slot of the component table (state_components.h).
  at::Tensor& slot(StateSlot s) {
    switch (s) {
      case StateSlot::m:
        return m;
      case StateSlot::m_scale:
        return m_scale;
      case StateSlot::v:
        return v;
      case StateSlot::v_scale:
        return v_scale;
      case StateSlot::rho:
        break;
    }
    return rho;
  }
  const at::Tensor& slot(StateSlot s) const { return const_cast<TensorStateTensors&>(*this).slot(s); }
};

struct OptimizerState {
  std::vector<TensorStateTensors> tensors;  // layout().tensors order
  at::Tensor shared_v;                      // fp32 [num_blocks] (shared v), else undefined
  std::vector<float> codebook;              // [256] once learned, else empty
  std::int64_t skipped = 0;                 // tensor-steps skipped for non-finite gradients
};

class BlockOptimizer : public torch::optim::Optimizer {
 public:
  BlockOptimizer(std::vector<NamedParamGroup> groups, partition::Partition partition, OptimizerSpec spec,
                 BlockOptimizerOptions defaults = {}, NonFinitePolicy policy = NonFinitePolicy::skip);
  BlockOptimizer(std::vector<NamedTensor> params, partition::Partition partition, OptimizerSpec spec,
                 BlockOptimizerOptions defaults = {}, NonFinitePolicy policy = NonFinitePolicy::skip);

  // Evaluates the closure (with grad enabled) if given, then steps every
  // parameter that has a gradient. Returns the closure's loss or undefined.
  at::Tensor step(LossClosure closure = nullptr) override;

  // Shadow mode: the parameters (clones, layout().tensors order) that step()
  // would produce from the current state and gradients; nothing is committed
  // (a codebook not learned yet is learned into a scratch copy). Tensors that
  // step() would skip or leave alone come back unchanged.
  std::vector<at::Tensor> preview_step();

  const StateLayout& layout() const { return layout_; }
  const partition::Partition& partition() const { return partition_; }
  const OptimizerSpec& spec() const { return layout_.spec; }
  NonFinitePolicy policy() const { return policy_; }
  StateBytes state_bytes() const { return layout_.bytes(); }
  std::int64_t skipped_tensor_steps() const {
    settle();
    return state_.skipped;
  }
  // The parameters in layout().tensors order.
  const std::vector<NamedTensor>& named_parameters() const { return named_; }
  // Options of the group holding layout().tensors[i].
  const BlockOptimizerOptions& tensor_options(std::size_t i) const;

  const OptimizerState& state_tensors() const {
    settle();
    return state_;
  }
  // Replaces the whole state (checkpoint restore). Throws, changing nothing,
  // unless every tensor matches the current one in dtype and size and the
  // codebook is empty or of 256 entries (codebook spec only, and present once
  // any tensor has stepped: a codebook is never re-learned against old codes).
  void restore_state(OptimizerState state);

 private:
  struct Plan;
  Plan plan(bool commit);
  void run(Plan& plan);
  // Applies the last step's finiteness flags once the host has them: each
  // tensor the step skipped gets its step count back and counts as skipped.
  void settle() const;

  // The last committed step's check when it ran with skip_if (policy skip).
  struct PendingCheck {
    FiniteCheck check;
    std::vector<std::size_t> tensors;  // in the order of the check's flags
  };

  partition::Partition partition_;
  StateLayout layout_;
  NonFinitePolicy policy_;
  std::vector<NamedTensor> named_;
  std::vector<std::size_t> group_of_;  // tensor → param group
  // Logically const accessors settle() the pending check first, so these two
  // are mutable.
  mutable OptimizerState state_;
  mutable std::optional<PendingCheck> pending_;
  at::Tensor codebook_on_device_;  // state_.codebook on the parameters' device, once used
};

}  // namespace blockscope::optimizers
