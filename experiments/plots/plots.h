// Figures drawn by matplotlib (Agg backend) through an embedded Python
// interpreter (pybind11), from a result file: the plotting code lives in
// experiments/plots/blockscope_plots.py and reads the HDF5 file with h5py,
// so the same code serves notebooks. A build without BLOCKSCOPE_PYTHON
// throws a sentence saying how to get plots.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace blockscope::plots {

// Draws every figure the result file supports into `directory` (created if
// needed) and returns the PNG paths written. `kind` selects the figure set:
// "spectrum" (densities, JS heatmap, coupling heatmap if present),
// "coupling" (coupling heatmap), "diagnostics" (ln(v/v̄) histograms, CV per
// block, per-tensor error), "ablation" (held-out curves, loss vs state
// bytes with the Pareto front, loss vs learning rate).
std::vector<std::filesystem::path> plot_result(const std::string& kind, const std::filesystem::path& result_file,
                                               const std::filesystem::path& directory);

// One figure comparing several spectrum files (mean JS per model, and the
// per-block λ_max of each); returns the PNG path(s) written.
std::vector<std::filesystem::path> plot_comparison(const std::vector<std::filesystem::path>& spectrum_files,
                                                   const std::filesystem::path& directory);

}  // namespace blockscope::plots
