#include "hessian/block_spectra.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "hessian/random.h"
#include "hessian/spectral_distance.h"

namespace blockscope::hessian {

void validate(const BlockSpectraOptions& options) {
  if (options.slq.steps < 2)
    throw std::runtime_error(fmt::format("Lanczos steps per probe must be ≥ 2 (got {})", options.slq.steps));
  if (options.slq.probes < 1)
    throw std::runtime_error(fmt::format("SLQ probes per block must be ≥ 1 (got {})", options.slq.probes));
  if (!(options.smoothing.value > 0))
    throw std::runtime_error(fmt::format("the smoothing σ must be > 0 (got {})", options.smoothing.value));
  if (options.grid.min_points < 4000)
    throw std::runtime_error(fmt::format("the density grid needs ≥ 4000 points (got {})", options.grid.min_points));
  if (options.bootstrap_replicates < 0)
    throw std::runtime_error(fmt::format("bootstrap replicates must be ≥ 0 (got {})", options.bootstrap_replicates));
  if (options.top_eigenvalues && options.top.k < 1)
    throw std::runtime_error(fmt::format("top-k must be ≥ 0 (got {})", options.top.k));
}

SpectraPlan plan_block_spectra(const std::vector<Eigen::Index>& sizes, const BlockSpectraOptions& options) {
  SpectraPlan plan;
  for (const Eigen::Index n : sizes) {
    plan.slq += std::int64_t(options.slq.probes) * std::min<Eigen::Index>(options.slq.steps, n);
    if (options.top_eigenvalues) plan.top += expected_top_operations(n, options.top);
  }
  return plan;
}

BlockSpectra compute_block_spectra(const std::vector<const SymmetricOperator*>& blocks,
                                   const std::vector<std::string>& names, const BlockSpectraOptions& options,
                                   const OperationProgress& progress) {
  const std::size_t count = blocks.size();
  if (count == 0) throw std::runtime_error("no blocks to analyse");
  if (names.size() != count) throw std::runtime_error("one name per block is required");
  validate(options);

  BlockSpectra out;
  out.names = names;
  out.slq.resize(count);
  if (options.top_eigenvalues) out.top.resize(count);
  for (const SymmetricOperator* op : blocks) out.sizes.push_back(op->rows());
  std::int64_t expected = plan_block_spectra(out.sizes, options).total();

  // Largest blocks first, so the last job to finish is a short one.
  std::vector<std::size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return out.sizes[a] > out.sizes[b]; });

  std::atomic<std::size_t> next{0};
  std::mutex mutex;  // guards progress reporting and the first error
  std::int64_t done = 0;
  std::exception_ptr error;
  auto report = [&](std::int64_t delta, std::int64_t extra_expected) {
    std::lock_guard<std::mutex> lock(mutex);
    done += delta;
    expected += extra_expected;
    if (progress) progress(done, expected);
  };
  auto worker = [&] {
    for (std::size_t job; (job = next.fetch_add(1)) < count;) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (error) return;
      }
      const std::size_t b = order[job];
      try {
        SlqOptions slq_options = options.slq;
        slq_options.seed = derive_seed(options.slq.seed, b);
        const std::int64_t steps = std::min<Eigen::Index>(options.slq.steps, out.sizes[b]);
        // A probe counts its planned steps (one that breaks down early does fewer products).
        out.slq[b] = slq(*blocks[b], slq_options, [&](int, int) { report(steps, 0); });
        if (options.top_eigenvalues) {
          out.top[b] = top_eigenvalues(*blocks[b], options.top);
          // The estimate is replaced by the count Spectra needed.
          report(out.top[b].num_operations,
                 out.top[b].num_operations - expected_top_operations(out.sizes[b], options.top));
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  const int threads = std::max(1, std::min<int>(options.threads, static_cast<int>(count)));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  for (std::size_t b = 0; b < count; ++b) {
    out.num_operations += out.slq[b].num_operations;
    if (options.top_eigenvalues) out.num_operations += out.top[b].num_operations;
  }
  out.grid = common_grid(out.slq, options.smoothing, options.grid);
  out.densities = slq_densities(out.slq, out.grid);
  out.js = js_matrix(out.densities);
  out.mean_js = count > 1 ? mean_pairwise(out.js) : 0.0;
  out.js_stderr = (options.slq.probes >= 2 && options.bootstrap_replicates >= 2)
                      ? js_bootstrap_stderr(out.slq, out.grid, options.bootstrap_replicates, options.slq.seed)
                      : Eigen::MatrixXd::Zero(count, count);
  return out;
}

}  // namespace blockscope::hessian
