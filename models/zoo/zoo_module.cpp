#include "models/zoo/zoo_module.h"

namespace blockscope::models {

ZooModel::ZooModel(std::shared_ptr<ZooModule> module, std::string description, InputSpec spec,
                   std::vector<AttentionLayout> attention)
    : module_(std::move(module)) {
  description_ = std::move(description);
  input_spec_ = std::move(spec);
  attention_ = std::move(attention);
  module_->eval();
  refresh_parameters();
}

at::Tensor ZooModel::forward(const at::Tensor& inputs) { return module_->forward(inputs); }

void ZooModel::set_training(bool training) { module_->train(training); }

std::vector<at::Tensor> ZooModel::all_state_tensors() const {
  std::vector<at::Tensor> out = module_->parameters(/*recurse=*/true);
  for (const at::Tensor& b : module_->buffers(/*recurse=*/true)) out.push_back(b);
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> ZooModel::named_parameters_now() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : module_->named_parameters(/*recurse=*/true)) {
    if (item.value().requires_grad()) out.emplace_back(item.key(), item.value());
  }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> ZooModel::named_buffers() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : module_->named_buffers(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

}  // namespace blockscope::models
