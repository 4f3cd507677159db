// The spectrum result file (schema blockscope.spectrum/1, docs/design.md
// "Spectrum file"), written atomically:
//   /blocks/names [B], /blocks/sizes [B], /blocks/ndim [B] (of the tensor
//   holding the block: 1 = biases/norms, ≥ 2 = weight matrices/kernels)
//   /slq/nodes [B, n_v, m], /slq/weights [B, n_v, m] (unused steps: 0),
//   /slq/steps [B, n_v]
//   /density/grid [G], /density/values [B, G]
//   /js/matrix [B, B], /js/stderr [B, B]
//   /top_eigenvalues [B, k] (descending; NaN where unavailable),
//   /smallest_eigenvalue [B], /top_status [B] strings, /top_hvp_count [B]
//   /trace [B], /trace_stderr [B]
// Root attributes: every setting (sigma, sigma_mode, sigma_absolute,
// lanczos_steps, probes, reorthogonalize, dtype, seed, n_batches,
// batch_size, examples, loss, loss_name, loss_reduction = "mean", model,
// data, hvp_count, mean_js, bootstrap_replicates, threads, graph_reused,
// grid_points, top_k, block_source, ...).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <variant>

#include <H5Cpp.h>

#include "hessian/block_spectra.h"

namespace blockscope::hessian {

// Settings recorded as root attributes, by name.
using Attribute = std::variant<std::string, double, std::int64_t, bool>;
using Attributes = std::map<std::string, Attribute>;

// Writes every entry of `attributes` as an attribute of `object`.
void write_attributes(H5::H5Object& object, const Attributes& attributes);
// Writes a [rows, cols] float64 dataset in HDF5's row-major order.
void write_matrix(H5::Group& group, const std::string& name, const Eigen::MatrixXd& matrix);

void write_spectrum_file(const std::filesystem::path& path, const BlockSpectra& spectra,
                         const std::vector<std::int64_t>& block_ndim, const BlockSpectraOptions& options,
                         const Attributes& settings);

}  // namespace blockscope::hessian
