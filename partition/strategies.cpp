#include "partition/strategies.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace blockscope::partition {
namespace {

// One uniform range list per tensor with period period_of(t), ids consecutive.
template <typename PeriodOf>
Partition consecutive(const char* strategy, const std::vector<TensorInfo>& model, PeriodOf period_of) {
  std::vector<TensorBlocks> tensors;
  tensors.reserve(model.size());
  for (const TensorInfo& t : model) tensors.push_back(TensorBlocks::uniform(t, period_of(t)));
  number_consecutively(tensors);
  return Partition(strategy, nlohmann::json::object(), std::move(tensors));
}

}  // namespace

Partition per_element(const std::vector<TensorInfo>& model) {
  return consecutive("per-element", model, [](const TensorInfo&) { return std::int64_t{1}; });
}

Partition per_tensor(const std::vector<TensorInfo>& model) {
  return consecutive("per-tensor", model, [](const TensorInfo& t) { return t.numel(); });
}

Partition whole_model(const std::vector<TensorInfo>& model) {
  std::vector<TensorBlocks> tensors;
  tensors.reserve(model.size());
  for (const TensorInfo& t : model) tensors.push_back(TensorBlocks::uniform(t, t.numel()));
  return Partition("whole-model", nlohmann::json::object(), std::move(tensors));
}

bool is_partition_file(const std::string& choice) {
  auto ends_with = [&](const std::string& suffix) {
    return choice.size() >= suffix.size() && choice.compare(choice.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".h5") || ends_with(".hdf5") || choice.find('/') != std::string::npos ||
         std::filesystem::exists(choice);
}

Partition StrategyRegistry::make_or_load(const std::string& choice, const StrategyInputs& inputs) const {
  const std::vector<std::string> known = names();
  // A strategy name wins over a file of that name in the working directory.
  if (std::find(known.begin(), known.end(), choice) != known.end() || !is_partition_file(choice)) {
    return make(choice, inputs);
  }
  Partition p = Partition::load(choice);
  p.validate_against(inputs.model);
  return p;
}

StrategyRegistry::StrategyRegistry() {
  add("per-element", "every element its own block (Adam)",
      [](const StrategyInputs& in) { return per_element(in.model); });
  add("per-tensor", "one block per tensor", [](const StrategyInputs& in) { return per_tensor(in.model); });
  add("whole-model", "one block shared by the whole model",
      [](const StrategyInputs& in) { return whole_model(in.model); });
  add("adam-mini", "Adam-mini name rules: per head for q/k, per row for embeddings/v/o/MLP",
      [](const StrategyInputs& in) { return adam_mini(in.model, in.adam_mini); });
  add("gefen", "Gefen periods found from the first-step gradients",
      [](const StrategyInputs& in) { return gefen(in.model, in.gradients, in.gefen); });
}

void StrategyRegistry::add(const std::string& name, const std::string& help, StrategyBuilder builder) {
  for (const Entry& e : entries_) {
    if (e.name == name) {
      throw std::runtime_error(fmt::format("partition strategy '{}' is already registered", name));
    }
  }
  entries_.push_back({name, help, std::move(builder)});
}

const StrategyRegistry::Entry& StrategyRegistry::find(const std::string& name) const {
  for (const Entry& e : entries_) {
    if (e.name == name) return e;
  }
  throw std::runtime_error(fmt::format("unknown partition strategy '{}' (valid: {})", name, fmt::join(names(), ", ")));
}

Partition StrategyRegistry::make(const std::string& name, const StrategyInputs& inputs) const {
  return find(name).builder(inputs);
}

std::vector<std::string> StrategyRegistry::names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.name);
  return out;
}

const std::string& StrategyRegistry::help(const std::string& name) const { return find(name).help; }

}  // namespace blockscope::partition
