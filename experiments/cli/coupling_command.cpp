// `blockscope coupling`: block coupling r_ab = ‖H_ab‖_F / sqrt(‖H_aa‖_F
// ‖H_bb‖_F) from Rademacher probes (docs/algorithms.md §4). File schema
// blockscope.coupling/1: /blocks/names [B], /blocks/sizes [B],
// /coupling/{frobenius, squared, squared_stderr, ratio} [B, B]; settings
// as attributes, probes, hvp_count.
#include <fmt/format.h>

#include "experiments/analysis/hessian_session.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/progress_bar.h"
#include "experiments/cli/validators.h"
#include "experiments/plots/plots.h"
#include "hessian/coupling.h"
#include "hessian/spectrum_file.h"
#include "io/h5_file.h"

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
  const std::int64_t n = session.hessian->layout().total();
  hessian::BlockHessian full(*session.hessian, {{0, n}}, "all");
  std::vector<hessian::BlockRanges> ranges;
  std::vector<std::string> names;
  std::vector<std::int64_t> sizes;
  for (const auto& b : session.blocks) {
    ranges.push_back(b.ranges);
    names.push_back(b.name);
    std::int64_t size = 0;
    for (const auto& r : b.ranges) size += r.size();
    sizes.push_back(size);
  }
  ProgressBar bar("coupling", "HVPs");
  hessian::CouplingResult result = hessian::block_coupling(
      full, ranges, {o.probes, o.inputs.seed}, [&](int done, int total) { bar.update(done, total); });
  bar.finish();

  io::AtomicH5Writer writer(o.out, "blockscope.coupling/1");
  writer.describe("/blocks/names", "block names");
  writer.describe("/blocks/sizes", "elements in each block");
  writer.describe("/coupling/frobenius", "[block, block] estimated Frobenius norm ||H_ab||_F of each Hessian block pair");
  writer.describe("/coupling/squared", "[block, block] Hutchinson estimate of ||H_ab||_F^2");
  writer.describe("/coupling/squared_stderr", "[block, block] standard error of the ||H_ab||_F^2 estimate over probes");
  writer.describe("/coupling/ratio", "[block, block] r_ab = ||H_ab||_F / sqrt(||H_aa||_F ||H_bb||_F); not bounded by 1");
  H5::Group root = writer.root();
  hessian::write_attributes(root, session.settings);
  io::set_attribute(root, "probes", std::int64_t(o.probes));
  io::set_attribute(root, "seed", static_cast<std::int64_t>(o.inputs.seed));
  io::set_attribute(root, "hvp_count", result.num_operations);
  H5::Group blocks = io::ensure_group(writer.file(), "/blocks");
  io::write_strings(blocks, "names", names);
  io::write_array(blocks, "sizes", sizes.data(), {sizes.size()});
  H5::Group coupling = io::ensure_group(writer.file(), "/coupling");
  hessian::write_matrix(coupling, "frobenius", result.frobenius);
  hessian::write_matrix(coupling, "squared", result.squared);
  hessian::write_matrix(coupling, "squared_stderr", result.squared_stderr);
  hessian::write_matrix(coupling, "ratio", result.ratio);
  writer.commit();

  // Summary: each block's strongest partner.
  std::size_t width = 5;
  for (const auto& name : names) width = std::max(width, name.size());
  fmt::print("\n{:<{}} {:>12} {:>{}} {:>8}\n", "block", width, "‖H_bb‖_F", "most coupled block", width, "r");
  for (std::size_t a = 0; a < names.size(); ++a) {
    std::size_t best = a;
    double best_r = -1;
    for (std::size_t b = 0; b < names.size(); ++b) {
      if (b != a && std::isfinite(result.ratio(a, b)) && result.ratio(a, b) > best_r) best = b, best_r = result.ratio(a, b);
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
  CLI::App* cmd = app.add_subcommand("coupling", "Coupling between Hessian blocks, r_ab = ‖H_ab‖_F / sqrt(‖H_aa‖_F ‖H_bb‖_F)");
  auto o = std::make_shared<CouplingCliOptions>();
  analysis::add_hessian_options(*cmd, o->inputs);
  cmd->add_option("--probes", o->probes, "Rademacher probes per block (≥ 30)")->capture_default_str()->check(kPositive);
  cmd->add_option("--out,-o", o->out, "result file (HDF5, schema blockscope.coupling/1)")->capture_default_str();
  cmd->add_option("--plots", o->plots, "directory for the coupling heatmap PNG");
  cmd->callback([o] { run_coupling(*o); });
}

}  // namespace blockscope::cli
