// Sharing diagnostics: does one v scalar per block fit the per-element
// second moments a partition replaces? (docs/design.md, question 2.)
//
// Input: v_i ≈ E[g_i²] per element, estimated as the mean over K minibatch
// gradients of g_i² (mean_square_over_minibatches), given per tensor in
// row-major order. A shared-v optimizer (Adam-mini, Gefen; docs/algorithms.md §5–6)
// replaces v_i by the block mean v̄_b = mean_{i∈b} v_i. Per global block b:
//   mean_v            v̄_b
//   cv                population std of v over the block / v̄_b (0 if v̄_b = 0)
//   max_min_ratio     max v / min v over the block's POSITIVE elements
//                     (1 with fewer than one positive element); zeros are
//                     counted apart (a token never seen has g = 0)
//   mean_abs_dev      mean_{i∈b} |v_i/v̄_b − 1| (0 if v̄_b = 0: all equal)
//   log_quantiles     quantiles of log(v_i/v̄_b) (natural log) over the
//                     block's positive elements, numpy's default "linear"
//                     rule: position h = (n−1)q, interpolate between the
//                     sorted values at floor(h) and floor(h)+1; NaN if none
// Aggregates (one per tensor, one for the whole partition) pool the elements:
// mean_abs_dev and log quantiles over the elements (each against its own
// block's mean), the median and max of cv and the max of max_min_ratio over
// the blocks touching the tensor. A histogram of log(v_i/v̄_b) over all
// positive elements feeds the plots. Memory O(N) doubles for N elements.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partition/partition.h"

namespace blockscope::partition {

// v_i = (1/K) Σ_k g[k, i]² for g [K, n] row-major float32, accumulated in float64.
std::vector<double> mean_square_over_minibatches(const float* g, std::int64_t minibatches, std::int64_t n);

// One tensor's v values: `size` float64 values, row-major.
struct TensorValues {
  std::string name;
  const double* data = nullptr;
  std::int64_t size = 0;
};

struct DiagnosticsOptions {
  std::vector<double> quantile_levels = {0.01, 0.1, 0.5, 0.9, 0.99};
  double histogram_min = -16.0;  // natural-log range of the histogram;
  double histogram_max = 8.0;    // values outside land in the end bins
  int histogram_bins = 96;
};

struct BlockStats {
  std::int64_t size = 0;
  std::int64_t zeros = 0;  // elements with v = 0
  double mean_v = 0.0;
  double cv = 0.0;
  double max_min_ratio = 1.0;
  double mean_abs_dev = 0.0;
  std::vector<double> log_quantiles;  // [Q]
};

struct AggregateStats {
  std::string name;  // tensor name, or "all" for the whole partition
  std::int64_t elements = 0;
  std::int64_t blocks = 0;  // distinct blocks touching it
  std::int64_t zeros = 0;
  double mean_abs_dev = 0.0;
  double median_cv = 0.0;
  double max_cv = 0.0;
  double max_min_ratio = 1.0;
  std::vector<double> log_quantiles;  // [Q]
};

struct PartitionDiagnostics {
  std::string strategy;
  std::int64_t num_blocks = 0;
  std::int64_t num_parameters = 0;
  std::vector<BlockStats> blocks;       // [num_blocks], by global id
  std::vector<AggregateStats> tensors;  // in partition order
  AggregateStats total;
  std::vector<double> histogram_edges;  // [bins + 1]
  std::vector<std::int64_t> histogram;  // [bins]: positive elements of all blocks
};

// `v` holds one entry per tensor of `p` (any order, matched by name, sizes
// equal to numel). Throws a one-line message naming a missing or mis-sized
// tensor, or a negative or non-finite v.
PartitionDiagnostics diagnose_partition(const Partition& p, const std::vector<TensorValues>& v,
                                        const DiagnosticsOptions& options = {});

// Quantile of ascending `sorted` at level q by numpy's "linear" rule (NaN if empty).
double linear_quantile(const std::vector<double>& sorted, double q);

}  // namespace blockscope::partition
