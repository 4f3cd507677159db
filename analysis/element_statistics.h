// Per-element statistics of a model on data, for the sharing diagnostics
// (partition/diagnostics.h) and the Hessian-driven partition
// (partition/hessian_strategy.h), which take them as plain arrays; the
// curvature statistic is hessian/diagonal.h.
//
// Gradient files (`partition --gradients`, `diagnose --gradients`): one
// float dataset per parameter at the file root, named by its qualified name,
// in either of two layouts:
//   [*shape]       one gradient per parameter (K = 1)
//   [K, *shape]    K minibatch gradients; row k is minibatch k's gradient of
//                  the mean loss, K the same for every dataset
// The layout is decided, in this order: by the expected parameter shapes
// when the caller knows them (a model, or the partitions being diagnosed);
// by the root attribute `minibatches` = K when the file has it; as one
// gradient per parameter when the datasets' leading sizes differ (a [K, *]
// dump has K leading every dataset). Anything else is ambiguous and refused.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "hessian/hvp.h"
#include "models/model.h"
#include "partition/partition.h"

namespace blockscope::analysis {

using ProgressCallback = std::function<void(std::int64_t done, std::int64_t total)>;

// A model, its data and K consecutive minibatches of B examples (unshuffled).
struct Minibatches {
  std::unique_ptr<models::Model> model;
  data::Dataset dataset;
  std::vector<data::Batch> batches;  // [K]
};

// Throws a one-line message for an unknown model or data, data that does not
// fit the model, or fewer than K·B examples.
// params_file: trained parameters to load (models::load_model), or empty.
Minibatches open_minibatches(const std::string& model, const std::string& data, std::int64_t batch_size,
                             std::int64_t minibatches, std::uint64_t seed, const std::string& params_file = {});

// v_i = (1/K) Σ_k g_{k,i}² per parameter (flattened, float64), g_k the
// gradient of minibatch k's mean loss with the model in TRAINING mode (what
// an optimizer's second moment sees). tensors: the model's names and shapes.
struct SecondMoments {
  std::vector<partition::TensorInfo> tensors;
  std::vector<std::vector<double>> v;  // v[t]: [numel of tensors[t]]
  std::int64_t minibatches = 0;
};

SecondMoments minibatch_second_moments(models::Model& model, const std::vector<data::Batch>& batches,
                                       const ProgressCallback& progress = {});

struct GradientFile {
  std::vector<partition::TensorInfo> tensors;  // parameter names and shapes
  std::int64_t minibatches = 0;                // K
  std::vector<std::vector<float>> gradients;   // gradients[t]: [K, numel of tensors[t]] row-major
};

// Reads a gradient file (layouts above). `expected`: the parameters' names
// and shapes when known (then the file must hold exactly these, in any
// order; tensors come back in this order). Throws a one-line message for a
// missing or non-HDF5 file, no datasets, a non-float or non-finite dataset,
// shapes that fit neither layout, inconsistent K, or an ambiguous layout.
GradientFile read_gradient_file(const std::string& path, const std::vector<partition::TensorInfo>* expected = nullptr);

// v_i = (1/K) Σ_k g_{k,i}² of a gradient file.
SecondMoments second_moments(const GradientFile& file);

}  // namespace blockscope::analysis
