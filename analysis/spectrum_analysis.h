// Per-block Hessian spectra of a session — the core call behind
// `blockscope spectrum` and blockscope.hessian.spectrum: SLQ densities, JS
// distances, top eigenvalues and traces (docs/algorithms.md §2–3), and the
// result file (hessian/spectrum_file.h, schema blockscope.spectrum/1).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/hessian_session.h"
#include "hessian/block_spectra.h"
#include "hessian/spectrum_file.h"

namespace blockscope::analysis {

struct SpectrumSettings {
  int lanczos_steps = 100;              // m per probe (≥ 2)
  int probes = 10;                      // n_v per block (≥ 1)
  double sigma = 0.01;                  // Gaussian smoothing (> 0)
  std::string sigma_mode = "relative";  // relative (× spectral range) or absolute
  std::int64_t grid_points = 4000;
  int top_k = 5;  // 0 = no top eigenvalues
  bool reorthogonalize = true;
  int bootstrap = 100;  // replicates for the JS standard error
  int threads = 0;      // blocks analysed concurrently; 0 = all cores
};

// The engine's options for these settings at this dtype and seed. Throws a
// one-line error naming the bad setting; call it before opening a session.
hessian::BlockSpectraOptions spectra_options(const SpectrumSettings& settings, const std::string& dtype,
                                             std::uint64_t seed);

struct SpectrumAnalysis {
  hessian::BlockSpectra spectra;
  std::vector<std::int64_t> block_ndim;  // [B]
  hessian::BlockSpectraOptions options;
  hessian::Attributes settings;  // the session's and this run's (threads, seconds)
};

// Runs every block of the session. While it runs, blocks go concurrently
// on options.threads workers and each product uses one intra-op thread (the
// caller's setting is restored after); results do not depend on the thread
// count. progress: (HVPs done, HVPs expected), serialised.
SpectrumAnalysis analyse_spectrum(HessianSession& session, const hessian::BlockSpectraOptions& options,
                                  const hessian::OperationProgress& progress = {});

void write_spectrum_file(const std::filesystem::path& path, const SpectrumAnalysis& analysis);

}  // namespace blockscope::analysis
