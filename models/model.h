// The model abstraction every analysis and training path uses: a zoo model
// (LibTorch C++ module) or a user's TorchScript file behind one interface.
//
// Contract: forward(x) maps a batch of inputs (first axis = examples) to
// outputs — logits [N, classes], per-position logits [N, T, vocab], or
// regression outputs. parameters() lists each trainable tensor ONCE, in
// registration order, under its first qualified name; a tensor registered
// under several names (weight tying) keeps the others as aliases, so HVPs,
// partitions and optimizer steps never count it twice (docs/algorithms.md §1).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/input_spec.h"

namespace blockscope::models {

struct NamedParameter {
  std::string name;                  // qualified name, e.g. "layers.0.attn.q_proj.weight"
  at::Tensor tensor;                 // the live parameter (requires_grad)
  std::vector<std::string> aliases;  // other names of the same storage (tied weights)
};

using data::InputSpec;

// Attention layout of a transformer, for Adam-mini's per-head rules.
struct AttentionLayout {
  std::int64_t n_head = 0;
  std::int64_t n_kv_head = 0;
  std::int64_t head_dim = 0;
};

class Model {
 public:
  virtual ~Model() = default;

  virtual at::Tensor forward(const at::Tensor& inputs) = 0;
  // Training mode switches dropout/BatchNorm behaviour; analyses use eval.
  virtual void set_training(bool training) = 0;
  // Converts the floating-point parameters and buffers to `dtype`
  // (float32/float64) in place; integer and bool buffers (batch counters,
  // causal masks) keep their dtype.
  void to(at::ScalarType dtype);

  const std::vector<NamedParameter>& parameters() const { return parameters_; }
  // (name, tensor) of the module's buffers in registration order: state that
  // is not trained by gradients but changes in training mode (BatchNorm
  // running statistics and batch counters), which a checkpoint must carry.
  virtual std::vector<std::pair<std::string, at::Tensor>> named_buffers() const = 0;
  std::int64_t num_parameters() const;
  const std::string& description() const { return description_; }
  const InputSpec& input_spec() const { return input_spec_; }
  // Present for transformer models (zoo gpt/vit); empty otherwise.
  const std::vector<AttentionLayout>& attention() const { return attention_; }

 protected:
  // Every parameter (trainable or frozen) and buffer of the module.
  virtual std::vector<at::Tensor> all_state_tensors() const = 0;
  // (name, tensor) pairs of the trainable parameters, in registration order.
  virtual std::vector<std::pair<std::string, at::Tensor>> named_parameters_now() const = 0;
  // Re-reads named_parameters_now(), de-duplicating tensors that share
  // storage; subclasses call it at the end of their constructor.
  void refresh_parameters();

  std::string description_;
  InputSpec input_spec_;
  std::vector<AttentionLayout> attention_;

 private:
  std::vector<NamedParameter> parameters_;
};

// Loads a model from a zoo spec ("gpt", "gpt:n_layer=4,d_model=128") or a
// TorchScript file ("path/model.pt"). Parameters are initialised from `seed`
// for zoo models, then replaced by those of `params_file` when given (a
// blockscope.params/1 file or a checkpoint; parameter_file.h). Throws
// std::runtime_error with a one-line message on an unknown name or option,
// or a missing/corrupt/mismatched file.
std::unique_ptr<Model> load_model(const std::string& spec, std::uint64_t seed = 0, const std::string& params_file = {});

}  // namespace blockscope::models
