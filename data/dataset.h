// In-memory datasets and deterministic batching.
//
// A Dataset holds all examples: inputs [N, ...] and targets [N] / [N, T]
// (int64 class ids → cross-entropy, per position for sequences) or float
// targets shaped like the model outputs (→ mean squared error).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace blockscope::data {

struct Batch {
  at::Tensor inputs;
  at::Tensor targets;
  std::int64_t size() const { return inputs.size(0); }
};

struct Dataset {
  at::Tensor inputs;
  at::Tensor targets;
  std::string description;  // recorded in result files, e.g. "text(debian-licenses, ...)"
  std::int64_t size() const { return inputs.size(0); }
};

struct BatchOptions {
  std::int64_t batch_size = 32;  // examples per batch
  std::int64_t num_batches = 0;  // 0: as many as the dataset fills (last may be short)
  bool shuffle = false;          // permute examples with `seed` before cutting
  std::uint64_t seed = 0;
};

// Cuts the dataset into consecutive batches. Throws when it holds fewer
// examples than num_batches × batch_size needs, naming both numbers.
std::vector<Batch> make_batches(const Dataset& dataset, const BatchOptions& options);

// A dataset cut into a training part and a disjoint held-out part.
struct HeldOutSplit {
  Dataset train;
  Dataset held_out;  // 0 examples, described as "none", when the fraction is 0
};

// Holds out the last ⌈fraction·N⌉ examples in the dataset's order (the text
// corpus's windows start at random offsets, so its tail is a random sample;
// a user's file is split where it lies). fraction in [0, 1); throws, naming
// both counts, when the training part would be empty.
HeldOutSplit split_held_out(const Dataset& dataset, double fraction);

// Converts floating inputs/targets to `dtype` (float32/float64); integer
// tensors stay int64.
Dataset to_dtype(const Dataset& dataset, at::ScalarType dtype);

}  // namespace blockscope::data
