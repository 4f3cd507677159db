// `blockscope diagnose`: does sharing one v per block fit the per-element
// second moments it replaces? For each partition file, from K minibatch
// gradients (of --model on --data, or a --gradients file; layouts in
// analysis/element_statistics.h): per-block
// spread of v ≈ E[g²] around the block mean (partition/diagnostics.h), the
// optimizer-state bytes/param, and with --dense (≤ --max-params parameters)
// Gefen's element-pair check on the exact Hessian (hessian/sharing_check.h).
// Output: a table per partition, a comparison, an HDF5 file (schema
// blockscope.diagnostics/1, analysis/diagnostics_report.h) and,
// with --plots, PNG figures.
#include <fmt/format.h>

#include <algorithm>

#include "analysis/diagnostics_report.h"
#include "analysis/element_statistics.h"
#include "data/sources.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/validators.h"
#include "experiments/plots/plots.h"
#include "hessian/dense.h"
#include "hessian/sharing_check.h"
#include "io/h5_file.h"
#include "io/progress_bar.h"

namespace blockscope::cli {
namespace {

struct DiagnoseOptions {
  std::vector<std::string> partitions;
  std::string model = "gpt";
  std::string data = "auto";
  std::string gradients;
  std::string params;
  std::int64_t minibatches = 8;
  std::int64_t batch_size = 32;
  std::uint64_t seed = 0;
  bool dense = false;
  std::int64_t max_params = 5000;
  std::vector<double> thresholds = {0.1, 0.25, 0.5, 0.75};
  std::string out = "diagnostics.h5";
  std::string plots;
};

// Global element indices of each block of `p` (ascending), in the order of `tensors`.
std::vector<std::vector<Eigen::Index>> block_members(const partition::Partition& p,
                                                     const std::vector<partition::TensorInfo>& tensors) {
  std::vector<std::vector<Eigen::Index>> members;
  for (const auto& ranges : partition::place_blocks(p, tensors)) {
    members.emplace_back();
    for (const partition::PlacedRange& r : ranges) {
      for (std::int64_t i = r.global_begin(); i < r.global_end(); ++i) members.back().push_back(i);
    }
  }
  return members;
}

// The pair check on every block of `p`, with the exact Hessian `h` [n, n] and v [n].
analysis::PartitionPairCheck pair_check(const partition::Partition& p,
                                        const std::vector<partition::TensorInfo>& tensors, const Eigen::MatrixXd& h,
                                        const Eigen::VectorXd& v, const std::vector<double>& thresholds) {
  analysis::PartitionPairCheck out;
  out.thresholds = thresholds;
  const std::size_t C = thresholds.size();
  out.total_pairs_above.assign(C, 0);
  std::vector<double> within(C, 0.0);
  for (const auto& index : block_members(p, tensors)) {
    const Eigen::Index n = static_cast<Eigen::Index>(index.size());
    Eigen::MatrixXd hb(n, n);
    Eigen::VectorXd vb(n);
    for (Eigen::Index a = 0; a < n; ++a) {
      vb[a] = v[index[a]];
      for (Eigen::Index b = 0; b < n; ++b) hb(a, b) = h(index[a], index[b]);
    }
    const hessian::PairCheckResult r = hessian::check_gradient_ratio_pairs(hb, vb, thresholds);
    for (std::size_t c = 0; c < C; ++c) {
      out.pairs_above.push_back(r.pairs_above[c]);
      out.fraction_within.push_back(r.fraction_within[c]);
      out.total_pairs_above[c] += r.pairs_above[c];
      if (r.pairs_above[c] > 0) within[c] += r.fraction_within[c] * static_cast<double>(r.pairs_above[c]);
    }
  }
  for (std::size_t c = 0; c < C; ++c) {
    out.total_fraction_within.push_back(
        out.total_pairs_above[c] > 0 ? within[c] / static_cast<double>(out.total_pairs_above[c]) : std::nan(""));
  }
  return out;
}

void run_diagnose(const DiagnoseOptions& o) {
  io::check_output_file(o.out);
  if (!o.plots.empty()) io::check_output_directory(o.plots);
  if (o.partitions.empty()) throw std::runtime_error("give at least one --partition FILE.h5");
  if (!o.params.empty() && !o.gradients.empty()) {
    throw std::runtime_error("--params has no effect with --gradients (the gradients are already computed): drop one");
  }
  if (o.dense && !o.gradients.empty()) {
    throw std::runtime_error("--dense needs the model's Hessian: use --model/--data instead of --gradients");
  }
  std::vector<partition::Partition> partitions;
  for (const auto& file : o.partitions) partitions.push_back(partition::Partition::load(file));

  hessian::Attributes settings = {{"minibatches", o.minibatches},
                                  {"batch_size", o.batch_size},
                                  {"seed", static_cast<std::int64_t>(o.seed)},
                                  {"dense", o.dense},
                                  {"gradients_mode", std::string("training")}};
  analysis::SecondMoments moments;
  analysis::Minibatches source;
  if (!o.gradients.empty()) {
    std::vector<partition::TensorInfo> expected;
    for (const auto& t : partitions.front().tensors()) expected.push_back(t.tensor);
    try {
      moments = analysis::second_moments(analysis::read_gradient_file(o.gradients, &expected));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(
          fmt::format("{} (the gradients and partition {} must be of one model)", e.what(), o.partitions.front()));
    }
    settings["gradient_source"] = o.gradients;
    settings["minibatches"] = moments.minibatches;
  } else {
    source = analysis::open_minibatches(o.model, o.data, o.batch_size, o.minibatches, o.seed, o.params);
    if (o.dense && source.model->num_parameters() > o.max_params) {
      throw std::runtime_error(
          fmt::format("--dense is for small models: this one has {} parameters (> --max-params {})",
                      source.model->num_parameters(), o.max_params));
    }
    std::vector<partition::TensorInfo> model;
    for (const auto& p : source.model->parameters()) model.push_back({p.name, p.tensor.sizes().vec()});
    moments.tensors = model;
  }
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    try {
      partitions[i].validate_against(moments.tensors);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{}: {}", o.partitions[i], e.what()));
    }
  }
  if (o.gradients.empty()) {
    settings["gradient_source"] = std::string("model");
    settings["model"] = source.model->description();
    settings["model_spec"] = o.model;
    settings["data"] = source.dataset.description;
    io::ProgressBar bar("gradients", "minibatches");
    moments = analysis::minibatch_second_moments(
        *source.model, source.batches, [&](std::int64_t done, std::int64_t total) { bar.update(done, total); });
    bar.finish();
  }

  std::vector<partition::TensorValues> values;
  for (std::size_t t = 0; t < moments.tensors.size(); ++t) {
    values.push_back({moments.tensors[t].name, moments.v[t].data(), moments.tensors[t].numel()});
  }
  const partition::DiagnosticsOptions options;
  std::vector<analysis::DiagnosedPartition> diagnosed;
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    diagnosed.push_back({o.partitions[i],
                         partition::diagnose_partition(partitions[i], values, options),
                         {},
                         optimizers::preset_state_bytes(partitions[i])});
  }

  if (o.dense) {
    source.model->to(at::kDouble);
    source.dataset = data::to_dtype(source.dataset, at::kDouble);
    source.batches = data::make_batches(source.dataset, {o.batch_size, o.minibatches, false, o.seed});
    hessian::LossHessian loss_hessian(*source.model, source.batches, hessian::HvpSettings{});
    const Eigen::Index n = loss_hessian.layout().total();
    hessian::BlockHessian full(loss_hessian, {{0, n}}, "all");
    io::ProgressBar bar("dense", "HVPs");
    const hessian::DenseMatrix dense = hessian::dense_matrix(
        full, hessian::kDefaultMaxDenseSize, [&](std::int64_t done, std::int64_t total) { bar.update(done, total); });
    bar.finish();
    Eigen::VectorXd v(n);
    for (std::size_t t = 0; t < moments.v.size(); ++t) {
      std::copy(moments.v[t].begin(), moments.v[t].end(), v.data() + loss_hessian.layout().offsets[t]);
    }
    for (std::size_t i = 0; i < partitions.size(); ++i) {
      diagnosed[i].pairs = pair_check(partitions[i], moments.tensors, dense.matrix, v, o.thresholds);
    }
    settings["hessian_dtype"] = std::string("float64");
    settings["hessian_asymmetry"] = dense.asymmetry;
    settings["hvp_count"] = dense.num_operations;
  }

  for (const auto& d : diagnosed) analysis::print_diagnostics(d, options);
  if (diagnosed.size() > 1) analysis::print_comparison(diagnosed);
  analysis::write_diagnostics_file(o.out, diagnosed, options, settings);
  fmt::print("\nv ≈ E[g²] from {} minibatch gradients ({}); wrote {}\n", moments.minibatches,
             o.gradients.empty() ? fmt::format("{} examples each, training mode", o.batch_size) : o.gradients, o.out);
  if (!o.plots.empty()) {
    for (const auto& png : plots::plot_result("diagnostics", o.out, o.plots)) fmt::print("wrote {}\n", png.string());
  }
}

}  // namespace

void register_diagnose(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "diagnose", "Does one shared v per block fit the per-element E[g²] it replaces? Per-block spread, state bytes");
  auto o = std::make_shared<DiagnoseOptions>();
  cmd->add_option("--partition,-p", o->partitions, "partition file(s) (blockscope.partition/1); repeat to compare")
      ->required();
  cmd->add_option("--model,-m", o->model, "zoo model or TorchScript .pt")->capture_default_str();
  cmd->add_option("--data,-d", o->data, "data source or FILE.h5")->capture_default_str();
  cmd->add_option("--gradients", o->gradients,
                  "HDF5 file of gradients: one dataset per parameter, named by its qualified name, [K, *shape] for K "
                  "minibatches or [*shape] for one (the partitions' shapes tell them apart; replaces --model/--data)");
  cmd->add_option("--params", o->params, "trained parameters to analyse at (blockscope.params/1 or a checkpoint)");
  cmd->add_option("--minibatches,-k", o->minibatches, "minibatch gradients K averaged into v")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--batch-size", o->batch_size, "examples per minibatch")->capture_default_str()->check(kPositive);
  cmd->add_option("--seed", o->seed, "seed for model initialisation and data")->capture_default_str();
  cmd->add_flag("--dense", o->dense, "also run the element-pair check on the exact Hessian (small models)");
  cmd->add_option("--max-params", o->max_params, "largest model --dense accepts (memory n² float64)")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--thresholds", o->thresholds, "coupling thresholds c for the pair check")->capture_default_str();
  cmd->add_option("--out,-o", o->out, "result file (HDF5, schema blockscope.diagnostics/1)")->capture_default_str();
  cmd->add_option("--plots", o->plots, "directory for PNG plots (log-ratio histograms, CV per block)");
  cmd->callback([o] { run_diagnose(*o); });
}

}  // namespace blockscope::cli
