// Gefen codebook learning on the host; see codebook.h for the contract.
#include "optimizers/math/codebook.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace blockscope::optimizers::math {

std::int64_t histogram_block_size(std::int64_t n, std::int64_t period, bool reference_p1_quirk) {
  if (n <= 0 || period <= 0 || n % period != 0) {
    throw std::invalid_argument("histogram_block_size: period " + std::to_string(period) +
                                " must be positive and divide the tensor size " + std::to_string(n));
  }
  if (period > 1 || reference_p1_quirk) return period;
  for (std::int64_t d = std::min<std::int64_t>(n, 256); d > 1; --d) {
    if (n % d == 0) return d;
  }
  return 1;
}

void histogram_add(const float* g, std::int64_t n, std::int64_t block_size, std::vector<std::int64_t>& counts) {
  if (counts.size() != static_cast<std::size_t>(kHistogramBins)) {
    throw std::invalid_argument("histogram_add: counts must have " + std::to_string(kHistogramBins) + " bins, got " +
                                std::to_string(counts.size()));
  }
  if (n < 0 || block_size <= 0 || n % block_size != 0) {
    throw std::invalid_argument("histogram_add: block size " + std::to_string(block_size) +
                                " must be positive and divide the tensor size " + std::to_string(n));
  }
  for (std::int64_t start = 0; start < n; start += block_size) {
    float absmax = 0.0f;
    for (std::int64_t i = start; i < start + block_size; ++i) absmax = std::max(absmax, std::fabs(g[i]));
    for (std::int64_t i = start; i < start + block_size; ++i) {
      ++counts[histogram_bin(absmax > 0.0f ? g[i] / absmax : 0.0f)];
    }
  }
}

float histogram_bin_centre(int bin) {
  return static_cast<float>(2 * bin + 1 - kHistogramBins) / static_cast<float>(kHistogramBins);
}

std::vector<float> kmeans_1d(const std::vector<double>& points, const std::vector<double>& weights, int k) {
  const int n = static_cast<int>(points.size());
  if (k < 2 || n < k || weights.size() != points.size()) {
    throw std::invalid_argument("kmeans_1d: need k >= 2 and at least k weighted points, got k = " + std::to_string(k) +
                                ", " + std::to_string(n) + " points, " + std::to_string(weights.size()) + " weights");
  }
  // Prefix sums over points 1..n (1-based, as in the reference).
  std::vector<double> sum_w(n + 1, 0.0), sum_wx(n + 1, 0.0), sum_wx2(n + 1, 0.0);
  for (int i = 0; i < n; ++i) {
    sum_w[i + 1] = sum_w[i] + weights[i];
    sum_wx[i + 1] = sum_wx[i] + weights[i] * points[i];
    sum_wx2[i + 1] = sum_wx2[i] + weights[i] * (points[i] * points[i]);
  }
  // current[end] (previous[end]): best cost of points 1..end in c (c − 1)
  // clusters; split[c][end]: the first point of cluster c in that optimum. Cluster c can only end
  // at end ≤ n − (k − c) (every later cluster needs a point), so larger ends
  // are never computed or read; the result equals the reference's full table.
  // Segment costs use the reference's expressions: Σw(x−c)² expanded as
  // Σwx² − 2c·Σwx + c²·Σw for the pinned clusters, Σwx² − (Σwx)²/Σw otherwise.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> previous(n + 1, inf), current(n + 1, inf), candidate(n + 1, inf);
  std::vector<std::vector<int>> split(k + 1, std::vector<int>(n + 1, -1));
  previous[0] = 0.0;
  for (int c = 1; c <= k; ++c) {
    std::fill(current.begin(), current.end(), inf);
    const bool pinned = c == 1 || c == k;
    const double centre = c == 1 ? -1.0 : 1.0;
    for (int end = c == k ? n : c; end <= n - (k - c); ++end) {
      for (int start = c; start <= end; ++start) {
        const double w = sum_w[end] - sum_w[start - 1];
        const double wx = sum_wx[end] - sum_wx[start - 1];
        const double wx2 = sum_wx2[end] - sum_wx2[start - 1];
        const double segment = pinned ? wx2 - 2.0 * centre * wx + centre * centre * w : wx2 - (wx * wx) / w;
        candidate[start] = previous[start - 1] + segment;
      }
      double best = inf;
      int best_start = -1;
      for (int start = c; start <= end; ++start) {
        if (candidate[start] < best) {  // strict: the smallest start wins ties
          best = candidate[start];
          best_start = start;
        }
      }
      current[end] = best;
      split[c][end] = best_start;
    }
    std::swap(previous, current);
  }

  std::vector<float> levels(k);
  int end = n;
  for (int c = k; c >= 1; --c) {
    const int start = split[c][end];
    if (c == 1) {
      levels[c - 1] = -1.0f;
    } else if (c == k) {
      levels[c - 1] = 1.0f;
    } else {
      const double w = sum_w[end] - sum_w[start - 1];
      const double wx = sum_wx[end] - sum_wx[start - 1];
      levels[c - 1] = static_cast<float>(wx / w);
    }
    end = start - 1;
  }
  std::sort(levels.begin(), levels.end());
  return levels;
}

std::vector<float> learn_codebook(const std::vector<std::int64_t>& counts) {
  if (counts.size() != static_cast<std::size_t>(kHistogramBins)) {
    throw std::invalid_argument("learn_codebook: counts must have " + std::to_string(kHistogramBins) + " bins, got " +
                                std::to_string(counts.size()));
  }
  std::vector<double> centres, weights;
  for (int b = 0; b < kHistogramBins; ++b) {
    if (counts[b] > 0) {
      centres.push_back(histogram_bin_centre(b));
      weights.push_back(static_cast<double>(counts[b]));
    }
  }
  if (centres.empty()) {
    throw std::invalid_argument("learn_codebook: the histogram is empty (no gradient values were added)");
  }
  if (centres.size() >= static_cast<std::size_t>(kCodebookSize)) {
    return kmeans_1d(centres, weights, kCodebookSize);
  }
  std::vector<float> levels(kCodebookSize, static_cast<float>(centres.back()));
  std::copy(centres.begin(), centres.end(), levels.begin());
  levels.front() = -1.0f;
  levels.back() = 1.0f;
  std::sort(levels.begin(), levels.end());
  return levels;
}

}  // namespace blockscope::optimizers::math
