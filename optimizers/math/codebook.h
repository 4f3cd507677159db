// Gefen's shared momentum codebook (docs/algorithms.md §6; ndvbd/Gefen v1.2.3
// gefen.py learn_gefen_exact_codebook_from_grad_periods, quantization.py
// exact_dp / _compute_nearest_assignments).
//
// Learned once from the first-step gradients: each tensor's blocks are
// normalised by their absmax, the values are binned into kHistogramBins
// uniform bins on [−1, 1], and an exact weighted 1-D k-means over the
// non-empty bin centres picks kCodebookSize fp32 levels, sorted, with the
// first and last forced to −1 and +1. nearest() maps a normalised value to
// its level index on host and device. Not here: the period search, the
// momentum step (adam_update.h), gradient dtypes other than fp32.
// Differences from the reference: bin counts are int64 (the reference sums
// them in fp32, inexact past 2^24 per bin); the P = 1 normalisation quirk
// is a choice (histogram_block_size), not a fixed behaviour.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "optimizers/math/host_device.h"

namespace blockscope::optimizers::math {

constexpr int kCodebookSize = 256;
constexpr int kHistogramBins = 4096;

// Bin of a normalised value x in [−1, 1]: floor((x + 1) · 2048), clamped to [0, 4095].
BLOCKSCOPE_HD inline int histogram_bin(float x) {
  const int bin = static_cast<int>(floorf((x + 1.0f) * (0.5f * kHistogramBins)));
  return bin < 0 ? 0 : (bin >= kHistogramBins ? kHistogramBins - 1 : bin);
}

// Index of the level nearest to x among the two neighbours of position
// `right`, the number of levels of `codebook` (size entries, sorted
// ascending) that are < x: the reference's searchsorted rule, i − 1 when
// |x − c[i−1]| ≤ |c[i] − x| in fp32, so an exact tie goes to the lower index.
BLOCKSCOPE_HD inline int nearest_of_neighbours(const float* codebook, int size, int right, float x) {
  if (right == 0) return 0;
  if (right == size) return size - 1;
  const int left = right - 1;
  return fabsf(x - codebook[left]) <= fabsf(x - codebook[right]) ? left : right;
}

// Index of the level of `codebook` (size entries, sorted ascending) nearest
// to x (finite), by nearest_of_neighbours after a binary search for the count
// of levels < x; among equal (padded) levels it returns the one next to x.
// O(log size). (The CPU kernels use the equivalent cpu/codebook_lookup.h.)
BLOCKSCOPE_HD inline int nearest(const float* codebook, int size, float x) {
  int right = 0;  // number of levels < x
  int step = 1;
  while (step * 2 <= size) step *= 2;
  for (; step > 0; step /= 2) {
    if (right + step <= size && codebook[right + step - 1] < x) right += step;
  }
  return nearest_of_neighbours(codebook, size, right, x);
}

// Normalisation block for a tensor of n elements with period `period`:
// the period itself when > 1. For period 1 the reference normalises each
// element by itself (reference_p1_quirk: values land only on ±1 or 0);
// otherwise the block is the largest divisor of n that is ≤ 256, the chunk
// over which a period-1 tensor shares its momentum scale.
std::int64_t histogram_block_size(std::int64_t n, std::int64_t period, bool reference_p1_quirk);

// Adds the n values of g (fp32, contiguous), each normalised by the absmax of
// its block of block_size elements (0 when the block is all zero), to counts
// (kHistogramBins int64). n must be a multiple of block_size.
void histogram_add(const float* g, std::int64_t n, std::int64_t block_size, std::vector<std::int64_t>& counts);

// Centre of bin b: −1 + (b + 0.5)/2048, exact in fp32.
float histogram_bin_centre(int bin);

// Exact weighted 1-D k-means by dynamic programming over sorted points
// (float64 prefix sums; the first cluster is pinned to −1 and the last to +1,
// the others sit at their weighted mean; ties go to the smallest split,
// i.e. the earliest start of the later cluster). Needs k ≥ 2,
// points.size() ≥ k, positive weights. Returns the k levels as fp32, sorted.
// O(k · n²) time — about 2·10^9 steps for a full 4096-bin histogram.
std::vector<float> kmeans_1d(const std::vector<double>& points, const std::vector<double>& weights, int k);

// The codebook of kCodebookSize levels from a kHistogramBins histogram:
// kmeans_1d over the non-empty bin centres, or, with fewer non-empty bins
// than levels, the centres padded with the last one, ends forced to ±1,
// sorted. Throws std::invalid_argument for an empty histogram.
std::vector<float> learn_codebook(const std::vector<std::int64_t>& counts);

}  // namespace blockscope::optimizers::math
