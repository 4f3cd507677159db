// Glue between a LibTorch C++ module of the zoo and the Model interface.
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <string>

#include "models/model.h"

namespace blockscope::models {

// A zoo network: a torch::nn::Module with a tensor-to-tensor forward.
struct ZooModule : torch::nn::Module {
  virtual at::Tensor forward(const at::Tensor& inputs) = 0;
};

class ZooModel : public Model {
 public:
  ZooModel(std::shared_ptr<ZooModule> module, std::string description, InputSpec spec,
           std::vector<AttentionLayout> attention = {});
  at::Tensor forward(const at::Tensor& inputs) override;
  void set_training(bool training) override;

 private:
  std::vector<at::Tensor> all_state_tensors() const override;
  std::vector<std::pair<std::string, at::Tensor>> named_buffers() const override;
  std::vector<std::pair<std::string, at::Tensor>> named_parameters_now() const override;
  std::shared_ptr<ZooModule> module_;
};

}  // namespace blockscope::models
