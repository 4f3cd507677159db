// Partitions for a model — the core call behind `blockscope partition`,
// `train --partition` and blockscope.partition: the strategy inputs of a
// model (names, shapes, attention heads, gefen's first-step gradients) and
// the strategy registry with the Hessian-driven strategy, whose per-element
// statistic (partition/hessian_strategy.h) is measured here when it runs:
//   curvature         Hutchinson's diag(H) over `probes` HVPs
//   squared-gradient  E[g²] over `batches` minibatches (or a gradient file)
// on `batches` batches of `batch_size` examples of the source's data.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/element_statistics.h"
#include "data/dataset.h"
#include "models/model.h"
#include "partition/strategies.h"

namespace blockscope::analysis {

// Where the hessian strategy's statistic is measured.
struct StatisticSource {
  std::string model = "gpt";
  std::string data = "auto";
  std::string params;  // trained parameters (models::load_model), or empty
  std::int64_t batch_size = 32;
  std::uint64_t seed = 0;
};

struct HessianStrategySettings {
  std::string statistic = "curvature";    // or "squared-gradient"
  int probes = 16;                        // curvature: Hutchinson probes (one full HVP each)
  std::int64_t batches = 8;               // minibatches the statistic is taken over
  std::int64_t target_blocks = 0;         // 0: no target
  double merge_threshold = std::nan("");  // unset: see partition::HessianStrategyOptions
};

// The hessian strategy's per-element statistic (settings.statistic) of
// `model` over `batches`, per parameter tensor; what describes it (model, data,
// batches, seed, probes, HVP count) goes into `recorded`.
std::vector<std::vector<double>> measured_statistic(models::Model& model, const std::vector<data::Batch>& batches,
                                                    const std::string& data_description,
                                                    const HessianStrategySettings& settings, std::uint64_t seed,
                                                    const ProgressCallback& progress, nlohmann::json& recorded);

// The hessian strategy's partition of a given model over given batches
// (blockscope.partition.hessian: the caller's module and data); the same
// partition `partition --strategy hessian` builds from those batches.
partition::Partition hessian_partition(models::Model& model, const std::vector<data::Batch>& batches,
                                       const std::string& data_description, const HessianStrategySettings& settings,
                                       std::uint64_t seed, const ProgressCallback& progress = {});

// The gradient of one batch's mean loss per parameter (float32, flattened),
// with the model in training mode; zeros where the loss does not reach.
std::vector<std::vector<float>> batch_gradients(models::Model& model, const data::Batch& batch);

// Names, shapes and attention heads of `model` (a zoo transformer's, with
// each positive field of `heads` taken instead).
partition::StrategyInputs strategy_inputs(const models::Model& model, const partition::HeadConfig& heads);

// The built-in strategies plus "hessian". With `gradients`, the
// squared-gradient statistic comes from that file (curvature is refused);
// progress: (HVPs or minibatches done, total) while the statistic is measured.
partition::StrategyRegistry strategy_registry(const StatisticSource& source, const HessianStrategySettings& settings,
                                              const GradientFile* gradients = nullptr,
                                              const ProgressCallback& progress = {});

}  // namespace blockscope::analysis
