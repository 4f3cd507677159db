// Output of `blockscope diagnose`: the terminal table and the result file.
//
// File schema blockscope.diagnostics/1 (written atomically):
//   root attributes: schema and every setting (model, data, gradient_source,
//     minibatches, batch_size, seed, dense, ...)
//   /quantile_levels [Q], /histogram_edges [H + 1]
//   /partitions/<i>, i = 0.. in command-line order; attributes file, strategy,
//     num_blocks (= v scalars), num_parameters, bytes_<preset> for every
//     optimizer preset ('-' as '_': bytes_adamw, bytes_adam_mini, bytes_gefen,
//     bytes_flash_adamw; optimizer-state bytes per parameter), mean_abs_dev, median_cv, max_cv, max_min_ratio, zeros
//     (whole partition) blocks/  size, zeros [B] int64; mean_v, cv, max_min_ratio,
//              mean_abs_dev [B]; log_quantiles [B, Q]   (B = num_blocks, by global id)
//     tensors/ names [T]; elements, blocks, zeros [T] int64; mean_abs_dev,
//              median_cv, max_cv, max_min_ratio [T]; log_quantiles [T, Q]
//     total_log_quantiles [Q], histogram [H] int64 (positive v, all blocks)
//     pair_check/ (--dense only) thresholds [C], pairs_above [B, C] int64,
//              fraction_within [B, C] (NaN: no pair above), total_pairs_above [C],
//              total_fraction_within [C]
// Definitions of every statistic: partition/diagnostics.h.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hessian/spectrum_file.h"
#include "optimizers/state_layout.h"
#include "partition/diagnostics.h"

namespace blockscope::analysis {

// Gefen's element-pair check (hessian/sharing_check.h) on each block of a partition.
struct PartitionPairCheck {
  std::vector<double> thresholds;               // [C]
  std::vector<std::int64_t> pairs_above;        // [B, C] row-major
  std::vector<double> fraction_within;          // [B, C]
  std::vector<std::int64_t> total_pairs_above;  // [C] summed over blocks
  std::vector<double> total_fraction_within;    // [C] pooled over blocks (NaN if no pair)
};

struct DiagnosedPartition {
  std::string file;
  partition::PartitionDiagnostics diagnostics;
  std::optional<PartitionPairCheck> pairs;
  std::vector<optimizers::PresetStateBytes> state_bytes;  // optimizers::preset_state_bytes of the partition
};

// One line per tensor and a whole-partition line, the state bytes, the pair check.
void print_diagnostics(const DiagnosedPartition& d, const partition::DiagnosticsOptions& options);
// One line per partition, for comparing them.
void print_comparison(const std::vector<DiagnosedPartition>& all);

void write_diagnostics_file(const std::filesystem::path& path, const std::vector<DiagnosedPartition>& all,
                            const partition::DiagnosticsOptions& options, const hessian::Attributes& settings);

inline constexpr const char* kDiagnosticsSchema = "blockscope.diagnostics/1";

}  // namespace blockscope::analysis
