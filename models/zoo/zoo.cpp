#include "models/zoo/zoo.h"

namespace blockscope::models {

const std::vector<ZooEntry>& zoo() {
  static const std::vector<ZooEntry> entries = {mlp_entry(), cnn_entry(), resnet_entry(), gpt_entry(), vit_entry()};
  return entries;
}

const ZooEntry* find_zoo_entry(const std::string& name) {
  for (const ZooEntry& e : zoo()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace blockscope::models
