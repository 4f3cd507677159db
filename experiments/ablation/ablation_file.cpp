// The ablation file; contract in ablation_file.h.
#include "experiments/ablation/ablation_file.h"

#include <cmath>
#include <functional>

#include "io/h5_file.h"

namespace blockscope::ablation {
namespace {

template <typename T>
void column(H5::Group& g, const std::string& name, const std::vector<CellResult>& cells,
            const std::function<T(const CellResult&)>& value) {
  std::vector<T> values;
  for (const CellResult& c : cells) values.push_back(value(c));
  io::write_array(g, name, values.data(), {values.size()});
}

void strings(H5::Group& g, const std::string& name, const std::vector<CellResult>& cells,
             const std::function<std::string(const CellResult&)>& value) {
  std::vector<std::string> values;
  for (const CellResult& c : cells) values.push_back(value(c));
  io::write_strings(g, name, values);
}

double if_done(const CellResult& c, double value) { return c.done ? value : std::nan(""); }

}  // namespace

void write_ablation_file(const std::string& path, const Grid& grid, const AblationSummary& summary) {
  io::AtomicH5Writer w(path, kAblationSchema);
  w.describe("/cells/index", "the cell's position in the grid (models × data × partitions × optimizers × lrs × seeds)");
  w.describe("/cells/model", "grid coordinate: model");
  w.describe("/cells/data", "grid coordinate: data source");
  w.describe("/cells/partition", "grid coordinate: partition strategy or file ('default': the optimizer's)");
  w.describe("/cells/optimizer", "grid coordinate: optimizer preset or spec");
  w.describe("/cells/lr", "grid coordinate: peak learning rate");
  w.describe("/cells/seed", "grid coordinate: seed (model initialisation and data order)");
  w.describe("/cells/final_eval_loss", "held-out loss after the last step");
  w.describe("/cells/best_eval_loss", "lowest held-out loss over the run's evaluations");
  w.describe("/cells/final_train_loss", "training loss, mean over the last 10 % of steps");
  w.describe("/cells/tokens_per_second", "positions predicted per second of step time");
  w.describe("/cells/step_time", "mean seconds per step");
  w.describe("/cells/state_bytes_*", "optimizer-state bytes of one component (or total / per parameter)");
  w.describe("/cells/v_blocks", "second-moment blocks of the partition");
  w.describe("/cells/parameters", "trainable parameters");
  w.describe("/cells/peak_rss_bytes", "peak resident memory of the cell's worker process");
  w.describe("/cells/skipped", "tensor-steps skipped for non-finite gradients");
  w.describe("/cells/diverged", "1: a non-finite loss, or a final training loss above the first step's");
  w.describe("/cells/failed", "1: the cell's worker failed (see error)");
  w.describe("/cells/error", "why the cell failed (empty when it did not)");
  w.describe("/cells/threads", "threads the cell's worker used");
  w.describe("/cells/wall_seconds", "wall time of the cell's worker");
  w.describe("/curves/*/loss", "training loss of each step");
  w.describe("/curves/*/eval_step", "steps completed at each held-out evaluation");
  w.describe("/curves/*/eval_loss", "held-out loss at each evaluation");
  H5::Group root = w.root();
  const nlohmann::json config = grid.canonical();
  io::set_attribute(root, "config", config.dump());
  io::set_attribute(root, "num_cells", static_cast<std::int64_t>(summary.cells.size()));
  io::set_attribute(root, "failed", summary.failed);
  for (const auto& [key, value] : config.items()) {
    if (value.is_string()) io::set_attribute(root, key, value.get<std::string>());
    if (value.is_boolean()) io::set_attribute(root, key, value.get<bool>());
    if (value.is_number_integer()) io::set_attribute(root, key, value.get<std::int64_t>());
    if (value.is_number_float()) io::set_attribute(root, key, value.get<double>());
  }
  const auto& cells = summary.cells;
  H5::Group g = w.file().createGroup("/cells");
  column<std::int64_t>(g, "index", cells, [](const CellResult& c) { return c.cell.index; });
  strings(g, "model", cells, [](const CellResult& c) { return c.cell.model; });
  strings(g, "data", cells, [](const CellResult& c) { return c.cell.data; });
  strings(g, "partition", cells, [](const CellResult& c) { return c.cell.partition; });
  strings(g, "optimizer", cells, [](const CellResult& c) { return c.cell.optimizer; });
  column<double>(g, "lr", cells, [](const CellResult& c) { return c.cell.lr; });
  column<std::int64_t>(g, "seed", cells, [](const CellResult& c) { return static_cast<std::int64_t>(c.cell.seed); });
  column<double>(g, "final_eval_loss", cells, [](const CellResult& c) { return c.final_eval_loss(); });
  column<double>(g, "best_eval_loss", cells, [](const CellResult& c) { return c.best_eval_loss(); });
  column<double>(g, "final_train_loss", cells, [](const CellResult& c) { return c.final_train_loss(); });
  column<double>(g, "tokens_per_second", cells, [](const CellResult& c) { return c.tokens_per_second(); });
  column<double>(g, "step_time", cells, [](const CellResult& c) { return c.mean_step_time(); });
  const std::vector<std::pair<const char*, std::int64_t optimizers::StateBytes::*>> parts = {
      {"state_bytes_m", &optimizers::StateBytes::m},
      {"state_bytes_v", &optimizers::StateBytes::v},
      {"state_bytes_scales", &optimizers::StateBytes::scales},
      {"state_bytes_codebook", &optimizers::StateBytes::codebook},
      {"state_bytes_weight_correction", &optimizers::StateBytes::weight_correction}};
  for (const auto& [name, field] : parts) {
    column<std::int64_t>(g, name, cells, [field = field](const CellResult& c) { return c.run.state_bytes.*field; });
  }
  column<std::int64_t>(g, "state_bytes_total", cells, [](const CellResult& c) { return c.run.state_bytes.total(); });
  column<double>(g, "state_bytes_per_param", cells, [](const CellResult& c) {
    return if_done(c, static_cast<double>(c.run.state_bytes.total()) / static_cast<double>(c.run.parameters));
  });
  column<std::int64_t>(g, "v_blocks", cells, [](const CellResult& c) { return c.run.v_blocks; });
  column<std::int64_t>(g, "parameters", cells, [](const CellResult& c) { return c.run.parameters; });
  column<std::int64_t>(g, "peak_rss_bytes", cells, [](const CellResult& c) { return c.peak_rss_bytes; });
  column<std::int64_t>(g, "skipped", cells, [](const CellResult& c) { return c.skipped(); });
  column<std::uint8_t>(g, "diverged", cells, [](const CellResult& c) { return std::uint8_t{c.diverged()}; });
  column<std::uint8_t>(g, "failed", cells, [](const CellResult& c) { return std::uint8_t{!c.done}; });
  strings(g, "error", cells, [](const CellResult& c) { return c.error; });
  column<std::int64_t>(g, "threads", cells, [](const CellResult& c) { return std::int64_t{c.threads}; });
  column<double>(g, "wall_seconds", cells, [](const CellResult& c) { return c.wall_seconds; });
  for (const CellResult& c : cells) {
    H5::Group curve = io::ensure_group(w.file(), "/curves/" + io::indexed_name(c.cell.index, cells.size()));
    const training::TrainingHistory& h = c.run.history;
    io::write_array(curve, "loss", h.loss.data(), {h.loss.size()});
    io::write_array(curve, "eval_step", h.eval_step.data(), {h.eval_step.size()});
    io::write_array(curve, "eval_loss", h.eval_loss.data(), {h.eval_loss.size()});
  }
  w.commit();
}

}  // namespace blockscope::ablation
