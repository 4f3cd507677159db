// Optimizer checkpoints; contract and layout in checkpoint.h.
#include "optimizers/checkpoint.h"

#include <c10/core/GradMode.h>
#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "io/h5_file.h"
#include "io/h5_tensor.h"
#include "optimizers/math/codebook.h"

namespace blockscope::optimizers {
namespace {

using io::write_tensor;

// True when `text` (a checkpoint's optimizer_spec) parses to `spec`.
bool matches_spec(const std::string& text, const OptimizerSpec& spec) {
  try {
    return parse_optimizer_spec(text) == spec;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

// Reads `name` as a CPU tensor shaped like `like` (dtype and sizes), or throws.
at::Tensor read_tensor_like(const H5::Group& group, const std::string& name, const at::Tensor& like,
                            const std::string& what) {
  if (!io::has_dataset(group, name)) {
    throw std::runtime_error(fmt::format("has no {} (not written by this optimizer spec)", what));
  }
  io::DatasetInfo info = io::dataset_info(group, name);
  const at::ScalarType dtype = io::stored_dtype(group, name);
  std::vector<std::int64_t> dims(info.dims.begin(), info.dims.end());
  if (dims != like.sizes().vec() || dtype != like.scalar_type()) {
    throw std::runtime_error(fmt::format("holds {} as {} {} where this run needs {} {}", what, io::dtype_name(dtype),
                                         info.shape_string(), io::dtype_name(like.scalar_type()),
                                         partition::shape_string(like.sizes().vec())));
  }
  return io::read_tensor(group, name);
}

void write_partition(H5::H5File& file, const partition::Partition& p) {
  H5::Group g = io::ensure_group(file, "/partition");
  io::set_attribute(g, "strategy", p.strategy());
  io::set_attribute(g, "settings", p.settings().dump());
  io::set_attribute(g, "num_tensors", static_cast<std::int64_t>(p.num_tensors()));
  for (std::size_t k = 0; k < p.num_tensors(); ++k) {
    const partition::TensorBlocks& t = p.tensors()[k];
    H5::Group tg = io::ensure_group(file, "/partition/" + io::indexed_name(k, p.num_tensors()));
    io::set_attribute(tg, "name", t.tensor.name);
    io::set_attribute(tg, "period", t.period);
    io::set_attribute(tg, "first_block", t.first_block);
    io::write_array(tg, "shape", t.tensor.shape.data(), {t.tensor.shape.size()});
    if (!t.boundaries.empty()) io::write_array(tg, "boundaries", t.boundaries.data(), {t.boundaries.size()});
    if (!t.block_ids.empty()) io::write_array(tg, "block_ids", t.block_ids.data(), {t.block_ids.size()});
  }
}

partition::Partition read_partition(H5::H5File& file) {
  H5::Group g = file.openGroup("/partition");
  std::vector<partition::TensorBlocks> tensors;
  const std::int64_t n = io::read_int_attribute(g, "num_tensors");
  for (std::int64_t k = 0; k < n; ++k) {
    H5::Group tg = g.openGroup(io::find_indexed(g, static_cast<std::size_t>(k), static_cast<std::size_t>(n)));
    partition::TensorBlocks t;
    t.tensor.name = io::read_string_attribute(tg, "name");
    t.tensor.shape = io::read_int64s(tg, "shape");
    t.period = io::read_int_attribute(tg, "period");
    t.first_block = io::read_int_attribute(tg, "first_block");
    if (io::has_dataset(tg, "boundaries")) t.boundaries = io::read_int64s(tg, "boundaries");
    if (io::has_dataset(tg, "block_ids")) t.block_ids = io::read_int64s(tg, "block_ids");
    tensors.push_back(std::move(t));
  }
  return partition::Partition(io::read_string_attribute(g, "strategy"),
                              nlohmann::json::parse(io::read_string_attribute(g, "settings")), std::move(tensors));
}

const char* kHyper[] = {"lr", "beta1", "beta2", "eps", "weight_decay"};

std::array<double, 5> hyper(const BlockOptimizerOptions& o) {
  return {o.lr(), std::get<0>(o.betas()), std::get<1>(o.betas()), o.eps(), o.weight_decay()};
}

// The stored buffers, one per entry of `buffers` (same name, shape, dtype), or throws.
std::vector<at::Tensor> read_buffers(H5::H5File& file, const std::vector<NamedTensor>& buffers) {
  std::vector<at::Tensor> values;
  if (buffers.empty()) {
    if (file.nameExists("/buffers")) {
      throw std::runtime_error(
          "holds model buffers (/buffers) that this model does not have: it was written for "
          "another model");
    }
    return values;
  }
  if (!file.nameExists("/buffers")) {
    throw std::runtime_error(
        "has no model buffers (/buffers): it was written for another model or by an older blockscope; start the run "
        "again without resuming");
  }
  H5::Group g = file.openGroup("/buffers");
  for (const NamedTensor& b : buffers) {
    if (!io::has_dataset(g, b.name)) {
      throw std::runtime_error(fmt::format("was written for another model: it has no buffer '{}'", b.name));
    }
    values.push_back(read_tensor_like(g, b.name, b.tensor.detach().to(at::kCPU), "buffer " + b.name));
  }
  if (g.getNumObjs() != buffers.size()) {
    throw std::runtime_error(
        fmt::format("was written for another model: {} buffers there, {} here", g.getNumObjs(), buffers.size()));
  }
  return values;
}

void load_checked(const std::filesystem::path& path, BlockOptimizer& opt, const std::vector<NamedTensor>& buffers,
                  const std::function<void(H5::H5File&)>& check_extra) {
  H5::H5File file = io::open_for_reading(path);
  H5::Group root = file.openGroup("/");
  const std::string schema =
      io::has_attribute(root, "schema") ? io::read_string_attribute(root, "schema") : std::string("none");
  if (schema != kCheckpointSchema) {
    throw std::runtime_error(fmt::format("has schema '{}', not {}", schema, kCheckpointSchema));
  }
  if (check_extra) check_extra(file);
  // Compared as specs: a checkpoint written before the rule key existed reads as rule=adam.
  const std::string spec = io::read_string_attribute(root, "optimizer_spec");
  if (!matches_spec(spec, opt.spec())) {
    throw std::runtime_error(
        fmt::format("was written by optimizer {}, this run uses {}", spec, opt.spec().to_string()));
  }
  // The model: parameter names and shapes, in order.
  H5::Group params = file.openGroup("/params");
  std::vector<at::Tensor> values;
  for (const NamedTensor& p : opt.named_parameters()) {
    if (!io::has_dataset(params, p.name)) {
      throw std::runtime_error(fmt::format("was written for another model: it has no parameter '{}'", p.name));
    }
    io::DatasetInfo info = io::dataset_info(params, p.name);
    if (std::vector<std::int64_t>(info.dims.begin(), info.dims.end()) != p.tensor.sizes().vec()) {
      throw std::runtime_error(fmt::format("was written for another model: parameter '{}' is {} there, {} here", p.name,
                                           info.shape_string(), partition::shape_string(p.tensor.sizes().vec())));
    }
    values.push_back(read_tensor_like(params, p.name, p.tensor.detach().to(at::kCPU), "parameter " + p.name));
  }
  if (params.getNumObjs() != opt.named_parameters().size()) {
    throw std::runtime_error(fmt::format("was written for another model: {} parameters there, {} here",
                                         params.getNumObjs(), opt.named_parameters().size()));
  }
  const partition::Partition stored = read_partition(file);
  if (!(stored == opt.partition())) {
    throw std::runtime_error(fmt::format("was written with another partition ({}, {} blocks; this run: {}, {} blocks)",
                                         stored.strategy(), stored.num_blocks(), opt.partition().strategy(),
                                         opt.partition().num_blocks()));
  }
  const std::int64_t groups = io::read_int_attribute(root, "num_groups");
  if (groups != static_cast<std::int64_t>(opt.param_groups().size())) {
    throw std::runtime_error(fmt::format("has {} parameter groups, this run {}", groups, opt.param_groups().size()));
  }
  std::vector<double> lrs;
  for (std::int64_t k = 0; k < groups; ++k) {
    const auto& o = static_cast<const BlockOptimizerOptions&>(opt.param_groups()[k].options());
    const auto now = hyper(o);
    for (int h = 1; h < 5; ++h) {
      const double stored_value = io::read_double_attribute(root, fmt::format("group{}_{}", k, kHyper[h]));
      if (stored_value != now[h]) {
        throw std::runtime_error(
            fmt::format("was written with {} = {} (group {}), this run has {}", kHyper[h], stored_value, k, now[h]));
      }
    }
    lrs.push_back(io::read_double_attribute(root, fmt::format("group{}_lr", k)));
  }
  // The state, shaped like the optimizer's own.
  const OptimizerState& now = opt.state_tensors();
  OptimizerState state;
  H5::Group st = file.openGroup("/state");
  for (std::size_t i = 0; i < now.tensors.size(); ++i) {
    const std::string& name = opt.named_parameters()[i].name;
    H5::Group tg = st.openGroup(name);
    const TensorStateTensors& a = now.tensors[i];
    TensorStateTensors b;
    for (int k = 0; k < kStateSlots; ++k) {
      const auto slot = static_cast<StateSlot>(k);
      const at::Tensor& like = a.slot(slot);
      if (like.defined()) {
        b.slot(slot) =
            read_tensor_like(tg, slot_name(slot), like.to(at::kCPU), fmt::format("{} of '{}'", slot_name(slot), name));
      }
    }
    b.step = io::read_int_attribute(tg, "step");
    state.tensors.push_back(std::move(b));
  }
  if (now.shared_v.defined()) state.shared_v = read_tensor_like(st, "shared_v", now.shared_v.to(at::kCPU), "shared v");
  if (io::has_dataset(st, "codebook")) {
    state.codebook = io::read_floats(st, "codebook");
    if (state.codebook.size() != static_cast<std::size_t>(math::kCodebookSize)) {
      throw std::runtime_error(
          fmt::format("holds a codebook of {} entries, not {}", state.codebook.size(), math::kCodebookSize));
    }
  }
  state.skipped = io::read_int_attribute(root, "skipped_tensor_steps");
  const std::vector<at::Tensor> buffer_values = read_buffers(file, buffers);
  // Everything matched: commit.
  opt.restore_state(std::move(state));
  at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < values.size(); ++i) opt.named_parameters()[i].tensor.copy_(values[i]);
  for (std::size_t i = 0; i < buffer_values.size(); ++i) buffers[i].tensor.copy_(buffer_values[i]);
  for (std::size_t k = 0; k < lrs.size(); ++k) opt.param_groups()[k].options().set_lr(lrs[k]);
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const BlockOptimizer& opt,
                     const std::vector<NamedTensor>& buffers,
                     const std::function<void(io::AtomicH5Writer&)>& write_extra) {
  io::AtomicH5Writer writer(path, kCheckpointSchema);
  writer.describe("/partition/*/shape", "the tensor's shape");
  writer.describe("/partition/*/boundaries", "range boundaries in the flattened tensor");
  writer.describe("/partition/*/block_ids", "global block id of each range");
  writer.describe("/params/*", "a parameter's value at this step");
  writer.describe("/state/shared_v", "one second moment v per block (shared-v specs)");
  writer.describe("/state/codebook", "the Gefen momentum codebook (256 levels)");
  writer.describe("/state/*/m", "first moment m of the parameter (its format per the optimizer spec)");
  writer.describe("/state/*/m_scale", "scales of the compressed first moment");
  writer.describe("/state/*/v", "second moment v of the parameter");
  writer.describe("/state/*/v_scale", "scales of the compressed second moment");
  writer.describe("/state/*/rho", "weight correction of the compressed weights");
  writer.describe("/buffers/*", "a model buffer (BatchNorm statistics, counters, masks) at this step");
  H5::H5File& file = writer.file();
  try {
    H5::Group root = writer.root();
    io::set_attribute(root, "optimizer_spec", opt.spec().to_string());
    io::set_attribute(root, "non_finite_policy", policy_name(opt.policy()));
    io::set_attribute(root, "skipped_tensor_steps", opt.skipped_tensor_steps());
    io::set_attribute(root, "num_groups", static_cast<std::int64_t>(opt.param_groups().size()));
    for (std::size_t k = 0; k < opt.param_groups().size(); ++k) {
      const auto values = hyper(static_cast<const BlockOptimizerOptions&>(opt.param_groups()[k].options()));
      for (int h = 0; h < 5; ++h) io::set_attribute(root, fmt::format("group{}_{}", k, kHyper[h]), values[h]);
    }
    write_partition(file, opt.partition());
    H5::Group params = io::ensure_group(file, "/params");
    for (const NamedTensor& p : opt.named_parameters()) write_tensor(params, p.name, p.tensor);
    const OptimizerState& state = opt.state_tensors();
    H5::Group st = io::ensure_group(file, "/state");
    for (std::size_t i = 0; i < state.tensors.size(); ++i) {
      const TensorStateTensors& t = state.tensors[i];
      H5::Group tg = st.createGroup(opt.named_parameters()[i].name);
      io::set_attribute(tg, "step", t.step);
      for (int k = 0; k < kStateSlots; ++k) {
        const auto slot = static_cast<StateSlot>(k);
        if (t.slot(slot).defined()) write_tensor(tg, slot_name(slot), t.slot(slot));
      }
    }
    if (state.shared_v.defined()) write_tensor(st, "shared_v", state.shared_v);
    if (!state.codebook.empty()) io::write_array(st, "codebook", state.codebook.data(), {state.codebook.size()});
    if (!buffers.empty()) {
      H5::Group bg = io::ensure_group(file, "/buffers");
      for (const NamedTensor& b : buffers) write_tensor(bg, b.name, b.tensor);
    }
    if (write_extra) write_extra(writer);
  } catch (const H5::Exception& e) {
    throw std::runtime_error(fmt::format("cannot write checkpoint {}: {}", path.string(), e.getDetailMsg()));
  }
  writer.commit();
}

void load_checkpoint(const std::filesystem::path& path, BlockOptimizer& opt, const std::vector<NamedTensor>& buffers,
                     const std::function<void(H5::H5File&)>& check_extra) {
  try {
    load_checked(path, opt, buffers, check_extra);
  } catch (const H5::Exception& e) {
    throw std::runtime_error(
        fmt::format("checkpoint {} is incomplete or corrupt ({})", path.string(), e.getDetailMsg()));
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    if (what.rfind(path.string(), 0) == 0) throw;
    throw std::runtime_error(fmt::format("checkpoint {} {}", path.string(), what));
  }
}

partition::Partition read_checkpoint_partition(const std::filesystem::path& path) {
  H5::H5File file = io::open_for_reading(path);
  H5::Group root = file.openGroup("/");
  const std::string schema =
      io::has_attribute(root, "schema") ? io::read_string_attribute(root, "schema") : std::string("none");
  if (schema != kCheckpointSchema) {
    throw std::runtime_error(
        fmt::format("{} has schema '{}', not {} (give a checkpoint written by `blockscope train` "
                    "or an optimizer's save_checkpoint)",
                    path.string(), schema, kCheckpointSchema));
  }
  return read_partition(file);
}

}  // namespace blockscope::optimizers
