// Where each optimizer state component lives for a model, a Partition and an
// OptimizerSpec (spec.h): per tensor, the v-sharing ranges (the Partition's,
// with global block ids), the codebook momentum-scale groups, the 32-element
// groups of the companded states; and the bytes the components take (which
// components a spec has, and their dtypes and sizes: state_components.h).
// Codebook scale groups: a tensor whose partition is uniform with period P > 1
// uses its ranges; period 1 uses chunks of the largest divisor of n ≤ 256
// (Gefen); explicit ranges use the ranges. The first-step histogram normalises
// by the same groups, except period-1 tensors under p1=reference (per element).
// No torch; shapes only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "optimizers/spec.h"
#include "partition/partition.h"

namespace blockscope::optimizers {

// Contiguous pieces of [0, numel): uniform `period` (> 0, divides numel) or
// explicit boundaries 0 = b_0 < … < b_K = numel.
struct Segments {
  std::int64_t numel = 0;
  std::int64_t period = 0;
  std::vector<std::int64_t> boundaries;

  std::int64_t count() const;
  std::int64_t begin(std::int64_t k) const;
  std::int64_t end(std::int64_t k) const;
  // Segment holding element i in [0, numel).
  std::int64_t index_of(std::int64_t i) const;
};

struct TensorLayout {
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t numel = 0;
  bool decays = true;              // weight decay applies (spec.decays(name))
  partition::TensorBlocks blocks;  // v-sharing ranges with global block ids
  Segments scale_groups;           // codebook m only
  Segments histogram_groups;       // codebook m only: first-step normalisation
  std::int64_t groups32() const { return (numel + 31) / 32; }
};

struct StateBytes {
  std::int64_t m = 0, v = 0, scales = 0, codebook = 0, weight_correction = 0;
  std::int64_t total() const { return m + v + scales + codebook + weight_correction; }
};

struct StateLayout {
  OptimizerSpec spec;
  std::vector<TensorLayout> tensors;      // in the optimizer's parameter order
  std::int64_t num_blocks = 0;            // global v blocks (shared v only)
  std::vector<std::int64_t> block_sizes;  // [num_blocks] elements per block
  std::int64_t num_parameters = 0;

  // `parameters` in the optimizer's order; the partition must hold exactly
  // these names and shapes (one-line error naming the first difference).
  static StateLayout make(const OptimizerSpec& spec, const partition::Partition& partition,
                          const std::vector<partition::TensorInfo>& parameters);
  StateBytes bytes() const;
};

// Optimizer-state bytes per parameter under each preset (optimizer_preset_names(),
// in that order) for `partition` over the tensors it names:
// StateLayout::make(preset, partition, its tensors).bytes().total() / parameters.
struct PresetStateBytes {
  std::string preset;
  double bytes_per_parameter = 0.0;
};
std::vector<PresetStateBytes> preset_state_bytes(const partition::Partition& partition);

}  // namespace blockscope::optimizers
