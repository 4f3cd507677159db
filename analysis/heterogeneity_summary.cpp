#include "analysis/heterogeneity_summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "io/h5_file.h"

namespace blockscope::analysis {

HeterogeneitySummary summarise_spectrum_file(const std::string& path) {
  H5::H5File file = io::open_for_reading(path);
  H5::Group root = file.openGroup("/");
  const std::string schema = io::has_attribute(root, "schema") ? io::read_string_attribute(root, "schema") : "";
  if (schema != "blockscope.spectrum/1") {
    throw std::runtime_error(
        fmt::format("{} is not a spectrum file (schema '{}'); make one with `blockscope spectrum`", path, schema));
  }
  HeterogeneitySummary s;
  s.model = io::read_string_attribute(root, "model_spec");
  s.parameters = io::read_int_attribute(root, "parameters");
  s.sigma =
      fmt::format("{:g} {}", io::read_double_attribute(root, "sigma"), io::read_string_attribute(root, "sigma_mode"));
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
    throw std::runtime_error(
        fmt::format("{} is corrupt: /js/matrix and /js/stderr must be [{}, {}] for its {} blocks", path, B, B, B));
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

}  // namespace blockscope::analysis
