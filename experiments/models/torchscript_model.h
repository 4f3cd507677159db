// A user's model saved with torch.jit.save(torch.jit.script(m) or
// torch.jit.trace(m, x)). forward(x) must return one tensor of outputs.
// Parameters are those of module.named_parameters(), de-duplicated by
// storage (a tied embedding/head is one parameter with an alias).
#pragma once

#include <torch/script.h>

#include <filesystem>

#include "experiments/models/model.h"

namespace blockscope::models {

class TorchScriptModel : public Model {
 public:
  // Throws a one-line std::runtime_error for a missing file, a file that is
  // not a TorchScript archive, or a module without trainable parameters.
  explicit TorchScriptModel(const std::filesystem::path& path);
  at::Tensor forward(const at::Tensor& inputs) override;
  void set_training(bool training) override;

 private:
  std::vector<at::Tensor> all_state_tensors() const override;
  std::vector<std::pair<std::string, at::Tensor>> named_buffers() const override;
  std::vector<std::pair<std::string, at::Tensor>> named_parameters_now() const override;
  torch::jit::Module module_;
  std::filesystem::path path_;
};

}  // namespace blockscope::models
