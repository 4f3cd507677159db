// `blockscope spectrum`: per-block Hessian spectra by SLQ, JS distances
// between them, top eigenvalues and traces; HDF5 result + PNG plots.
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <thread>

#include "experiments/analysis/hessian_session.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/progress_bar.h"
#include "experiments/cli/validators.h"
#include "experiments/plots/plots.h"
#include "hessian/block_spectra.h"
#include "hessian/spectrum_file.h"
#include "io/h5_file.h"

namespace blockscope::cli {
namespace {

struct SpectrumOptions {
  analysis::HessianInputs inputs;
  int steps = 100;
  int probes = 10;
  double sigma = 0.01;
  std::string sigma_mode = "relative";
  std::int64_t grid_points = 4000;
  int top_k = 5;
  bool no_reorthogonalize = false;
  int bootstrap = 100;
  int threads = 0;
  std::string out = "spectrum.h5";
  std::string plots;
};

void print_summary(const hessian::BlockSpectra& s) {
  std::size_t width = 5;
  for (const auto& n : s.names) width = std::max(width, n.size());
  const bool top = !s.top.empty();
  fmt::print("\n{:<{}} {:>8} {:>12} {:>12} {:>24} {:>8}\n", "block", width, "size", "λ_max", "λ_min",
             "trace ± se", "mean JS");
  const std::size_t B = s.names.size();
  for (std::size_t b = 0; b < B; ++b) {
    double row_js = B > 1 ? s.js.row(b).sum() / double(B - 1) : 0.0;
    std::string lmax = top ? fmt::format("{:.4g}", s.top[b].largest.size() ? s.top[b].largest[0] : NAN) : "-";
    std::string lmin = top ? fmt::format("{:.4g}", s.top[b].smallest) : "-";
    fmt::print("{:<{}} {:>8} {:>12} {:>12} {:>24} {:>8.4f}\n", s.names[b], width, s.sizes[b], lmax, lmin,
               fmt::format("{:.4g} ± {:.2g}", s.slq[b].trace, s.slq[b].trace_stderr), row_js);
  }
  fmt::print("\nmean pairwise JS distance: {:.4f} over {} blocks (σ = {:.3g} absolute; grid {} points)\n",
             s.mean_js, B, s.grid.sigma, s.grid.points.size());
}

void run_spectrum(SpectrumOptions o) {
  io::check_output_file(o.out);
  if (!o.plots.empty()) io::check_output_directory(o.plots);
  const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  hessian::BlockSpectraOptions options;
  options.slq = {o.steps, o.probes, !o.no_reorthogonalize, o.inputs.seed};
  options.smoothing = {o.sigma, hessian::parse_sigma_mode(o.sigma_mode)};
  options.grid.min_points = o.grid_points;
  options.top_eigenvalues = o.top_k > 0;
  options.top.k = std::max(1, o.top_k);
  // Spectra's relative residual tolerance must sit above the HVP's own
  // rounding noise: ~1e-7 relative in float32 (residuals stall near 1e-6),
  // ~1e-16 in float64.
  options.top.tolerance = o.inputs.dtype == "float64" ? 1e-10 : 1e-5;
  options.bootstrap_replicates = o.bootstrap;
  options.threads = threads;
  hessian::validate(options);
  // Blocks run concurrently; each product then uses one intra-op thread.
  if (threads > 1) at::set_num_threads(1);
  analysis::HessianSession session = analysis::open_hessian_session(o.inputs);

  std::vector<std::unique_ptr<hessian::BlockHessian>> operators;
  std::vector<const hessian::SymmetricOperator*> pointers;
  std::vector<std::string> names;
  std::vector<std::int64_t> ndims;
  for (const auto& block : session.blocks) {
    ndims.push_back(block.ndim);
    operators.push_back(std::make_unique<hessian::BlockHessian>(*session.hessian, block.ranges, block.name));
    pointers.push_back(operators.back().get());
    names.push_back(block.name);
  }
  fmt::print(stderr, "[spectrum] {} — {} parameters, {} blocks, loss {:.4f} on {} examples ({} batches), {} threads\n",
             session.model->description(), session.model->num_parameters(), names.size(),
             session.hessian->loss(), session.hessian->num_examples(), session.hessian->num_batches(), threads);
  if (session.dataset.size() > session.hessian->num_examples()) {
    fmt::print(stderr, "[spectrum] the data holds {} examples; the Hessian uses the first {} (--batches N for more, 0 "
               "for all: each HVP costs in proportion)\n",
               session.dataset.size(), session.hessian->num_examples());
  }
  std::vector<Eigen::Index> sizes;
  for (const auto* op : pointers) sizes.push_back(op->rows());
  const hessian::SpectraPlan plan = hessian::plan_block_spectra(sizes, options);
  fmt::print(stderr, "[spectrum] plan: {} HVPs = {} for SLQ ({} blocks × {} probes × ≤ {} steps){}\n", plan.total(),
             plan.slq, names.size(), o.probes, o.steps,
             options.top_eigenvalues ? fmt::format(" + about {} for top-{} (Spectra's count is known as each block "
                                                   "converges)", plan.top, o.top_k)
                                     : "");
  ProgressBar bar("spectrum", "HVPs");
  hessian::BlockSpectra spectra = hessian::compute_block_spectra(
      pointers, names, options, [&](std::int64_t done, std::int64_t total) { bar.update(done, total); });
  bar.finish();

  hessian::Attributes settings = session.settings;
  settings["threads"] = static_cast<std::int64_t>(threads);
  settings["seconds"] = bar.elapsed_seconds();
  hessian::write_spectrum_file(o.out, spectra, ndims, options, settings);
  print_summary(spectra);
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
  analysis::add_hessian_options(*cmd, o->inputs);
  cmd->add_option("--lanczos-steps", o->steps, "Lanczos steps m per probe (≥ 2)")->capture_default_str()->check(kPositive);
  cmd->add_option("--probes", o->probes, "SLQ probes n_v per block (≥ 1; ≥ 20 for JS comparisons)")->capture_default_str()->check(kPositive);
  cmd->add_option("--sigma", o->sigma, "Gaussian smoothing σ of the densities (> 0)")->capture_default_str();
  cmd->add_option("--sigma-mode", o->sigma_mode, "relative (σ × spectral range) or absolute")
      ->capture_default_str()->check(CLI::IsMember({"relative", "absolute"}));
  cmd->add_option("--grid-points", o->grid_points, "minimum density grid points (≥ 4000)")->capture_default_str();
  cmd->add_option("--top-k", o->top_k, "top eigenvalues per block by Spectra (0 = skip)")
      ->capture_default_str()->check(kNonNegative);
  cmd->add_flag("--no-reorthogonalize", o->no_reorthogonalize,
                "skip full re-orthogonalisation (cheaper; ghost eigenvalues appear)");
  cmd->add_option("--bootstrap", o->bootstrap, "bootstrap replicates for the JS standard error")->capture_default_str()->check(kNonNegative);
  cmd->add_option("--threads", o->threads, "blocks analysed concurrently (0 = all cores)")
      ->capture_default_str()->check(kNonNegative);
  cmd->add_option("--out,-o", o->out, "result file (HDF5, schema blockscope.spectrum/1)")->capture_default_str();
  cmd->add_option("--plots", o->plots, "directory for PNG plots (densities, JS heatmap)");
  cmd->callback([o] { run_spectrum(*o); });
}

}  // namespace blockscope::cli
