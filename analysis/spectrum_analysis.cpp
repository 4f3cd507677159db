#include "analysis/spectrum_analysis.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

namespace blockscope::analysis {
namespace {

// Sets LibTorch's intra-op thread count for a scope.
class IntraOpThreads {
 public:
  explicit IntraOpThreads(int threads) : saved_(at::get_num_threads()) { at::set_num_threads(threads); }
  ~IntraOpThreads() { at::set_num_threads(saved_); }
  IntraOpThreads(const IntraOpThreads&) = delete;
  IntraOpThreads& operator=(const IntraOpThreads&) = delete;

 private:
  int saved_;
};

}  // namespace

hessian::BlockSpectraOptions spectra_options(const SpectrumSettings& s, const std::string& dtype, std::uint64_t seed) {
  hessian::BlockSpectraOptions options;
  options.slq = {s.lanczos_steps, s.probes, s.reorthogonalize, seed};
  options.smoothing = {s.sigma, hessian::parse_sigma_mode(s.sigma_mode)};
  options.grid.min_points = s.grid_points;
  options.top_eigenvalues = s.top_k > 0;
  options.top.k = std::max(1, s.top_k);
  // Spectra's relative residual tolerance must sit above the HVP's own
  // rounding noise: ~1e-7 relative in float32 (residuals stall near 1e-6),
  // ~1e-16 in float64.
  options.top.tolerance = dtype == "float64" ? 1e-10 : 1e-5;
  options.bootstrap_replicates = s.bootstrap;
  if (s.threads < 0) throw std::runtime_error("threads must be ≥ 0 (0 = all cores)");
  options.threads = s.threads > 0 ? s.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  hessian::validate(options);
  return options;
}

SpectrumAnalysis analyse_spectrum(HessianSession& session, const hessian::BlockSpectraOptions& options,
                                  const hessian::OperationProgress& progress) {
  hessian::validate(options);
  std::unique_ptr<IntraOpThreads> one_thread;
  if (options.threads > 1) one_thread = std::make_unique<IntraOpThreads>(1);
  std::vector<std::unique_ptr<hessian::BlockHessian>> operators;
  std::vector<const hessian::SymmetricOperator*> pointers;
  std::vector<std::string> names;
  SpectrumAnalysis out;
  for (const auto& block : session.blocks) {
    out.block_ndim.push_back(block.ndim);
    operators.push_back(std::make_unique<hessian::BlockHessian>(*session.hessian, block.ranges, block.name));
    pointers.push_back(operators.back().get());
    names.push_back(block.name);
  }
  const auto start = std::chrono::steady_clock::now();
  out.spectra = hessian::compute_block_spectra(pointers, names, options, progress);
  out.options = options;
  out.settings = session.settings;
  out.settings["threads"] = static_cast<std::int64_t>(options.threads);
  out.settings["intra_op_threads"] = static_cast<std::int64_t>(at::get_num_threads());
  out.settings["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

void write_spectrum_file(const std::filesystem::path& path, const SpectrumAnalysis& analysis) {
  hessian::write_spectrum_file(path, analysis.spectra, analysis.block_ndim, analysis.options, analysis.settings);
}

}  // namespace blockscope::analysis
