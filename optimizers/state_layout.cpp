// State layout of the kernel family; see state_layout.h.
#include "optimizers/state_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "optimizers/math/codebook.h"

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
    const std::int64_t n = t.numel, groups = t.groups32();
    switch (spec.m) {
      case FirstMoment::fp32:
        b.m += 4 * n;
        break;
      case FirstMoment::bf16:
        b.m += 2 * n;
        break;
      case FirstMoment::codebook:
        b.m += n;
        b.scales += 4 * t.scale_groups.count();
        break;
      case FirstMoment::companded:
        b.m += n;
        b.scales += 2 * groups;
        break;
    }
    switch (spec.v) {
      case SecondMoment::element:
        b.v += 4 * n;
        break;
      case SecondMoment::shared:
        break;
      case SecondMoment::companded:
        b.v += n;
        b.scales += 2 * groups;
        break;
    }
    switch (spec.w) {
      case WeightStorage::fp32:
        break;
      case WeightStorage::bf16_int8:
        b.weight_correction += n;
        break;
      case WeightStorage::bf16_int16:
        b.weight_correction += 2 * n;
        break;
    }
  }
  if (spec.v == SecondMoment::shared) b.v += 4 * num_blocks;
  if (spec.m == FirstMoment::codebook) b.codebook += 4 * math::kCodebookSize;
  return b;
}

}  // namespace blockscope::optimizers
