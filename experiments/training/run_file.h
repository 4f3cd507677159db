// The run file `blockscope train` writes (schema blockscope.run/1) and the
// training history it shares with a checkpoint's /training group.
//
// Run file: datasets /loss, /lr, /step_time (seconds), /skipped (cumulative
// tensor-steps skipped for non-finite gradients), each [steps];
// /eval/step [E] (completed steps at each held-out evaluation) and
// /eval/loss [E] (mean held-out loss there; E = 0 without a held-out part);
// group /state_bytes with attributes m, v, scales, codebook,
// weight_correction, total, per_parameter; every setting a root attribute
// (targets_per_example: positions predicted per example, for tokens/s).
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "io/h5_file.h"
#include "optimizers/state_layout.h"

namespace blockscope::training {

inline constexpr const char* kRunSchema = "blockscope.run/1";

struct TrainingHistory {
  std::vector<double> loss, lr, step_time;  // per step
  std::vector<std::int64_t> skipped;        // per step, cumulative
  std::vector<std::int64_t> eval_step;      // per held-out evaluation: steps completed
  std::vector<double> eval_loss;            // per held-out evaluation: mean loss
};

// Describes the history's datasets under `prefix` ("" for the root, "/training").
void describe_history(io::AtomicH5Writer& writer, const std::string& prefix);

// Writes the history's datasets into `group` (loss, lr, step_time, skipped, eval/step, eval/loss).
void write_history(H5::Group& group, const TrainingHistory& history);

// Reads what write_history wrote; a history without eval/ (files from before
// held-out evaluation) has no evaluations. Throws when lengths disagree.
TrainingHistory read_history(const H5::Group& group);

// One root attribute of the run file.
struct RunSetting {
  std::string key;
  std::variant<std::string, std::int64_t, double, bool> value;
};

// What a run file holds, as read back (ablation cells, reports).
struct RunFile {
  TrainingHistory history;
  optimizers::StateBytes state_bytes;
  std::int64_t parameters = 0;
  std::int64_t v_blocks = 0;
  std::int64_t batch_size = 0;
  std::int64_t targets_per_example = 0;  // positions predicted per example (sequence length, or 1)
};

// Throws a one-line error naming the file when it is not a readable run file.
RunFile read_run_file(const std::string& path);

// Writes the run file atomically (nothing at `path` on failure).
void write_run_file(const std::string& path, const std::vector<RunSetting>& settings, const TrainingHistory& history,
                    const optimizers::StateBytes& state_bytes, std::int64_t num_parameters);

}  // namespace blockscope::training
