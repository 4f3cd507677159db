#include <ATen/Context.h>
#include <ATen/core/grad_mode.h>
#include <fmt/format.h>

#include <filesystem>

#include "models/model.h"
#include "models/parameter_file.h"
#include "models/torchscript_model.h"
#include "models/zoo/zoo.h"

namespace blockscope::models {

namespace {

std::unique_ptr<Model> build_model(const std::string& spec, std::uint64_t seed) {
  const bool ends_with_pt = spec.size() >= 3 && spec.compare(spec.size() - 3, 3, ".pt") == 0;
  if (ends_with_pt || spec.find('/') != std::string::npos || std::filesystem::is_directory(spec)) {
    return std::make_unique<TorchScriptModel>(spec);
  }
  ModelSpec parsed(spec);
  const ZooEntry* entry = find_zoo_entry(parsed.name());
  if (!entry) {
    std::string valid;
    for (const ZooEntry& e : zoo()) valid += (valid.empty() ? "" : ", ") + e.name;
    throw std::runtime_error(fmt::format(
        "unknown model '{}' (valid zoo models: {}; or give a TorchScript file ending in .pt)", parsed.name(), valid));
  }
  at::manual_seed(seed);
  std::unique_ptr<Model> model = entry->build(parsed);
  parsed.finish(entry->options);
  return model;
}

}  // namespace

std::unique_ptr<Model> load_model(const std::string& spec, std::uint64_t seed, const std::string& params_file) {
  std::unique_ptr<Model> model = build_model(spec, seed);
  if (!params_file.empty()) load_parameter_file(params_file, *model);
  return model;
}

}  // namespace blockscope::models
