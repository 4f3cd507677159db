// `blockscope coupling`: block coupling r_ab = ‖H_ab‖_F / sqrt(‖H_aa‖_F
// ‖H_bb‖_F) from Rademacher probes (docs/algorithms.md §4). Schema:
// analysis/coupling_analysis.h.
#include <fmt/format.h>

#include "analysis/coupling_analysis.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/hessian_options.h"
#include "experiments/cli/validators.h"
#include "experiments/plots/plots.h"
#include "io/h5_file.h"
#include "io/progress_bar.h"

namespace blockscope::cli {
namespace {

struct CouplingCliOptions {
  analysis::HessianInputs inputs;
  int probes = 30;
  std::string out = "coupling.h5";
  std::string plots;
};

void run_coupling(CouplingCliOptions o) {
  io::check_output_file(o.out);
  if (!o.plots.empty()) io::check_output_directory(o.plots);
  analysis::HessianSession session = analysis::open_hessian_session(o.inputs);
  io::ProgressBar bar("coupling", "HVPs");
  const analysis::CouplingAnalysis analysis = analysis::analyse_coupling(
      session, o.probes, o.inputs.seed, [&](int done, int total) { bar.update(done, total); });
  bar.finish();
  analysis::write_coupling_file(o.out, analysis);
  const hessian::CouplingResult& result = analysis.result;
  const std::vector<std::string>& names = analysis.names;

  // Summary: each block's strongest partner.
  std::size_t width = 5;
  for (const auto& name : names) width = std::max(width, name.size());
  fmt::print("\n{:<{}} {:>12} {:>{}} {:>8}\n", "block", width, "‖H_bb‖_F", "most coupled block", width, "r");
  for (std::size_t a = 0; a < names.size(); ++a) {
    std::size_t best = a;
    double best_r = -1;
    for (std::size_t b = 0; b < names.size(); ++b) {
      if (b != a && std::isfinite(result.ratio(a, b)) && result.ratio(a, b) > best_r)
        best = b, best_r = result.ratio(a, b);
    }
    fmt::print("{:<{}} {:>12.4g} {:>{}} {:>8.3f}\n", names[a], width, result.frobenius(a, a),
               best == a ? "-" : names[best], width, best_r);
  }
  fmt::print("wrote {}\n", o.out);
  if (!o.plots.empty()) {
    for (const auto& png : plots::plot_result("coupling", o.out, o.plots)) fmt::print("wrote {}\n", png.string());
  }
}

}  // namespace

void register_coupling(CLI::App& app) {
  CLI::App* cmd =
      app.add_subcommand("coupling", "Coupling between Hessian blocks, r_ab = ‖H_ab‖_F / sqrt(‖H_aa‖_F ‖H_bb‖_F)");
  auto o = std::make_shared<CouplingCliOptions>();
  add_hessian_options(*cmd, o->inputs);
  cmd->add_option("--probes", o->probes, "Rademacher probes per block (≥ 30)")
      ->capture_default_str()
      ->check(CLI::Range(hessian::kMinCouplingProbes, 1 << 20));
  cmd->add_option("--out,-o", o->out, "result file (HDF5, schema blockscope.coupling/1)")->capture_default_str();
  cmd->add_option("--plots", o->plots, "directory for the coupling heatmap PNG");
  cmd->callback([o] { run_coupling(*o); });
}

}  // namespace blockscope::cli
