#include "experiments/models/torchscript_model.h"

#include <fmt/format.h>

namespace blockscope::models {

TorchScriptModel::TorchScriptModel(const std::filesystem::path& path) : path_(path) {
  if (std::filesystem::is_directory(path)) {
    throw std::runtime_error(fmt::format("{} is a directory, not a TorchScript file (give the path of a .pt file)",
                                         path.string()));
  }
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error(fmt::format(
        "model file not found: {} (give a zoo name — see `blockscope models` — or a TorchScript .pt)",
        path.string()));
  }
  try {
    module_ = torch::jit::load(path.string());
  } catch (const std::exception&) {
    throw std::runtime_error(fmt::format(
        "{} is not a readable TorchScript file (corrupt, or not saved with "
        "torch.jit.save(torch.jit.script(model), path))",
        path.string()));
  }
  if (!module_.find_method("forward")) {
    throw std::runtime_error(
        fmt::format("{} has no forward method: export a module whose forward(x) returns outputs",
                    path.string()));
  }
  module_.eval();
  description_ = fmt::format("torchscript({})", path.string());
  refresh_parameters();
  if (parameters().empty()) {
    throw std::runtime_error(fmt::format(
        "{} has no trainable parameters (were they frozen, or saved with torch.jit.freeze?)",
        path.string()));
  }
}

at::Tensor TorchScriptModel::forward(const at::Tensor& inputs) {
  c10::IValue out = module_.forward({inputs});
  if (!out.isTensor()) {
    throw std::runtime_error(fmt::format(
        "forward() of {} returned {} instead of one tensor (return the logits/outputs only)",
        path_.string(), out.tagKind()));
  }
  return out.toTensor();
}

void TorchScriptModel::set_training(bool training) { module_.train(training); }

std::vector<at::Tensor> TorchScriptModel::all_state_tensors() const {
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : module_.parameters(/*recurse=*/true)) out.push_back(p);
  for (const at::Tensor& b : module_.buffers(/*recurse=*/true)) out.push_back(b);
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> TorchScriptModel::named_parameters_now() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : module_.named_parameters(/*recurse=*/true)) {
    if (p.value.requires_grad()) out.emplace_back(p.name, p.value);
  }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> TorchScriptModel::named_buffers() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& b : module_.named_buffers(/*recurse=*/true)) out.emplace_back(b.name, b.value);
  return out;
}

}  // namespace blockscope::models
