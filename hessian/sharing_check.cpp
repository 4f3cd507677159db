#include "hessian/sharing_check.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace blockscope::hessian {
namespace {

// Average ranks (ties share their mean rank), 0-based.
std::vector<double> ranks(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> rank(values.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double mean_rank = 0.5 * double(i + j);
    for (std::size_t k = i; k <= j; ++k) rank[order[k]] = mean_rank;
    i = j + 1;
  }
  return rank;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = double(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return (sxx > 0 && syy > 0) ? sxy / std::sqrt(sxx * syy) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

PairCheckResult check_gradient_ratio_pairs(const Eigen::MatrixXd& h, const Eigen::VectorXd& g2,
                                           const std::vector<double>& thresholds) {
  const Eigen::Index n = h.rows();
  if (h.cols() != n || g2.size() != n) {
    throw std::runtime_error("pair check: the Hessian block must be [n, n] and the squared gradients [n]");
  }
  PairCheckResult r;
  r.thresholds = thresholds;
  r.pairs_above.assign(thresholds.size(), 0);
  std::vector<std::int64_t> within(thresholds.size(), 0);
  std::vector<double> coupling, closeness;
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = i + 1; j < n; ++j) {
      if (h(i, i) <= 0 || h(j, j) <= 0 || g2[i] <= 0 || g2[j] <= 0) {
        ++r.skipped;
        continue;
      }
      ++r.pairs;
      const double mixed = std::abs(h(i, j));
      const double c = mixed / std::max(h(i, i), h(j, j));
      const double log_ratio = std::abs(std::log(g2[i] / g2[j]));
      for (std::size_t k = 0; k < thresholds.size(); ++k) {
        if (c < thresholds[k]) continue;
        ++r.pairs_above[k];
        if (log_ratio <= -2.0 * std::log(thresholds[k])) ++within[k];
      }
      coupling.push_back(mixed / std::sqrt(h(i, i) * h(j, j)));
      closeness.push_back(-log_ratio);
    }
  }
  for (std::size_t k = 0; k < thresholds.size(); ++k) {
    r.fraction_within.push_back(r.pairs_above[k] > 0 ? double(within[k]) / double(r.pairs_above[k])
                                                     : std::numeric_limits<double>::quiet_NaN());
  }
  r.rank_correlation =
      coupling.size() >= 3 ? pearson(ranks(coupling), ranks(closeness)) : std::numeric_limits<double>::quiet_NaN();
  return r;
}

}  // namespace blockscope::hessian
