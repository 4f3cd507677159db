#include "models/torchscript_model.h"

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "io/crash_guard.h"

namespace blockscope::models {
namespace {

std::runtime_error not_readable(const std::string& source) {
  return std::runtime_error(fmt::format(
      "{} is not a readable TorchScript file (corrupt, or not saved with torch.jit.save(torch.jit.script(model), "
      "path))",
      source));
}

// A TorchScript archive is a zip file; one with two members of the same
// name is malformed, and LibTorch would size a tensor's storage from one
// and fill it from the other (heap corruption). Throws for such an archive.
void check_archive(caffe2::serialize::PyTorchStreamReader&& reader, const std::string& source) {
  std::vector<std::string> records;
  try {
    records = reader.getAllRecords();
  } catch (const std::exception&) {
    throw not_readable(source);
  }
  std::sort(records.begin(), records.end());
  const auto twice = std::adjacent_find(records.begin(), records.end());
  if (twice != records.end()) {
    throw std::runtime_error(
        fmt::format("{} is corrupt: the archive holds '{}' twice (save the model again with "
                    "torch.jit.save)",
                    source, *twice));
  }
}

// Every parameter and buffer must lie inside its storage: a corrupt pickle
// can give a tensor a shape, stride or offset beyond the storage it names,
// and LibTorch would then read and write past the allocation.
void check_storage(const torch::jit::Module& module, const std::string& source) {
  auto check = [&](const std::string& name, const at::Tensor& t) {
    if (!t.defined() || t.numel() == 0 || !t.has_storage()) return;
    std::int64_t last = t.storage_offset();
    for (std::int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
    const std::uint64_t needed = static_cast<std::uint64_t>(last + 1) * t.element_size();
    if (t.storage_offset() < 0 || needed > t.storage().nbytes()) {
      throw std::runtime_error(
          fmt::format("{} is corrupt: tensor '{}' needs {} bytes but its data holds {} (save the "
                      "model again with torch.jit.save)",
                      source, name, needed, t.storage().nbytes()));
    }
  };
  for (const auto& p : module.named_parameters(/*recurse=*/true)) check(p.name, p.value);
  for (const auto& b : module.named_buffers(/*recurse=*/true)) check(b.name, b.value);
}

// The archive reader, or a one-line error for a file that is not a zip archive.
template <typename Source>
caffe2::serialize::PyTorchStreamReader open_archive(Source source, const std::string& name) {
  try {
    return caffe2::serialize::PyTorchStreamReader(source);
  } catch (const std::exception&) {
    throw not_readable(name);
  }
}

}  // namespace

TorchScriptModel::TorchScriptModel(const std::filesystem::path& path) : source_(path.string()) {
  if (std::filesystem::is_directory(path)) {
    throw std::runtime_error(
        fmt::format("{} is a directory, not a TorchScript file (give the path of a .pt file)", path.string()));
  }
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error(fmt::format(
        "model file not found: {} (give a zoo name — see `blockscope models` — or a TorchScript .pt)", path.string()));
  }
  io::note_input_file(path.string());
  check_archive(open_archive(path.string(), source_), source_);
  try {
    module_ = torch::jit::load(path.string());
  } catch (const std::exception&) {
    throw not_readable(source_);
  }
  description_ = fmt::format("torchscript({})", path.string());
  finish_loading(source_);
}

TorchScriptModel::TorchScriptModel(const std::string& archive, const std::string& description) : source_(description) {
  {
    std::istringstream in(archive);
    check_archive(open_archive(&in, source_), source_);
  }
  try {
    std::istringstream in(archive);
    module_ = torch::jit::load(in, c10::Device(c10::kCPU));
  } catch (const std::exception&) {
    throw not_readable(source_);
  }
  description_ = description;
  finish_loading(source_);
}

void TorchScriptModel::finish_loading(const std::string& source) {
  if (!module_.find_method("forward")) {
    throw std::runtime_error(
        fmt::format("{} has no forward method: export a module whose forward(x) returns outputs", source));
  }
  check_storage(module_, source);
  module_.eval();
  refresh_parameters();
  if (parameters().empty()) {
    throw std::runtime_error(
        fmt::format("{} has no trainable parameters (were they frozen, or saved with torch.jit.freeze?)", source));
  }
}

at::Tensor TorchScriptModel::forward(const at::Tensor& inputs) {
  c10::IValue out = module_.forward({inputs});
  if (!out.isTensor()) {
    throw std::runtime_error(fmt::format(
        "forward() of {} returned {} instead of one tensor (return the logits/outputs only)", source_, out.tagKind()));
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
