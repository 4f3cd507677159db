// The built-in model zoo. Each entry documents its options and defaults;
// `blockscope models` prints them. Parameter names follow common
// conventions (q_proj/k_proj/v_proj/o_proj, mlp.*, wte/lm_head, *norm*,
// linear.*) so name-based partition rules (Adam-mini) apply to them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/model_spec.h"

namespace blockscope::models {

struct ZooEntry {
  std::string name;
  std::string summary;
  std::vector<OptionDoc> options;
  // Builds the model, reading options from the spec (finish() is called by
  // the caller afterwards).
  std::function<std::unique_ptr<Model>(ModelSpec&)> build;
};

const std::vector<ZooEntry>& zoo();
// nullptr when no zoo model has that name.
const ZooEntry* find_zoo_entry(const std::string& name);

ZooEntry mlp_entry();
ZooEntry cnn_entry();
ZooEntry resnet_entry();
ZooEntry gpt_entry();
ZooEntry vit_entry();

}  // namespace blockscope::models
