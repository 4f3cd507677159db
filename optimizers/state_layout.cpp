// State layout of the kernel family; see state_layout.h.
#include "optimizers/state_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "optimizers/math/codebook.h"
#include "optimizers/state_components.h"

namespace blockscope::optimizers {
namespace {

Segments uniform_segments(std::int64_t numel, std::int64_t period) { return Segments{numel, period, {}}; }

// Codebook scale groups and histogram groups of one tensor (see state_layout.h).
void set_codebook_groups(TensorLayout& t, bool p1_quirk) {
  const partition::TensorBlocks& b = t.blocks;
  if (t.numel == 0) {
    t.scale_groups = t.histogram_groups = uniform_segments(0, 1);
  } else if (b.period > 1) {
    t.scale_groups = t.histogram_groups = uniform_segments(t.numel, b.period);
  } else if (b.period == 1) {
    t.scale_groups = uniform_segments(t.numel, math::histogram_block_size(t.numel, 1, false));
    t.histogram_groups = uniform_segments(t.numel, math::histogram_block_size(t.numel, 1, p1_quirk));
  } else {
    t.scale_groups = t.histogram_groups = Segments{t.numel, 0, b.boundaries};
  }
}

}  // namespace

std::int64_t Segments::count() const {
  if (period > 0) return numel / period;
  return boundaries.empty() ? 0 : static_cast<std::int64_t>(boundaries.size()) - 1;
}

std::int64_t Segments::begin(std::int64_t k) const { return period > 0 ? k * period : boundaries[k]; }

std::int64_t Segments::end(std::int64_t k) const { return period > 0 ? (k + 1) * period : boundaries[k + 1]; }

std::int64_t Segments::index_of(std::int64_t i) const {
  if (period > 0) return i / period;
  return static_cast<std::int64_t>(std::upper_bound(boundaries.begin(), boundaries.end(), i) - boundaries.begin()) - 1;
}

StateLayout StateLayout::make(const OptimizerSpec& spec, const partition::Partition& partition,
                              const std::vector<partition::TensorInfo>& parameters) {
  partition.validate_against(parameters);
  StateLayout layout;
  layout.spec = spec;
  layout.num_blocks = partition.num_blocks();
  layout.block_sizes = partition.block_sizes();
  for (const partition::TensorInfo& info : parameters) {
    TensorLayout t;
    t.name = info.name;
    t.shape = info.shape;
    t.numel = info.numel();
    t.decays = spec.decays(info.name);
    t.blocks = partition.tensors()[partition.tensor_index(info.name)];
    if (spec.m == FirstMoment::codebook) set_codebook_groups(t, spec.codebook_p1_quirk);
    layout.num_parameters += t.numel;
    layout.tensors.push_back(std::move(t));
  }
  return layout;
}

StateBytes StateLayout::bytes() const {
  StateBytes b;
  for (const TensorLayout& t : tensors) {
    for (const StateComponent& c : tensor_components(spec, t)) {
      switch (c.counts_as) {
        case ByteClass::m:
          b.m += c.bytes();
          break;
        case ByteClass::v:
          b.v += c.bytes();
          break;
        case ByteClass::scales:
          b.scales += c.bytes();
          break;
        case ByteClass::weight_correction:
          b.weight_correction += c.bytes();
          break;
      }
    }
  }
  if (spec.v == SecondMoment::shared) b.v += 4 * num_blocks;
  if (spec.m == FirstMoment::codebook) b.codebook += 4 * math::kCodebookSize;
  return b;
}

std::vector<PresetStateBytes> preset_state_bytes(const partition::Partition& partition) {
  std::vector<partition::TensorInfo> tensors;
  for (const partition::TensorBlocks& t : partition.tensors()) tensors.push_back(t.tensor);
  std::vector<PresetStateBytes> out;
  for (const std::string& preset : optimizer_preset_names()) {
    const StateLayout layout = StateLayout::make(parse_optimizer_spec(preset), partition, tensors);
    const double n = static_cast<double>(std::max<std::int64_t>(layout.num_parameters, 1));
    out.push_back({preset, static_cast<double>(layout.bytes().total()) / n});
  }
  return out;
}

}  // namespace blockscope::optimizers
