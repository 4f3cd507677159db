// The run file and training history; contract in run_file.h.
#include "experiments/training/run_file.h"

#include <fmt/format.h>

#include <stdexcept>

#include "io/h5_file.h"

namespace blockscope::training {

void describe_history(io::AtomicH5Writer& writer, const std::string& prefix) {
  writer.describe(prefix + "/loss", "training loss of each step (mean over the batch)");
  writer.describe(prefix + "/lr", "learning rate of each step");
  writer.describe(prefix + "/step_time", "seconds each step took");
  writer.describe(prefix + "/skipped", "tensor-steps skipped for non-finite gradients so far, per step");
  writer.describe(prefix + "/eval/step", "steps completed at each held-out evaluation");
  writer.describe(prefix + "/eval/loss",
                  "mean loss over the held-out examples at each evaluation (model in evaluation mode)");
}

void write_history(H5::Group& group, const TrainingHistory& h) {
  io::write_array(group, "loss", h.loss.data(), {h.loss.size()});
  io::write_array(group, "lr", h.lr.data(), {h.lr.size()});
  io::write_array(group, "step_time", h.step_time.data(), {h.step_time.size()});
  io::write_array(group, "skipped", h.skipped.data(), {h.skipped.size()});
  H5::Group eval = group.nameExists("eval") ? group.openGroup("eval") : group.createGroup("eval");
  io::write_array(eval, "step", h.eval_step.data(), {h.eval_step.size()});
  io::write_array(eval, "loss", h.eval_loss.data(), {h.eval_loss.size()});
}

TrainingHistory read_history(const H5::Group& group) {
  TrainingHistory h;
  h.loss = io::read_doubles(group, "loss");
  h.lr = io::read_doubles(group, "lr");
  h.step_time = io::read_doubles(group, "step_time");
  h.skipped = io::read_int64s(group, "skipped");
  if (group.nameExists("eval")) {
    const H5::Group eval = group.openGroup("eval");
    h.eval_step = io::read_int64s(eval, "step");
    h.eval_loss = io::read_doubles(eval, "loss");
  }
  if (h.lr.size() != h.loss.size() || h.step_time.size() != h.loss.size() || h.skipped.size() != h.loss.size() ||
      h.eval_step.size() != h.eval_loss.size()) {
    throw std::runtime_error("has a training history of inconsistent lengths");
  }
  return h;
}

RunFile read_run_file(const std::string& path) {
  try {
    H5::H5File file = io::open_for_reading(path);
    H5::Group root = file.openGroup("/");
    const std::string schema = io::has_attribute(root, "schema") ? io::read_string_attribute(root, "schema") : "none";
    if (schema != kRunSchema) {
      throw std::runtime_error(fmt::format("{} has schema '{}', not {}", path, schema, kRunSchema));
    }
    RunFile run;
    run.history = read_history(root);
    const H5::Group sb = file.openGroup("/state_bytes");
    run.state_bytes = {io::read_int_attribute(sb, "m"), io::read_int_attribute(sb, "v"),
                       io::read_int_attribute(sb, "scales"), io::read_int_attribute(sb, "codebook"),
                       io::read_int_attribute(sb, "weight_correction")};
    run.parameters = io::read_int_attribute(root, "parameters");
    run.v_blocks = io::read_int_attribute(root, "v_blocks");
    run.batch_size = io::read_int_attribute(root, "batch_size");
    run.targets_per_example =
        io::has_attribute(root, "targets_per_example") ? io::read_int_attribute(root, "targets_per_example") : 1;
    return run;
  } catch (const H5::Exception& e) {
    throw std::runtime_error(fmt::format("run file {} is incomplete or corrupt ({})", path, e.getDetailMsg()));
  }
}

void write_run_file(const std::string& path, const std::vector<RunSetting>& settings, const TrainingHistory& history,
                    const optimizers::StateBytes& b, std::int64_t num_parameters) {
  io::AtomicH5Writer w(path, kRunSchema);
  describe_history(w, "");
  H5::Group root = w.root();
  for (const RunSetting& s : settings) {
    std::visit([&](const auto& value) { io::set_attribute(root, s.key, value); }, s.value);
  }
  write_history(root, history);
  H5::Group sb = w.file().createGroup("/state_bytes");
  io::set_attribute(sb, "m", b.m);
  io::set_attribute(sb, "v", b.v);
  io::set_attribute(sb, "scales", b.scales);
  io::set_attribute(sb, "codebook", b.codebook);
  io::set_attribute(sb, "weight_correction", b.weight_correction);
  io::set_attribute(sb, "total", b.total());
  io::set_attribute(sb, "per_parameter", static_cast<double>(b.total()) / static_cast<double>(num_parameters));
  w.commit();
}

}  // namespace blockscope::training
