#include "analysis/partition_builder.h"

#include <torch/csrc/autograd/autograd.h>

#include <stdexcept>

#include "data/loss.h"
#include "hessian/diagonal.h"
#include "hessian/hvp.h"
#include "partition/hessian_strategy.h"

namespace blockscope::analysis {
namespace {

// The statistic and the settings that describe it (recorded in the partition file).
std::vector<std::vector<double>> hessian_statistics(const StatisticSource& source,
                                                    const HessianStrategySettings& settings,
                                                    const GradientFile* gradients, const ProgressCallback& progress,
                                                    nlohmann::json& recorded) {
  recorded["statistic"] = settings.statistic;
  if (gradients) {
    if (settings.statistic == "curvature") {
      throw std::runtime_error(
          "the curvature statistic needs a model and data; with a gradient file use the squared-gradient statistic");
    }
    recorded["minibatches"] = gradients->minibatches;
    return second_moments(*gradients).v;
  }
  Minibatches mb =
      open_minibatches(source.model, source.data, source.batch_size, settings.batches, source.seed, source.params);
  recorded["batch_size"] = source.batch_size;
  return measured_statistic(*mb.model, mb.batches, mb.dataset.description, settings, source.seed, progress, recorded);
}

partition::HessianStrategyOptions merge_options(const HessianStrategySettings& settings) {
  partition::HessianStrategyOptions options;
  options.target_blocks = settings.target_blocks;
  if (!std::isnan(settings.merge_threshold)) options.merge_threshold = settings.merge_threshold;
  return options;
}

}  // namespace

std::vector<std::vector<double>> measured_statistic(models::Model& model, const std::vector<data::Batch>& batches,
                                                    const std::string& data_description,
                                                    const HessianStrategySettings& settings, std::uint64_t seed,
                                                    const ProgressCallback& progress, nlohmann::json& recorded) {
  recorded["statistic"] = settings.statistic;
  recorded["model"] = model.description();
  recorded["data"] = data_description;
  recorded["batches"] = static_cast<std::int64_t>(batches.size());
  recorded["seed"] = static_cast<std::int64_t>(seed);
  if (settings.statistic == "squared-gradient") return minibatch_second_moments(model, batches, progress).v;
  if (settings.statistic != "curvature") {
    throw std::runtime_error("unknown statistic '" + settings.statistic +
                             "' for the hessian strategy (use curvature or squared-gradient)");
  }
  hessian::LossHessian loss_hessian(model, batches, hessian::HvpSettings{});
  const hessian::ParameterLayout& layout = loss_hessian.layout();
  const hessian::BlockHessian full(loss_hessian, {{0, layout.total()}}, "all");
  const Eigen::VectorXd diagonal = hessian::hutchinson_diagonal(full, settings.probes, seed, [&](int done, int total) {
    if (progress) progress(done, total);
  });
  recorded["probes"] = settings.probes;
  recorded["hvp_count"] = loss_hessian.num_products();
  return layout.per_tensor(diagonal.data());
}

partition::Partition hessian_partition(models::Model& model, const std::vector<data::Batch>& batches,
                                       const std::string& data_description, const HessianStrategySettings& settings,
                                       std::uint64_t seed, const ProgressCallback& progress) {
  if (batches.empty()) throw std::runtime_error("the hessian strategy needs at least one batch");
  partition::HessianStrategyOptions options = merge_options(settings);
  const std::vector<std::vector<double>> stats =
      measured_statistic(model, batches, data_description, settings, seed, progress, options.settings);
  return partition::hessian_partition(strategy_inputs(model, {}).model, stats, options);
}

std::vector<std::vector<float>> batch_gradients(models::Model& model, const data::Batch& batch) {
  model.set_training(true);
  at::Tensor loss = data::mean_loss(model.forward(batch.inputs), batch.targets);
  std::vector<at::Tensor> params;
  for (const auto& p : model.parameters()) params.push_back(p.tensor);
  std::vector<at::Tensor> g = torch::autograd::grad({loss}, params, {}, false, false, true);
  std::vector<std::vector<float>> out;
  for (std::size_t t = 0; t < g.size(); ++t) {
    at::Tensor flat = (g[t].defined() ? g[t] : at::zeros_like(params[t])).reshape({-1}).to(at::kFloat).contiguous();
    out.emplace_back(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
  }
  return out;
}

partition::StrategyInputs strategy_inputs(const models::Model& model, const partition::HeadConfig& heads) {
  partition::StrategyInputs in;
  for (const auto& p : model.parameters()) in.model.push_back({p.name, p.tensor.sizes().vec()});
  partition::HeadConfig declared;
  if (!model.attention().empty()) {
    const models::AttentionLayout& a = model.attention().front();
    declared = {a.n_head, a.n_kv_head, a.head_dim};
  }
  in.adam_mini.heads = partition::override_heads(declared, heads);
  return in;
}

partition::StrategyRegistry strategy_registry(const StatisticSource& source, const HessianStrategySettings& settings,
                                              const GradientFile* gradients, const ProgressCallback& progress) {
  partition::StrategyRegistry registry;
  registry.add("hessian", "merge neighbouring rows whose curvature (Hutchinson diag H) or E[g²] agrees",
               [source, settings, gradients, progress](const partition::StrategyInputs& in) {
                 partition::HessianStrategyOptions options = merge_options(settings);
                 const std::vector<std::vector<double>> stats =
                     hessian_statistics(source, settings, gradients, progress, options.settings);
                 return partition::hessian_partition(in.model, stats, options);
               });
  return registry;
}

}  // namespace blockscope::analysis
