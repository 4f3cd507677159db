// A user's model saved with torch.jit.save(torch.jit.script(m) or
// torch.jit.trace(m, x)). forward(x) must return one tensor of outputs.
// Parameters are those of module.named_parameters(), de-duplicated by
// storage (a tied embedding/head is one parameter with an alias).
#pragma once

#include <torch/script.h>

#include <filesystem>

#include "models/model.h"

namespace blockscope::models {

class TorchScriptModel : public Model {
 public:
  // Throws a one-line std::runtime_error for a missing file, a file that is
  // not a TorchScript archive, or a module without trainable parameters.
  explicit TorchScriptModel(const std::filesystem::path& path);
  // The same checks for an archive held in memory (torch.jit.save into a
  // buffer — how the Python package hands over an nn.Module); `description`
  // is recorded in result files and names the model in errors.
  TorchScriptModel(const std::string& archive, const std::string& description);
  at::Tensor forward(const at::Tensor& inputs) override;
  void set_training(bool training) override;

 private:
  std::vector<at::Tensor> all_state_tensors() const override;
  std::vector<std::pair<std::string, at::Tensor>> named_buffers() const override;
  std::vector<std::pair<std::string, at::Tensor>> named_parameters_now() const override;
  // Checks the loaded module_ and reads its parameters; `source` names it in errors.
  void finish_loading(const std::string& source);
  torch::jit::Module module_;
  std::string source_;
};

}  // namespace blockscope::models
