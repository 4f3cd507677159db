// `blockscope report FILE.h5 ...`: compares the heterogeneity of several
// spectrum files (schema blockscope.spectrum/1) side by side — mean pairwise
// JS over all blocks and over weight blocks (tensors with ≥ 2 dimensions),
// the spread of block curvature scales — and draws a comparison figure.
// JS figures are only comparable at equal σ settings: the table shows them.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "analysis/heterogeneity_summary.h"
#include "experiments/cli/commands.h"
#include "experiments/plots/plots.h"
#include "io/h5_file.h"

namespace blockscope::cli {
namespace {

struct ReportOptions {
  std::vector<std::string> files;
  std::string plots;
};

void run_report(const ReportOptions& o) {
  if (!o.plots.empty()) io::check_output_directory(o.plots);
  std::vector<analysis::HeterogeneitySummary> rows;
  for (const auto& f : o.files) rows.push_back(analysis::summarise_spectrum_file(f));
  for (const auto& r : rows) {
    if (r.settings != rows.front().settings) {
      fmt::print(stderr,
                 "warning: the files were made with different settings ({}: {}; {}: {}); JS distances depend "
                 "on them, so the ranking below compares unlike measurements — rerun with equal --sigma, "
                 "--lanczos-steps and --probes\n",
                 o.files.front(), rows.front().settings, o.files[&r - rows.data()], r.settings);
      break;
    }
  }
  std::size_t width = 5;
  for (const auto& r : rows) width = std::max(width, r.model.size());
  fmt::print("Hessian block heterogeneity (bounded JS distance between block spectra, log2, in [0, 1])\n\n");
  fmt::print("{:<{}} {:>9} {:>7} {:>15} {:>9} {:>20} {:>14}\n", "model", width, "params", "blocks", "σ", "mean JS",
             "weight-block JS", "λ_max spread");
  for (const auto& r : rows) {
    fmt::print("{:<{}} {:>9} {:>7} {:>15} {:>9.4f} {:>20} {:>14}\n", r.model, width, r.parameters, r.blocks, r.sigma,
               r.mean_js, fmt::format("{:.4f} ({} blocks)", r.matrix_js, r.matrix_blocks),
               std::isfinite(r.lambda_decades) ? fmt::format("{:.1f} decades", r.lambda_decades) : "-");
  }
  std::vector<std::size_t> order(rows.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return rows[a].matrix_js < rows[b].matrix_js; });
  std::string ranking;
  for (std::size_t i : order) ranking += (ranking.empty() ? "" : " < ") + rows[i].model;
  fmt::print("\nweight-block heterogeneity, lowest to highest: {}\n", ranking);
  fmt::print(
      "(weight blocks: tensors with ≥ 2 dimensions; the per-pair bootstrap standard error averages "
      "{:.3f} over those pairs)\n",
      rows.empty() ? NAN : rows[order.back()].matrix_js_se);
  if (!o.plots.empty()) {
    std::vector<std::filesystem::path> files(o.files.begin(), o.files.end());
    for (const auto& png : plots::plot_comparison(files, o.plots)) fmt::print("wrote {}\n", png.string());
  }
}

}  // namespace

void register_report(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("report", "Compare the block heterogeneity of several spectrum files");
  auto o = std::make_shared<ReportOptions>();
  cmd->add_option("files", o->files, "spectrum files (blockscope.spectrum/1)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--plots", o->plots, "directory for the comparison figure");
  cmd->callback([o] { run_report(*o); });
}

}  // namespace blockscope::cli
