#include "partition/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

namespace blockscope::partition {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> quantiles_of(std::vector<double>& values, const std::vector<double>& levels) {
  std::sort(values.begin(), values.end());
  std::vector<double> out;
  out.reserve(levels.size());
  for (double q : levels) out.push_back(linear_quantile(values, q));
  return out;
}

// v of every tensor of `p`, in partition order; validates names, sizes, values.
std::vector<const double*> match_values(const Partition& p, const std::vector<TensorValues>& v) {
  std::map<std::string, const TensorValues*> by_name;
  for (const TensorValues& t : v) by_name[t.name] = &t;
  std::vector<const double*> out;
  for (const TensorBlocks& tb : p.tensors()) {
    auto it = by_name.find(tb.tensor.name);
    if (it == by_name.end()) {
      throw std::runtime_error(fmt::format("no second moments for tensor '{}' of the partition", tb.tensor.name));
    }
    const TensorValues& t = *it->second;
    if (t.size != tb.tensor.numel()) {
      throw std::runtime_error(fmt::format("second moments of '{}' have {} values; the partition's tensor has {}",
                                           t.name, t.size, tb.tensor.numel()));
    }
    for (std::int64_t i = 0; i < t.size; ++i) {
      if (!(t.data[i] >= 0.0) || !std::isfinite(t.data[i])) {
        throw std::runtime_error(
            fmt::format("second moment {} of '{}' is {} (must be finite and ≥ 0)", i, t.name, t.data[i]));
      }
    }
    out.push_back(t.data);
  }
  return out;
}

// blocks, median_cv, max_cv, max_min_ratio of `a` over the blocks `ids` (repeats allowed).
void summarise_blocks(AggregateStats& a, std::vector<std::int64_t> ids, const std::vector<BlockStats>& blocks) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  a.blocks = static_cast<std::int64_t>(ids.size());
  std::vector<double> cv;
  for (std::int64_t id : ids) {
    const BlockStats& s = blocks[static_cast<std::size_t>(id)];
    cv.push_back(s.cv);
    a.max_cv = std::max(a.max_cv, s.cv);
    a.max_min_ratio = std::max(a.max_min_ratio, s.max_min_ratio);
  }
  std::sort(cv.begin(), cv.end());
  a.median_cv = cv.empty() ? 0.0 : linear_quantile(cv, 0.5);
}

}  // namespace

double linear_quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return kNaN;
  const double h = (static_cast<double>(sorted.size()) - 1.0) * q;
  const std::size_t lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

std::vector<double> mean_square_over_minibatches(const float* g, std::int64_t minibatches, std::int64_t n) {
  if (minibatches <= 0) throw std::runtime_error("second moments need at least one minibatch gradient");
  std::vector<double> v(static_cast<std::size_t>(n), 0.0);
  for (std::int64_t k = 0; k < minibatches; ++k) {
    const float* row = g + k * n;
    for (std::int64_t i = 0; i < n; ++i) v[i] += static_cast<double>(row[i]) * static_cast<double>(row[i]);
  }
  for (double& x : v) x /= static_cast<double>(minibatches);
  return v;
}

PartitionDiagnostics diagnose_partition(const Partition& p, const std::vector<TensorValues>& v,
                                        const DiagnosticsOptions& options) {
  if (options.histogram_bins < 1 || !(options.histogram_max > options.histogram_min)) {
    throw std::runtime_error("diagnostics histogram needs ≥ 1 bin and max > min");
  }
  const std::vector<const double*> values = match_values(p, v);
  const std::size_t B = static_cast<std::size_t>(p.num_blocks());
  PartitionDiagnostics d;
  d.strategy = p.strategy();
  d.num_blocks = p.num_blocks();
  d.num_parameters = p.num_parameters();
  d.blocks.resize(B);

  // Pass 1: sizes, sums, zeros, positive extremes per block.
  std::vector<double> sum(B, 0.0), max_pos(B, 0.0), min_pos(B, std::numeric_limits<double>::infinity());
  for (std::size_t t = 0; t < p.num_tensors(); ++t) {
    const TensorBlocks& tb = p.tensors()[t];
    for (std::int64_t k = 0; k < tb.num_ranges(); ++k) {
      const BlockRange r = tb.range(k);
      BlockStats& s = d.blocks[static_cast<std::size_t>(r.block)];
      s.size += r.size();
      for (std::int64_t i = r.begin; i < r.end; ++i) {
        const double x = values[t][i];
        sum[r.block] += x;
        if (x == 0.0) {
          ++s.zeros;
        } else {
          max_pos[r.block] = std::max(max_pos[r.block], x);
          min_pos[r.block] = std::min(min_pos[r.block], x);
        }
      }
    }
  }
  std::vector<std::int64_t> offset(B + 1, 0);  // positive elements of block b: [offset[b], offset[b+1])
  for (std::size_t b = 0; b < B; ++b) {
    BlockStats& s = d.blocks[b];
    s.mean_v = s.size > 0 ? sum[b] / static_cast<double>(s.size) : 0.0;
    if (s.size > s.zeros) s.max_min_ratio = max_pos[b] / min_pos[b];
    offset[b + 1] = offset[b] + (s.size - s.zeros);
  }

  // Pass 2: deviations from the block mean and log ratios (by block and by tensor).
  std::vector<double> squared_dev(B, 0.0), abs_dev(B, 0.0);
  std::vector<double> by_block(static_cast<std::size_t>(offset[B]));
  std::vector<std::int64_t> cursor(offset.begin(), offset.end() - 1);
  d.histogram_edges.resize(static_cast<std::size_t>(options.histogram_bins) + 1);
  const double width = (options.histogram_max - options.histogram_min) / options.histogram_bins;
  for (int h = 0; h <= options.histogram_bins; ++h) d.histogram_edges[h] = options.histogram_min + h * width;
  d.histogram.assign(static_cast<std::size_t>(options.histogram_bins), 0);
  std::vector<std::vector<std::int64_t>> tensor_blocks(p.num_tensors());
  double total_abs_dev = 0.0;
  std::int64_t total_zeros = 0;
  for (std::size_t t = 0; t < p.num_tensors(); ++t) {
    const TensorBlocks& tb = p.tensors()[t];
    AggregateStats a;
    a.name = tb.tensor.name;
    a.elements = tb.tensor.numel();
    std::vector<double> logs;
    double tensor_abs_dev = 0.0;
    for (std::int64_t k = 0; k < tb.num_ranges(); ++k) {
      const BlockRange r = tb.range(k);
      tensor_blocks[t].push_back(r.block);
      const double mean = d.blocks[r.block].mean_v;
      for (std::int64_t i = r.begin; i < r.end; ++i) {
        const double x = values[t][i];
        a.zeros += x == 0.0;
        squared_dev[r.block] += (x - mean) * (x - mean);
        if (mean == 0.0) continue;  // the whole block is 0: sharing is exact
        const double dev = std::abs(x / mean - 1.0);
        abs_dev[r.block] += dev;
        tensor_abs_dev += dev;
        if (x == 0.0) continue;
        const double l = std::log(x / mean);
        by_block[cursor[r.block]++] = l;
        logs.push_back(l);
        const int bin = static_cast<int>(std::floor((l - options.histogram_min) / width));
        ++d.histogram[std::clamp(bin, 0, options.histogram_bins - 1)];
      }
    }
    a.mean_abs_dev = a.elements > 0 ? tensor_abs_dev / static_cast<double>(a.elements) : 0.0;
    a.log_quantiles = quantiles_of(logs, options.quantile_levels);
    total_abs_dev += tensor_abs_dev;
    total_zeros += a.zeros;
    d.tensors.push_back(std::move(a));
  }

  for (std::size_t b = 0; b < B; ++b) {
    BlockStats& s = d.blocks[b];
    if (s.mean_v > 0.0) {
      s.cv = std::sqrt(squared_dev[b] / static_cast<double>(s.size)) / s.mean_v;
      s.mean_abs_dev = abs_dev[b] / static_cast<double>(s.size);
    }
    std::vector<double> logs(by_block.begin() + offset[b], by_block.begin() + offset[b + 1]);
    s.log_quantiles = quantiles_of(logs, options.quantile_levels);
  }
  for (std::size_t t = 0; t < p.num_tensors(); ++t) {
    summarise_blocks(d.tensors[t], std::move(tensor_blocks[t]), d.blocks);
  }
  d.total.name = "all";
  d.total.elements = p.num_parameters();
  d.total.zeros = total_zeros;
  d.total.mean_abs_dev = d.total.elements > 0 ? total_abs_dev / static_cast<double>(d.total.elements) : 0.0;
  d.total.log_quantiles = quantiles_of(by_block, options.quantile_levels);
  std::vector<std::int64_t> all(B);
  for (std::size_t b = 0; b < B; ++b) all[b] = static_cast<std::int64_t>(b);
  summarise_blocks(d.total, std::move(all), d.blocks);
  return d;
}

}  // namespace blockscope::partition
