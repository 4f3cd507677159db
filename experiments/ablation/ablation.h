// `blockscope ablate`: every cell of a grid (grid.h) trained by the same
// core call as `blockscope train`, each in its own worker process, judged
// on held-out loss, gathered into one ablation file (ablation_file.h).
//
// Work folder <out>.cells/: grid.json (the canonical grid), and per
// completed cell cell-K.h5 (its run file, written atomically by the worker),
// cell-K.json (peak resident memory and wall time, written after the worker
// exits) and cell-K.log (the worker's output). A cell counts as done when
// both its .h5 and .json exist, so an ablation killed at any point and
// started again with the same grid runs only the cells not done; a grid that
// differs from grid.json is refused before anything runs.
//
// Workers are processes so that --jobs N can split the cores (each worker
// gets ⌊cores/N⌋ threads, at least 1, through OMP_NUM_THREADS) and peak
// memory is measured per cell (the worker's maximum resident set).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "experiments/ablation/grid.h"
#include "experiments/training/run_file.h"

namespace blockscope::ablation {

struct CellResult {
  Cell cell;
  bool done = false;      // false: the worker failed (see error)
  std::string error;      // the worker's last output line when it failed
  bool reused = false;    // completed by an earlier, interrupted ablation
  training::RunFile run;  // when done
  std::int64_t peak_rss_bytes = 0;
  double wall_seconds = 0.0;
  int threads = 0;

  double final_eval_loss() const;  // NaN without a held-out evaluation
  double best_eval_loss() const;
  double final_train_loss() const;   // mean over the last 10 % of steps (at least one)
  double tokens_per_second() const;  // positions predicted per second of step time
  double mean_step_time() const;
  std::int64_t skipped() const;
  // A non-finite loss, or a final training loss above the first step's.
  bool diverged() const;
};

struct AblationOptions {
  std::string out = "ablation.h5";
  int jobs = 1;
  // The command that runs cell k of the grid in a work folder (the CLI's
  // hidden worker mode of the same binary).
  std::function<std::vector<std::string>(const std::string& cells_dir, std::int64_t k)> worker_command;
};

struct AblationSummary {
  std::vector<CellResult> cells;
  std::string cells_dir;
  std::int64_t reused = 0, failed = 0;
  int threads_per_job = 0;
};

std::string cells_directory(const std::string& out);

// Checks the grid (every cell as `train` checks its options, before any
// runs), prepares or resumes the work folder, runs the cells not done with
// `jobs` workers at once, and writes the ablation file. progress(steps done,
// steps in all cells) after each cell; notice(line) per finished cell.
AblationSummary run_ablation(const Grid& grid, const AblationOptions& options,
                             const std::function<void(std::int64_t, std::int64_t)>& progress = {},
                             const std::function<void(const std::string&)>& notice = {});

// The worker: trains cell k of the grid in cells_dir/grid.json into cells_dir/cell-K.h5.
void run_cell(const std::string& cells_dir, std::int64_t k);

}  // namespace blockscope::ablation
