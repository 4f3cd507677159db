#include "models/model.h"

#include <fmt/format.h>

#include <map>
#include <tuple>

namespace blockscope::models {

void Model::to(at::ScalarType dtype) {
  for (at::Tensor t : all_state_tensors()) {
    if (t.is_floating_point() && t.scalar_type() != dtype) t.set_data(t.detach().to(dtype));
  }
  refresh_parameters();
}

std::int64_t Model::num_parameters() const {
  std::int64_t total = 0;
  for (const NamedParameter& p : parameters_) total += p.tensor.numel();
  return total;
}

void Model::refresh_parameters() {
  const std::vector<std::pair<std::string, at::Tensor>> named = named_parameters_now();
  // Two names refer to one parameter when they view the same storage bytes
  // with the same geometry (weight tying registers one tensor twice).
  using Key = std::tuple<const void*, std::int64_t, std::vector<std::int64_t>, std::vector<std::int64_t>>;
  std::map<Key, std::size_t> seen;
  parameters_.clear();
  for (const auto& [name, tensor] : named) {
    Key key{tensor.storage().unsafeGetStorageImpl(), tensor.storage_offset(), tensor.sizes().vec(),
            tensor.strides().vec()};
    auto it = seen.find(key);
    if (it != seen.end()) {
      parameters_[it->second].aliases.push_back(name);
      continue;
    }
    seen.emplace(key, parameters_.size());
    parameters_.push_back(NamedParameter{name, tensor, {}});
  }
}

}  // namespace blockscope::models
