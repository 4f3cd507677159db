// `blockscope report FILE.h5 ...`: compares the heterogeneity of several
// spectrum files (schema blockscope.spectrum/1) side by side — mean pairwise
// JS over all blocks and over weight blocks (tensors with ≥ 2 dimensions),
// the spread of block curvature scales — and draws a comparison figure.
// JS figures are only comparable at equal σ settings: the table shows them.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "experiments/cli/commands.h"
#include "experiments/plots/plots.h"
#include "io/h5_file.h"

namespace blockscope::cli {
namespace {

struct ReportOptions {
  std::vector<std::string> files;
  std::string plots;
};

struct FileSummary {
  std::string model;
  std::string settings;  // σ, m and n_v: JS values are comparable only when these agree
  std::int64_t parameters = 0, blocks = 0, matrix_blocks = 0;
  std::string sigma;
  double mean_js = NAN, matrix_js = NAN, matrix_js_se = NAN;
  double lambda_decades = NAN;  // log10(max λ_max / min λ_max) over weight blocks
};

FileSummary summarise(const std::string& path) {
  H5::H5File file = io::open_for_reading(path);
  H5::Group root = file.openGroup("/");
  const std::string schema = io::has_attribute(root, "schema") ? io::read_string_attribute(root, "schema") : "";
  if (schema != "blockscope.spectrum/1") {
    throw std::runtime_error(fmt::format("{} is not a spectrum file (schema '{}'); make one with `blockscope spectrum`", path, schema));
  }
  FileSummary s;
  s.model = io::read_string_attribute(root, "model_spec");
  s.parameters = io::read_int_attribute(root, "parameters");
  s.sigma = fmt::format("{:g} {}", io::read_double_attribute(root, "sigma"), io::read_string_attribute(root, "sigma_mode"));
  s.mean_js = io::read_double_attribute(root, "mean_js");
  s.settings = fmt::format("σ = {}, m = {}, n_v = {}", s.sigma, io::read_int_attribute(root, "lanczos_steps"),
                           io::read_int_attribute(root, "probes"));
  H5::Group blocks = file.openGroup("/blocks");
  std::vector<std::int64_t> ndim = io::read_int64s(blocks, "ndim");
  s.blocks = static_cast<std::int64_t>(ndim.size());
  std::vector<double> js = io::read_doubles(file.openGroup("/js"), "matrix");
  std::vector<double> se = io::read_doubles(file.openGroup("/js"), "stderr");
  const std::size_t B = ndim.size();
  if (B == 0) throw std::runtime_error(fmt::format("{} is corrupt: it has no blocks", path));
  if (js.size() != B * B || se.size() != B * B) {
    throw std::runtime_error(fmt::format("{} is corrupt: /js/matrix and /js/stderr must be [{}, {}] for its {} blocks",
                                         path, B, B, B));
  }
  double sum = 0, sum_se = 0;
  std::int64_t pairs = 0;
  for (std::size_t a = 0; a < B; ++a) {
    if (ndim[a] < 2) continue;
    ++s.matrix_blocks;
    for (std::size_t b = a + 1; b < B; ++b) {
      if (ndim[b] < 2) continue;
      sum += js[a * B + b], sum_se += se[a * B + b], ++pairs;
    }
  }
  if (pairs > 0) s.matrix_js = sum / pairs, s.matrix_js_se = sum_se / pairs;
  if (io::has_dataset(root, "top_eigenvalues")) {
    std::vector<double> top = io::read_doubles(root, "top_eigenvalues");
    const std::size_t k = top.size() / B;
    if (k == 0 || top.size() != k * B) {
      throw std::runtime_error(fmt::format("{} is corrupt: /top_eigenvalues must be [{}, k]", path, B));
    }
    double lo = INFINITY, hi = 0;
    for (std::size_t b = 0; b < B; ++b) {
      const double l = top[b * k];
      if (ndim[b] >= 2 && std::isfinite(l) && l > 0) lo = std::min(lo, l), hi = std::max(hi, l);
    }
    if (hi > 0 && std::isfinite(lo)) s.lambda_decades = std::log10(hi / lo);
  }
  return s;
}

void run_report(const ReportOptions& o) {
  if (!o.plots.empty()) io::check_output_directory(o.plots);
  std::vector<FileSummary> rows;
  for (const auto& f : o.files) rows.push_back(summarise(f));
  for (const auto& r : rows) {
    if (r.settings != rows.front().settings) {
      fmt::print(stderr, "warning: the files were made with different settings ({}: {}; {}: {}); JS distances depend "
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
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return rows[a].matrix_js < rows[b].matrix_js; });
  std::string ranking;
  for (std::size_t i : order) ranking += (ranking.empty() ? "" : " < ") + rows[i].model;
  fmt::print("\nweight-block heterogeneity, lowest to highest: {}\n", ranking);
  fmt::print("(weight blocks: tensors with ≥ 2 dimensions; the per-pair bootstrap standard error averages "
             "{:.3f} over those pairs)\n", rows.empty() ? NAN : rows[order.back()].matrix_js_se);
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
