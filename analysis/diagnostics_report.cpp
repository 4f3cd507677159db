#include "analysis/diagnostics_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "io/h5_file.h"

namespace blockscope::analysis {
namespace {

// "12.3", "1.2e+04" or "inf": ratios span decades.
std::string ratio_text(double x) { return std::isinf(x) ? "inf" : fmt::format("{:.3g}", x); }

std::string quantile_text(double x) { return std::isnan(x) ? "-" : fmt::format("{:+.2f}", x); }

std::string aggregate_line(const partition::AggregateStats& a, std::size_t width) {
  std::string line =
      fmt::format("{:<{}} {:>9} {:>7} {:>12.4f} {:>7.3f} {:>7.3f} {:>9} {:>7}", a.name, width, a.elements, a.blocks,
                  a.mean_abs_dev, a.median_cv, a.max_cv, ratio_text(a.max_min_ratio), a.zeros);
  for (double q : a.log_quantiles) line += fmt::format(" {:>6}", quantile_text(q));
  return line;
}

template <typename T, typename F>
std::vector<T> column(const std::vector<partition::AggregateStats>& rows, F field) {
  std::vector<T> out;
  for (const auto& r : rows) out.push_back(field(r));
  return out;
}

}  // namespace

void print_diagnostics(const DiagnosedPartition& d, const partition::DiagnosticsOptions& options) {
  const partition::PartitionDiagnostics& p = d.diagnostics;
  std::size_t width = 6;
  for (const auto& t : p.tensors) width = std::max(width, t.name.size());
  fmt::print("\n{} — strategy {}: {} blocks (v scalars) over {} parameters\n", d.file, p.strategy, p.num_blocks,
             p.num_parameters);
  std::string header = fmt::format("{:<{}} {:>9} {:>7} {:>12} {:>7} {:>7} {:>9} {:>7}", "tensor", width, "numel",
                                   "blocks", "mean|v/v̄-1|", "cv med", "cv max", "max/min", "zeros");
  for (double q : options.quantile_levels) header += fmt::format(" {:>6}", fmt::format("q{:g}", 100 * q));
  fmt::print("{}   (q: quantiles of ln(v/v̄) over v > 0)\n", header);
  for (const auto& t : p.tensors) fmt::print("{}\n", aggregate_line(t, width));
  fmt::print("{}\n", aggregate_line(p.total, width));
  std::string bytes;
  for (const auto& b : d.state_bytes)
    bytes += fmt::format("{}{} {:.4f}", bytes.empty() ? "" : " | ", b.preset, b.bytes_per_parameter);
  fmt::print("optimizer-state bytes/param with this partition: {}\n", bytes);
  if (d.pairs) {
    std::string shares;
    for (std::size_t c = 0; c < d.pairs->thresholds.size(); ++c) {
      shares += fmt::format("  c={:g}: {:.3f} of {}", d.pairs->thresholds[c], d.pairs->total_fraction_within[c],
                            d.pairs->total_pairs_above[c]);
    }
    fmt::print("pairs in a block with c_ij ≥ c whose g² ratio is in [c², 1/c²]:{}\n", shares);
  }
}

void print_comparison(const std::vector<DiagnosedPartition>& all) {
  std::size_t width = 9;
  for (const auto& d : all) width = std::max(width, d.file.size());
  std::string header = fmt::format("{:<{}} {:<12} {:>8} {:>12} {:>7} {:>9}", "partition", width, "strategy", "blocks",
                                   "mean|v/v̄-1|", "cv med", "max/min");
  if (!all.empty()) {
    for (const auto& b : all.front().state_bytes) header += fmt::format(" {:>12}", "B/p " + b.preset);
  }
  fmt::print("\n{}\n", header);
  for (const auto& d : all) {
    const auto& p = d.diagnostics;
    std::string line =
        fmt::format("{:<{}} {:<12} {:>8} {:>12.4f} {:>7.3f} {:>9}", d.file, width, p.strategy, p.num_blocks,
                    p.total.mean_abs_dev, p.total.median_cv, ratio_text(p.total.max_min_ratio));
    for (const auto& b : d.state_bytes) line += fmt::format(" {:>12.4f}", b.bytes_per_parameter);
    fmt::print("{}\n", line);
  }
}

void write_diagnostics_file(const std::filesystem::path& path, const std::vector<DiagnosedPartition>& all,
                            const partition::DiagnosticsOptions& options, const hessian::Attributes& settings) {
  io::AtomicH5Writer writer(path, kDiagnosticsSchema);
  writer.describe("/quantile_levels", "quantile levels of the log_quantiles columns");
  writer.describe("/histogram_edges", "bin edges of ln(v_i / block mean) histograms");
  writer.describe("/partitions/*/total_log_quantiles", "quantiles of ln(v_i / block mean) over all elements");
  writer.describe("/partitions/*/histogram", "counts of ln(v_i / block mean) per bin of /histogram_edges");
  writer.describe("/partitions/*/blocks/size", "elements in each block");
  writer.describe("/partitions/*/blocks/zeros", "elements with v_i = 0 in each block");
  writer.describe("/partitions/*/blocks/mean_v", "block mean of v = E[g^2]");
  writer.describe("/partitions/*/blocks/cv", "coefficient of variation of v within each block");
  writer.describe("/partitions/*/blocks/max_min_ratio", "largest over smallest positive v in each block");
  writer.describe("/partitions/*/blocks/mean_abs_dev", "mean |v_i / block mean - 1| in each block");
  writer.describe("/partitions/*/blocks/log_quantiles", "[block, quantile] quantiles of ln(v_i / block mean)");
  writer.describe("/partitions/*/tensors/names", "tensor names");
  writer.describe("/partitions/*/tensors/elements", "elements of each tensor");
  writer.describe("/partitions/*/tensors/blocks", "blocks in each tensor");
  writer.describe("/partitions/*/tensors/zeros", "elements with v_i = 0");
  writer.describe("/partitions/*/tensors/mean_abs_dev", "mean |v_i / block mean - 1| over the tensor");
  writer.describe("/partitions/*/tensors/median_cv", "median over the tensor's blocks of the CV of v");
  writer.describe("/partitions/*/tensors/max_cv", "largest CV of v among the tensor's blocks");
  writer.describe("/partitions/*/tensors/max_min_ratio", "largest max/min v ratio among the tensor's blocks");
  writer.describe("/partitions/*/tensors/log_quantiles", "[tensor, quantile] quantiles of ln(v_i / block mean)");
  writer.describe("/partitions/*/pair_check/thresholds", "coupling thresholds c");
  writer.describe("/partitions/*/pair_check/pairs_above", "[block, c] element pairs with c_ij >= c");
  writer.describe("/partitions/*/pair_check/fraction_within",
                  "[block, c] fraction of those pairs with E[g^2] ratio in [c^2, 1/c^2]");
  writer.describe("/partitions/*/pair_check/total_pairs_above", "[c] pairs with c_ij >= c over all blocks");
  writer.describe("/partitions/*/pair_check/total_fraction_within",
                  "[c] fraction of those within the ratio bound, over all blocks");
  H5::Group root = writer.root();
  hessian::write_attributes(root, settings);
  const hsize_t Q = options.quantile_levels.size();
  io::write_array(root, "quantile_levels", options.quantile_levels.data(), {Q});
  if (!all.empty()) {
    const auto& edges = all.front().diagnostics.histogram_edges;
    io::write_array(root, "histogram_edges", edges.data(), {edges.size()});
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    const DiagnosedPartition& d = all[i];
    const partition::PartitionDiagnostics& p = d.diagnostics;
    const std::string base = "/partitions/" + io::indexed_name(i, all.size());
    H5::Group group = io::ensure_group(writer.file(), base);
    io::set_attribute(group, "file", d.file);
    io::set_attribute(group, "strategy", p.strategy);
    io::set_attribute(group, "num_blocks", p.num_blocks);
    io::set_attribute(group, "num_parameters", p.num_parameters);
    for (const auto& b : d.state_bytes) {
      std::string name = "bytes_" + b.preset;
      std::replace(name.begin(), name.end(), '-', '_');
      io::set_attribute(group, name, b.bytes_per_parameter);
    }
    io::set_attribute(group, "mean_abs_dev", p.total.mean_abs_dev);
    io::set_attribute(group, "median_cv", p.total.median_cv);
    io::set_attribute(group, "max_cv", p.total.max_cv);
    io::set_attribute(group, "max_min_ratio", p.total.max_min_ratio);
    io::set_attribute(group, "zeros", p.total.zeros);
    io::write_array(group, "total_log_quantiles", p.total.log_quantiles.data(), {Q});
    io::write_array(group, "histogram", p.histogram.data(), {p.histogram.size()});

    const hsize_t B = p.blocks.size();
    H5::Group blocks = io::ensure_group(writer.file(), base + "/blocks");
    std::vector<std::int64_t> size, zeros;
    std::vector<double> mean_v, cv, ratio, dev, quantiles;
    for (const auto& b : p.blocks) {
      size.push_back(b.size), zeros.push_back(b.zeros), mean_v.push_back(b.mean_v), cv.push_back(b.cv);
      ratio.push_back(b.max_min_ratio), dev.push_back(b.mean_abs_dev);
      quantiles.insert(quantiles.end(), b.log_quantiles.begin(), b.log_quantiles.end());
    }
    io::write_array(blocks, "size", size.data(), {B});
    io::write_array(blocks, "zeros", zeros.data(), {B});
    io::write_array(blocks, "mean_v", mean_v.data(), {B});
    io::write_array(blocks, "cv", cv.data(), {B});
    io::write_array(blocks, "max_min_ratio", ratio.data(), {B});
    io::write_array(blocks, "mean_abs_dev", dev.data(), {B});
    io::write_array(blocks, "log_quantiles", quantiles.data(), {B, Q});

    const auto& rows = p.tensors;
    const hsize_t T = rows.size();
    H5::Group tensors = io::ensure_group(writer.file(), base + "/tensors");
    using A = partition::AggregateStats;
    io::write_strings(tensors, "names", column<std::string>(rows, [](const A& a) { return a.name; }));
    auto ints = [&](const char* name, auto field) {
      auto values = column<std::int64_t>(rows, field);
      io::write_array(tensors, name, values.data(), {T});
    };
    auto doubles = [&](const char* name, auto field) {
      auto values = column<double>(rows, field);
      io::write_array(tensors, name, values.data(), {T});
    };
    ints("elements", [](const A& a) { return a.elements; });
    ints("blocks", [](const A& a) { return a.blocks; });
    ints("zeros", [](const A& a) { return a.zeros; });
    doubles("mean_abs_dev", [](const A& a) { return a.mean_abs_dev; });
    doubles("median_cv", [](const A& a) { return a.median_cv; });
    doubles("max_cv", [](const A& a) { return a.max_cv; });
    doubles("max_min_ratio", [](const A& a) { return a.max_min_ratio; });
    std::vector<double> tq;
    for (const auto& a : rows) tq.insert(tq.end(), a.log_quantiles.begin(), a.log_quantiles.end());
    io::write_array(tensors, "log_quantiles", tq.data(), {T, Q});

    if (d.pairs) {
      const PartitionPairCheck& c = *d.pairs;
      const hsize_t C = c.thresholds.size();
      H5::Group check = io::ensure_group(writer.file(), base + "/pair_check");
      io::write_array(check, "thresholds", c.thresholds.data(), {C});
      io::write_array(check, "pairs_above", c.pairs_above.data(), {B, C});
      io::write_array(check, "fraction_within", c.fraction_within.data(), {B, C});
      io::write_array(check, "total_pairs_above", c.total_pairs_above.data(), {C});
      io::write_array(check, "total_fraction_within", c.total_fraction_within.data(), {C});
    }
  }
  writer.commit();
}

}  // namespace blockscope::analysis
