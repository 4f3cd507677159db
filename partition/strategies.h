// Partition strategies by name (docs/style.md 13). The built-ins:
//   per-element  every element its own block (Adam)
//   per-tensor   one block per tensor
//   whole-model  one block shared by every tensor (block id 0 everywhere)
//   adam-mini    name rules of zyushun/Adam-mini v1.1.x (adam_mini.h)
//   gefen        periods from first-step gradients, ndvbd/Gefen (gefen.h)
// Consecutive block ids in model order, except whole-model. Strategies that
// need more than StrategyInputs (the Hessian-driven one needs spectra) are
// added to a registry with add(), capturing their data in the builder.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "partition/adam_mini.h"
#include "partition/gefen.h"
#include "partition/partition.h"

namespace blockscope::partition {

struct StrategyInputs {
  std::vector<TensorInfo> model;
  AdamMiniOptions adam_mini;            // adam-mini only
  GefenOptions gefen;                   // gefen only
  std::vector<GradientView> gradients;  // gefen only: gradients[i] belongs to model[i]
};

using StrategyBuilder = std::function<Partition(const StrategyInputs&)>;

Partition per_element(const std::vector<TensorInfo>& model);
Partition per_tensor(const std::vector<TensorInfo>& model);
Partition whole_model(const std::vector<TensorInfo>& model);

// True when `choice` names a partition file (ends in .h5/.hdf5, has a '/',
// or exists) rather than a strategy.
bool is_partition_file(const std::string& choice);

class StrategyRegistry {
 public:
  // Holds the built-in strategies listed above.
  StrategyRegistry();

  // Adds a strategy; throws if the name is taken.
  void add(const std::string& name, const std::string& help, StrategyBuilder builder);
  // Builds the named partition; an unknown name throws listing the valid ones.
  Partition make(const std::string& name, const StrategyInputs& inputs) const;
  // A strategy by name (names win over files of the same name), or a
  // partition file loaded and validated against inputs.model: what `train`
  // and the Python optimizers accept.
  Partition make_or_load(const std::string& choice, const StrategyInputs& inputs) const;
  // Names in the order added, and each one's one-line help.
  std::vector<std::string> names() const;
  const std::string& help(const std::string& name) const;

 private:
  struct Entry {
    std::string name;
    std::string help;
    StrategyBuilder builder;
  };
  const Entry& find(const std::string& name) const;
  std::vector<Entry> entries_;
};

}  // namespace blockscope::partition
