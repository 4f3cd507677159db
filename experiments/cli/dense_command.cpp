// `blockscope dense`: the exact Hessian of a small model (≲ 5000
// parameters) by n HVPs in float64, per-block eigenvalues, and the
// element-pair check of Gefen's sharing claim (docs/algorithms.md §4).
// Schema: analysis/dense_analysis.h.
#include <fmt/format.h>

#include "analysis/dense_analysis.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/hessian_options.h"
#include "experiments/cli/validators.h"
#include "io/h5_file.h"
#include "io/progress_bar.h"

namespace blockscope::cli {
namespace {

struct DenseOptions {
  analysis::HessianInputs inputs;
  analysis::DenseSettings dense;
  std::string out = "dense.h5";
};

void print_summary(const analysis::DenseAnalysis& a) {
  fmt::print("\n{:<32} {:>6} {:>11} {:>11} {:>9}  {}\n", "block", "size", "λ_max", "λ_min", "pairs",
             fmt::format("share with g² ratio in [c², 1/c²] for c = {}", fmt::join(a.thresholds, ", ")));
  for (std::size_t b = 0; b < a.names.size(); ++b) {
    const hessian::PairCheckResult& check = a.pair_checks[b];
    std::string shares;
    for (std::size_t c = 0; c < a.thresholds.size(); ++c) {
      shares += fmt::format("  {:.2f} ({})", check.fraction_within[c], check.pairs_above[c]);
    }
    const Eigen::VectorXd& e = a.eigenvalues[b];
    fmt::print("{:<32} {:>6} {:>11.4g} {:>11.4g} {:>9}{}\n", a.names[b], a.sizes[b], e[e.size() - 1], e[0], check.pairs,
               shares);
  }
  const Eigen::VectorXd& all = a.full_eigenvalues;
  fmt::print("\nfull Hessian: {} parameters, λ_max {:.6g}, λ_min {:.6g}, asymmetry {:.2e} (before symmetrising)\n",
             all.size(), all[all.size() - 1], all[0], a.asymmetry);
  fmt::print("(in parentheses: pairs with c_ij = |H_ij|/max(H_ii, H_jj) ≥ c)\n");
}

void run_dense(DenseOptions o) {
  io::check_output_file(o.out);
  analysis::HessianSession session = analysis::open_hessian_session(o.inputs);
  io::ProgressBar bar("dense", "HVPs");
  const analysis::DenseAnalysis result = analysis::analyse_dense(
      session, o.dense, [&](std::int64_t done, std::int64_t total) { bar.update(done, total); });
  bar.finish();
  analysis::write_dense_file(o.out, result);
  print_summary(result);
  fmt::print("wrote {}\n", o.out);
}

}  // namespace

void register_dense(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "dense", "Exact Hessian of a small model: per-block eigenvalues and the Gefen element-pair check");
  auto o = std::make_shared<DenseOptions>();
  o->inputs.model = "mlp";
  o->inputs.dtype = "float64";
  add_hessian_options(*cmd, o->inputs);
  cmd->add_option("--max-params", o->dense.max_params, "refuse models larger than this (memory n² float64)")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--thresholds", o->dense.thresholds, "coupling thresholds c for the pair check")
      ->capture_default_str();
  cmd->add_option("--out,-o", o->out, "result file (HDF5, schema blockscope.dense/1)")->capture_default_str();
  cmd->add_flag("--save-matrix", o->dense.keep_matrix, "also store the full symmetrised Hessian as /hessian [n, n]");
  cmd->callback([o] { run_dense(*o); });
}

}  // namespace blockscope::cli
