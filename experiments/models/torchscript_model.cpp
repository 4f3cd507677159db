#include "experiments/models/torchscript_model.h"

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>

#include <algorithm>

#include "io/crash_guard.h"

namespace blockscope::models {
namespace {

std::runtime_error not_readable(const std::filesystem::path& path) {
  return std::runtime_error(fmt::format(
      "{} is not a readable TorchScript file (corrupt, or not saved with torch.jit.save(torch.jit.script(model), "
      "path))",
      path.string()));
}

// A TorchScript archive is a zip file; one with two members of the same
// name is malformed, and LibTorch would size a tensor's storage from one
// and fill it from the other (heap corruption). Throws for such an archive.
void check_archive(const std::filesystem::path& path) {
  std::vector<std::string> records;
  try {
    records = caffe2::serialize::PyTorchStreamReader(path.string()).getAllRecords();
  } catch (const std::exception&) {
    throw not_readable(path);
  }
  std::sort(records.begin(), records.end());
  const auto twice = std::adjacent_find(records.begin(), records.end());
  if (twice != records.end()) {
    throw std::runtime_error(fmt::format("{} is corrupt: the archive holds '{}' twice (save the model again with "
                                         "torch.jit.save)",
                                         path.string(), *twice));
  }
}

// Every parameter and buffer must lie inside its storage: a corrupt pickle
// can give a tensor a shape, stride or offset beyond the storage it names,
// and LibTorch would then read and write past the allocation.
void check_storage(const torch::jit::Module& module, const std::filesystem::path& path) {
  auto check = [&](const std::string& name, const at::Tensor& t) {
    if (!t.defined() || t.numel() == 0 || !t.has_storage()) return;
    std::int64_t last = t.storage_offset();
    for (std::int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
    const std::uint64_t needed = static_cast<std::uint64_t>(last + 1) * t.element_size();
    if (t.storage_offset() < 0 || needed > t.storage().nbytes()) {
      throw std::runtime_error(fmt::format("{} is corrupt: tensor '{}' needs {} bytes but its data holds {} (save the "
                                           "model again with torch.jit.save)",
                                           path.string(), name, needed, t.storage().nbytes()));
    }
  };
  for (const auto& p : module.named_parameters(/*recurse=*/true)) check(p.name, p.value);
  for (const auto& b : module.named_buffers(/*recurse=*/true)) check(b.name, b.value);
}

}  // namespace

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
  io::note_input_file(path.string());
  check_archive(path);
  try {
    module_ = torch::jit::load(path.string());
  } catch (const std::exception&) {
    throw not_readable(path);
  }
  if (!module_.find_method("forward")) {
    throw std::runtime_error(
        fmt::format("{} has no forward method: export a module whose forward(x) returns outputs",
                    path.string()));
  }
  check_storage(module_, path);
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
