// The ablation file (schema blockscope.ablation/1), written atomically.
//
//   /cells/<column> [C], one row per cell in grid order — the grid
//     coordinates index, model, data, partition, optimizer, lr, seed; the
//     results final_eval_loss, best_eval_loss, final_train_loss,
//     tokens_per_second, step_time (mean seconds), state_bytes_{m, v,
//     scales, codebook, weight_correction, total}, state_bytes_per_param,
//     v_blocks, parameters, peak_rss_bytes, skipped, diverged, failed,
//     error, threads, wall_seconds (NaN / 0 for a failed cell)
//   /curves/<K>/{loss, eval_step, eval_loss}: cell K's curves
//   root attributes: config (the canonical grid as JSON), num_cells,
//     failed (cells whose worker failed), and every shared setting
#pragma once

#include <string>

#include "experiments/ablation/ablation.h"

namespace blockscope::ablation {

inline constexpr const char* kAblationSchema = "blockscope.ablation/1";

void write_ablation_file(const std::string& path, const Grid& grid, const AblationSummary& summary);

}  // namespace blockscope::ablation
