// `blockscope spectrum`: per-block Hessian spectra by SLQ, JS distances
// between them, top eigenvalues and traces; HDF5 result + PNG plots.
#include <fmt/format.h>

#include "analysis/spectrum_analysis.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/hessian_options.h"
#include "experiments/cli/validators.h"
#include "experiments/plots/plots.h"
#include "io/h5_file.h"
#include "io/progress_bar.h"

namespace blockscope::cli {
namespace {

struct SpectrumOptions {
  analysis::HessianInputs inputs;
  analysis::SpectrumSettings spectrum;
  bool no_reorthogonalize = false;
  std::string out = "spectrum.h5";
  std::string plots;
};

void print_summary(const hessian::BlockSpectra& s) {
  std::size_t width = 5;
  for (const auto& n : s.names) width = std::max(width, n.size());
  const bool top = !s.top.empty();
  fmt::print("\n{:<{}} {:>8} {:>12} {:>12} {:>24} {:>8}\n", "block", width, "size", "λ_max", "λ_min", "trace ± se",
             "mean JS");
  const std::size_t B = s.names.size();
  for (std::size_t b = 0; b < B; ++b) {
    double row_js = B > 1 ? s.js.row(b).sum() / double(B - 1) : 0.0;
    std::string lmax = top ? fmt::format("{:.4g}", s.top[b].largest.size() ? s.top[b].largest[0] : NAN) : "-";
    std::string lmin = top ? fmt::format("{:.4g}", s.top[b].smallest) : "-";
    fmt::print("{:<{}} {:>8} {:>12} {:>12} {:>24} {:>8.4f}\n", s.names[b], width, s.sizes[b], lmax, lmin,
               fmt::format("{:.4g} ± {:.2g}", s.slq[b].trace, s.slq[b].trace_stderr), row_js);
  }
  fmt::print("\nmean pairwise JS distance: {:.4f} over {} blocks (σ = {:.3g} absolute; grid {} points)\n", s.mean_js, B,
             s.grid.sigma, s.grid.points.size());
}

void run_spectrum(SpectrumOptions o) {
  io::check_output_file(o.out);
  if (!o.plots.empty()) io::check_output_directory(o.plots);
  o.spectrum.reorthogonalize = !o.no_reorthogonalize;
  const hessian::BlockSpectraOptions options = analysis::spectra_options(o.spectrum, o.inputs.dtype, o.inputs.seed);
  analysis::HessianSession session = analysis::open_hessian_session(o.inputs);
  fmt::print(stderr, "[spectrum] {} — {} parameters, {} blocks, loss {:.4f} on {} examples ({} batches), {} threads\n",
             session.model->description(), session.model->num_parameters(), session.blocks.size(),
             session.hessian->loss(), session.hessian->num_examples(), session.hessian->num_batches(), options.threads);
  if (session.dataset.size() > session.hessian->num_examples()) {
    fmt::print(stderr,
               "[spectrum] the data holds {} examples; the Hessian uses the first {} (--batches N for more, 0 "
               "for all: each HVP costs in proportion)\n",
               session.dataset.size(), session.hessian->num_examples());
  }
  std::vector<Eigen::Index> sizes;
  for (const auto& block : session.blocks) {
    Eigen::Index size = 0;
    for (const auto& r : block.ranges) size += r.size();
    sizes.push_back(size);
  }
  const hessian::SpectraPlan plan = hessian::plan_block_spectra(sizes, options);
  fmt::print(stderr, "[spectrum] plan: {} HVPs = {} for SLQ ({} blocks × {} probes × ≤ {} steps){}\n", plan.total(),
             plan.slq, sizes.size(), options.slq.probes, options.slq.steps,
             options.top_eigenvalues ? fmt::format(" + about {} for top-{} (Spectra's count is known as each block "
                                                   "converges)",
                                                   plan.top, options.top.k)
                                     : "");
  io::ProgressBar bar("spectrum", "HVPs");
  const analysis::SpectrumAnalysis result = analysis::analyse_spectrum(
      session, options, [&](std::int64_t done, std::int64_t total) { bar.update(done, total); });
  bar.finish();
  analysis::write_spectrum_file(o.out, result);
  print_summary(result.spectra);
  fmt::print("wrote {}\n", o.out);
  if (!o.plots.empty()) {
    for (const auto& png : plots::plot_result("spectrum", o.out, o.plots)) fmt::print("wrote {}\n", png.string());
  }
}

}  // namespace

void register_spectrum(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "spectrum", "Per-block Hessian spectra (SLQ), JS distances, top eigenvalues, traces → HDF5 + plots");
  auto o = std::make_shared<SpectrumOptions>();
  add_hessian_options(*cmd, o->inputs);
  cmd->add_option("--lanczos-steps", o->spectrum.lanczos_steps, "Lanczos steps m per probe (≥ 2)")
      ->capture_default_str()
      ->check(at_least(2, "≥ 2"));
  cmd->add_option("--probes", o->spectrum.probes, "SLQ probes n_v per block (≥ 1; ≥ 20 for JS comparisons)")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--sigma", o->spectrum.sigma, "Gaussian smoothing σ of the densities (> 0)")
      ->capture_default_str()
      ->check(above(0, "> 0"));
  cmd->add_option("--sigma-mode", o->spectrum.sigma_mode, "relative (σ × spectral range) or absolute")
      ->capture_default_str()
      ->check(CLI::IsMember({"relative", "absolute"}));
  cmd->add_option("--grid-points", o->spectrum.grid_points, "minimum density grid points (≥ 4000)")
      ->capture_default_str()
      ->check(at_least(4000, "≥ 4000"));
  cmd->add_option("--top-k", o->spectrum.top_k, "top eigenvalues per block by Spectra (0 = skip)")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd->add_flag("--no-reorthogonalize", o->no_reorthogonalize,
                "skip full re-orthogonalisation (cheaper; ghost eigenvalues appear)");
  cmd->add_option("--bootstrap", o->spectrum.bootstrap, "bootstrap replicates for the JS standard error")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd->add_option("--threads", o->spectrum.threads, "blocks analysed concurrently (0 = all cores)")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd->add_option("--out,-o", o->out, "result file (HDF5, schema blockscope.spectrum/1)")->capture_default_str();
  cmd->add_option("--plots", o->plots, "directory for PNG plots (densities, JS heatmap)");
  cmd->callback([o] { run_spectrum(*o); });
}

}  // namespace blockscope::cli
