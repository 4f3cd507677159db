// `blockscope partition`: build a partition of a model's parameters by a
// named strategy and save it (schema blockscope.partition/1), printing a
// summary: blocks per tensor, v scalars, optimizer-state bytes per parameter.
//
// Gradient-driven strategies (gefen) take the first-step gradient from
// --model/--data (one batch, the model in training mode) or from
// --gradients FILE.h5 (layouts in analysis/element_statistics.h;
// names and shapes then come from the file and --model is optional).
//
// The Hessian-driven strategy (hessian; partition/hessian_strategy.h) merges
// neighbouring rows whose per-element statistic agrees: Hutchinson's diag(H)
// over --probes HVPs (--statistic curvature) or E[g²] over --batches
// minibatches (squared-gradient; from --gradients: the one saved gradient's g²),
// on --batches batches of --batch-size examples of --data.
#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "analysis/partition_builder.h"
#include "data/sources.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/validators.h"
#include "io/h5_file.h"
#include "io/progress_bar.h"
#include "models/data_fit.h"
#include "models/model.h"
#include "partition/strategies.h"

namespace blockscope::cli {
namespace {

struct PartitionOptions {
  std::string strategy = "adam-mini";
  analysis::StatisticSource source;
  std::string gradients;
  bool model_given = false;  // --model on the command line (it then decides a --gradients file's layout)
  std::int64_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
  std::string gefen_rule = "v1.2.3";
  analysis::HessianStrategySettings hessian;
  std::string out = "partition.h5";
  std::string json;
};

void print_summary(const partition::Partition& p) {
  std::size_t width = 4;
  for (const auto& t : p.tensors()) width = std::max(width, t.tensor.name.size());
  fmt::print("partition: {} — {} parameters in {} tensors\n\n", p.strategy(), p.num_parameters(), p.num_tensors());
  fmt::print("{:<{}}  {:<16} {:>10} {:>8} {:>10}\n", "tensor", width, "shape", "numel", "blocks", "block size");
  for (const auto& t : p.tensors()) {
    const std::int64_t ranges = t.num_ranges();
    const std::string size = t.period > 0 ? std::to_string(t.period) : "varies";
    fmt::print("{:<{}}  {:<16} {:>10} {:>8} {:>10}\n", t.tensor.name, width, partition::shape_string(t.tensor.shape),
               t.tensor.numel(), ranges, size);
  }
  const double n = double(p.num_parameters()), v = double(p.num_blocks());
  fmt::print("\nv scalars: {} ({:.4f} % of AdamW's {})\n", p.num_blocks(), 100.0 * v / n, p.num_parameters());
  fmt::print("optimizer state with this partition, bytes/param (fp32 v and scales):\n");
  fmt::print("  shared v + fp32 m (adam-mini)           {:.4f}\n", 4.0 + 4.0 * v / n);
  fmt::print("  shared v + 8-bit codebook m (gefen)     {:.4f}\n", 1.0 + 8.0 * v / n);
  fmt::print("  reference: adamw fp32 8.0000, flash-adamw 3.1250\n");
}

void run_partition(const PartitionOptions& o) {
  if (o.strategy == "hessian" && o.hessian.statistic == "curvature" && !o.gradients.empty()) {
    throw std::runtime_error(
        "the curvature statistic needs --model/--data; with --gradients use --statistic squared-gradient");
  }
  if (!o.source.params.empty() && !o.gradients.empty() && !o.model_given) {
    throw std::runtime_error("--params needs --model: with --gradients alone no model is loaded");
  }
  io::check_output_file(o.out);
  if (!o.json.empty()) io::check_output_file(o.json);
  const partition::HeadConfig heads{o.n_heads, o.n_kv_heads, o.head_dim};
  partition::StrategyInputs inputs;
  std::vector<std::vector<float>> grads;
  std::unique_ptr<models::Model> model;
  if (o.gradients.empty() || o.model_given) {
    model = models::load_model(o.source.model, o.source.seed, o.source.params);
    inputs = analysis::strategy_inputs(*model, heads);
  } else {
    inputs.adam_mini.heads = heads;
  }
  analysis::GradientFile file;
  if (!o.gradients.empty()) {
    // Gradient-driven strategies take the file's first gradient (minibatch 0) as the first-step gradient.
    file = analysis::read_gradient_file(o.gradients, model ? &inputs.model : nullptr);
    inputs.model = file.tensors;
    for (std::size_t t = 0; t < file.tensors.size(); ++t) {
      inputs.gradients.push_back({file.gradients[t].data(), file.tensors[t].numel()});
    }
  } else if (o.strategy == "gefen") {
    data::Dataset d = data::load_dataset(o.source.data, model->input_spec(), {o.source.batch_size, 0, o.source.seed});
    models::check_data_fits(*model, d);
    grads = analysis::batch_gradients(*model,
                                      data::make_batches(d, {o.source.batch_size, 1, false, o.source.seed}).front());
  }
  inputs.gefen.rule = partition::parse_gefen_rule(o.gefen_rule);
  for (const auto& g : grads) inputs.gradients.push_back({g.data(), static_cast<std::int64_t>(g.size())});

  std::unique_ptr<io::ProgressBar> bar;
  const auto progress = [&](std::int64_t done, std::int64_t total) {
    if (!bar)
      bar = std::make_unique<io::ProgressBar>(o.hessian.statistic == "curvature" ? "hutchinson diag(H)" : "E[g²]",
                                              o.hessian.statistic == "curvature" ? "HVPs" : "minibatches");
    bar->update(done, total);
  };
  partition::Partition p =
      analysis::strategy_registry(o.source, o.hessian, o.gradients.empty() ? nullptr : &file, progress)
          .make(o.strategy, inputs);
  if (bar) bar->finish();
  for (const std::string& line : partition::unmatched_tensor_warnings(p)) fmt::print(stderr, "warning: {}\n", line);
  p.save(o.out);
  if (!o.json.empty()) {
    std::ofstream(o.json) << p.summary().dump(2) << "\n";
  }
  print_summary(p);
  fmt::print("wrote {}{}\n", o.out, o.json.empty() ? "" : " and " + o.json);
}

}  // namespace

void register_partition(CLI::App& app) {
  CLI::App* cmd =
      app.add_subcommand("partition", "Partition a model's parameters into blocks that share optimizer statistics");
  auto o = std::make_shared<PartitionOptions>();
  const partition::StrategyRegistry registry = analysis::strategy_registry(o->source, o->hessian);
  std::string help = "strategy:";
  for (const auto& name : registry.names()) help += fmt::format("\n  {:<12} {}", name, registry.help(name));
  cmd->add_option("--strategy,-s", o->strategy, help)->capture_default_str();
  CLI::Option* model =
      cmd->add_option("--model,-m", o->source.model, "zoo model or TorchScript .pt")->capture_default_str();
  cmd->add_option("--data,-d", o->source.data, "data for gradient-driven strategies (first batch)")
      ->capture_default_str();
  cmd->add_option("--gradients", o->gradients,
                  "HDF5 file of saved gradients, one dataset per parameter name, [*shape] or [K, *shape] (replaces "
                  "--data; with --model the model's shapes tell the two layouts apart)");
  cmd->add_option("--params", o->source.params,
                  "trained parameters to start from (blockscope.params/1 or a checkpoint)");
  cmd->add_option("--batch-size", o->source.batch_size, "examples in the first-step batch")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--seed", o->source.seed, "seed for model initialisation and data")->capture_default_str();
  cmd->add_option("--n-heads", o->n_heads, "attention heads (adam-mini; default from a zoo transformer)")
      ->check(kPositive);
  cmd->add_option("--n-kv-heads", o->n_kv_heads, "key/value heads under grouped-query attention (default n-heads)")
      ->check(kPositive);
  cmd->add_option("--head-dim", o->head_dim, "width of one head (default: q rows / n-heads)")->check(kPositive);
  cmd->add_option("--gefen-rule", o->gefen_rule, "period rule: v1.2.3 or v1.1.1")->capture_default_str();
  cmd->add_option("--statistic", o->hessian.statistic, "hessian: per-element statistic, curvature or squared-gradient")
      ->capture_default_str()
      ->check(CLI::IsMember({"curvature", "squared-gradient"}));
  cmd->add_option("--probes", o->hessian.probes, "hessian: Hutchinson probes (one full HVP each)")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--batches", o->hessian.batches, "hessian: batches of --batch-size the statistic is taken over")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--target-blocks", o->hessian.target_blocks,
                  "hessian: stop merging at this many blocks (0 = no target)")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd->add_option("--merge-threshold", o->hessian.merge_threshold,
                  "hessian: neighbours merge only when |ln level_a − ln level_b| ≤ this (default: no limit with "
                  "--target-blocks, ln 2 without)");
  cmd->add_option("--out,-o", o->out, "partition file (HDF5, schema blockscope.partition/1)")->capture_default_str();
  cmd->add_option("--json", o->json, "also write a JSON summary here");
  cmd->callback([o, model] {
    o->model_given = model->count() > 0;
    run_partition(*o);
  });
}

}  // namespace blockscope::cli
