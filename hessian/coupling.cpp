#include "hessian/coupling.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "hessian/random.h"

namespace blockscope::hessian {
namespace {

double squared_norm_on(const Eigen::VectorXd& y, const BlockRanges& ranges) {
  double sum = 0.0;
  for (const IndexRange& r : ranges) sum += y.segment(r.begin, r.size()).squaredNorm();
  return sum;
}

}  // namespace

CouplingResult block_coupling(const SymmetricOperator& op, const std::vector<BlockRanges>& blocks,
                              const CouplingOptions& options, const ProgressCallback& progress) {
  if (options.probes < kMinCouplingProbes) {
    throw std::runtime_error(
        fmt::format("block coupling needs at least {} probes per block, got {}; raise the probe count",
                    kMinCouplingProbes, options.probes));
  }
  if (blocks.empty()) throw std::runtime_error("block coupling got no blocks; pass at least one block");
  const Eigen::Index n = op.rows();
  BlockRanges all;
  for (const BlockRanges& block : blocks) {
    validate_ranges(block, n);
    all.insert(all.end(), block.begin(), block.end());
  }
  validate_ranges(all, n);  // disjoint across blocks

  const Eigen::Index b_count = Eigen::Index(blocks.size());
  const int total = int(b_count) * options.probes;
  // Welford running mean and sum of squared deviations of ‖y_a‖² over probes;
  // column b = probed block.
  Eigen::MatrixXd mean = Eigen::MatrixXd::Zero(b_count, b_count);
  Eigen::MatrixXd deviations = Eigen::MatrixXd::Zero(b_count, b_count);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd y(n);
  CouplingResult result;
  for (Eigen::Index b = 0; b < b_count; ++b) {
    const BlockRanges& probed = blocks[std::size_t(b)];
    const Eigen::Index size = validate_ranges(probed, n);
    const std::uint64_t block_seed = derive_seed(options.seed, std::uint64_t(b));
    for (int l = 0; l < options.probes; ++l) {
      const Eigen::VectorXd z = rademacher(size, derive_seed(block_seed, std::uint64_t(l)));
      Eigen::Index offset = 0;
      for (const IndexRange& r : probed) {
        x.segment(r.begin, r.size()) = z.segment(offset, r.size());
        offset += r.size();
      }
      op.perform_op(x.data(), y.data());
      ++result.num_operations;
      for (Eigen::Index a = 0; a < b_count; ++a) {
        const double s = squared_norm_on(y, blocks[std::size_t(a)]);
        const double delta = s - mean(a, b);
        mean(a, b) += delta / double(l + 1);
        deviations(a, b) += delta * (s - mean(a, b));
      }
      for (const IndexRange& r : probed) x.segment(r.begin, r.size()).setZero();
      if (progress) progress(int(b) * options.probes + l + 1, total);
    }
  }
  const double p = options.probes;
  const Eigen::MatrixXd mean_variance = deviations / ((p - 1.0) * p);  // variance of the mean

  result.probes = options.probes;
  result.squared = 0.5 * (mean + mean.transpose());
  result.squared_stderr = (0.25 * (mean_variance + mean_variance.transpose())).cwiseSqrt();
  result.squared.diagonal() = mean.diagonal();
  result.squared_stderr.diagonal() = mean_variance.diagonal().cwiseSqrt();
  result.frobenius = result.squared.cwiseSqrt();
  result.ratio.resize(b_count, b_count);
  for (Eigen::Index a = 0; a < b_count; ++a) {
    for (Eigen::Index b = 0; b < b_count; ++b) {
      const double denominator = std::sqrt(result.frobenius(a, a) * result.frobenius(b, b));
      result.ratio(a, b) =
          denominator > 0.0 ? result.frobenius(a, b) / denominator : std::numeric_limits<double>::quiet_NaN();
    }
  }
  return result;
}

}  // namespace blockscope::hessian
