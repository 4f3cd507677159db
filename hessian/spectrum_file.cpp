#include "hessian/spectrum_file.h"

#include <limits>

#include "io/h5_file.h"

namespace blockscope::hessian {
void write_attributes(H5::H5Object& object, const Attributes& attributes) {
  for (const auto& [name, value] : attributes) {
    std::visit([&](const auto& v) { io::set_attribute(object, name, v); }, value);
  }
}

void write_matrix(H5::Group& group, const std::string& name, const Eigen::MatrixXd& m) {
  // Eigen is column-major; HDF5 datasets are row-major.
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = m;
  io::write_array(group, name, row_major.data(), {hsize_t(m.rows()), hsize_t(m.cols())});
}

void write_spectrum_file(const std::filesystem::path& path, const BlockSpectra& s,
                         const std::vector<std::int64_t>& block_ndim, const BlockSpectraOptions& options,
                         const Attributes& settings) {
  const std::size_t B = s.names.size();
  const int probes = options.slq.probes, steps = options.slq.steps;
  io::AtomicH5Writer writer(path, "blockscope.spectrum/1");
  writer.describe("/blocks/names", "block names (a tensor, or tensor[begin:end] / 'block k' for partition blocks)");
  writer.describe("/blocks/sizes", "elements in each block");
  writer.describe("/blocks/ndim", "dimensions of the tensor each block lies in (weight blocks: >= 2)");
  writer.describe("/slq/nodes",
                  "[block, probe, step] Gauss quadrature nodes theta of each SLQ probe (unused steps: 0)");
  writer.describe("/slq/weights",
                  "[block, probe, step] Gauss quadrature weights tau of each SLQ probe (unused steps: 0)");
  writer.describe("/slq/steps", "[block, probe] Lanczos steps each probe took (fewer than m after a breakdown)");
  writer.describe("/density/grid", "eigenvalue grid shared by every block's density");
  writer.describe("/density/values", "[block, grid] Gaussian-smoothed spectral density of each block");
  writer.describe("/js/matrix",
                  "[block, block] bounded Jensen-Shannon distance (log2, in [0, 1]) between block densities");
  writer.describe("/js/stderr", "[block, block] bootstrap standard error of the JS distance over probes");
  writer.describe("/trace", "Hutchinson estimate of each block's Hessian trace");
  writer.describe("/trace_stderr", "standard error of the trace estimate");
  writer.describe("/top_eigenvalues", "[block, k] largest eigenvalues by Spectra, descending (NaN unless converged)");
  writer.describe("/smallest_eigenvalue", "smallest eigenvalue of each block (NaN unless converged)");
  writer.describe("/top_status",
                  "convergence status of the top-k solve per block (converged, exact, not_converging, ...)");
  writer.describe("/top_hvp_count", "operator applications the top-k solve of each block took");
  H5::Group root = writer.root();
  write_attributes(root, settings);
  io::set_attribute(root, "sigma", s.grid.smoothing.value);
  io::set_attribute(root, "sigma_mode", to_string(s.grid.smoothing.mode));
  io::set_attribute(root, "sigma_absolute", s.grid.sigma);
  io::set_attribute(root, "lanczos_steps", std::int64_t(steps));
  io::set_attribute(root, "probes", std::int64_t(probes));
  io::set_attribute(root, "reorthogonalize", options.slq.reorthogonalize);
  io::set_attribute(root, "seed", static_cast<std::int64_t>(options.slq.seed));
  io::set_attribute(root, "loss_reduction", "mean");
  io::set_attribute(root, "hvp_count", s.num_operations);
  io::set_attribute(root, "mean_js", s.mean_js);
  io::set_attribute(root, "bootstrap_replicates", std::int64_t(options.bootstrap_replicates));
  io::set_attribute(root, "grid_points", std::int64_t(s.grid.points.size()));
  io::set_attribute(root, "top_k", std::int64_t(options.top_eigenvalues ? options.top.k : 0));

  H5::Group blocks = io::ensure_group(writer.file(), "/blocks");
  io::write_strings(blocks, "names", s.names);
  std::vector<std::int64_t> sizes(s.sizes.begin(), s.sizes.end());
  io::write_array(blocks, "sizes", sizes.data(), {B});
  io::write_array(blocks, "ndim", block_ndim.data(), {B});

  std::vector<double> nodes(B * probes * steps, 0.0), weights(B * probes * steps, 0.0);
  std::vector<std::int64_t> used(B * probes, 0);
  std::vector<double> trace(B), trace_se(B);
  for (std::size_t b = 0; b < B; ++b) {
    const SlqResult& r = s.slq[b];
    for (int l = 0; l < probes; ++l) {
      used[b * probes + l] = r.steps[l];
      for (int k = 0; k < r.steps[l]; ++k) {
        nodes[(b * probes + l) * steps + k] = r.nodes(l, k);
        weights[(b * probes + l) * steps + k] = r.weights(l, k);
      }
    }
    trace[b] = r.trace;
    trace_se[b] = r.trace_stderr;
  }
  H5::Group slq_group = io::ensure_group(writer.file(), "/slq");
  io::write_array(slq_group, "nodes", nodes.data(), {B, hsize_t(probes), hsize_t(steps)});
  io::write_array(slq_group, "weights", weights.data(), {B, hsize_t(probes), hsize_t(steps)});
  io::write_array(slq_group, "steps", used.data(), {B, hsize_t(probes)});

  H5::Group density = io::ensure_group(writer.file(), "/density");
  io::write_array(density, "grid", s.grid.points.data(), {hsize_t(s.grid.points.size())});
  write_matrix(density, "values", s.densities);
  H5::Group js = io::ensure_group(writer.file(), "/js");
  write_matrix(js, "matrix", s.js);
  write_matrix(js, "stderr", s.js_stderr);

  H5::Group top_root = writer.root();
  io::write_array(top_root, "trace", trace.data(), {B});
  io::write_array(top_root, "trace_stderr", trace_se.data(), {B});
  if (options.top_eigenvalues) {
    const int k = options.top.k;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> top(B * k, nan), smallest(B, nan);
    std::vector<std::string> status(B);
    std::vector<std::int64_t> counts(B);
    for (std::size_t b = 0; b < B; ++b) {
      const TopEigenResult& t = s.top[b];
      for (int i = 0; i < k && i < t.largest.size(); ++i) top[b * k + i] = t.largest[i];
      smallest[b] = t.smallest;
      status[b] = to_string(t.largest_status) + "/" + to_string(t.smallest_status);
      counts[b] = t.num_operations;
    }
    io::write_array(top_root, "top_eigenvalues", top.data(), {B, hsize_t(k)});
    io::write_array(top_root, "smallest_eigenvalue", smallest.data(), {B});
    io::write_strings(top_root, "top_status", status);
    io::write_array(top_root, "top_hvp_count", counts.data(), {B});
  }
  writer.commit();
}

}  // namespace blockscope::hessian
