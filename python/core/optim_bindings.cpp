// blockscope.optim's C++ side: the partition-driven optimizer over the
// caller's own tensors (no copies). A thin shell: parse → one core call
// (partition::StrategyRegistry::make_or_load, optimizers::BlockOptimizer) →
// return. The torch.optim.Optimizer subclass around it is
// python/blockscope/optim.py.
#include "python/core/bindings.h"

#include <pybind11/stl.h>

#include <variant>

#include "io/h5_file.h"
#include "optimizers/block_optimizer.h"
#include "optimizers/checkpoint.h"
#include "partition/strategies.h"

namespace py = pybind11;

namespace blockscope {
namespace {

struct GroupOptions {
  double lr, beta1, beta2, eps, weight_decay;
};

std::vector<partition::TensorInfo> tensor_infos(const std::vector<std::string>& names,
                                                const std::vector<at::Tensor>& tensors) {
  std::vector<partition::TensorInfo> out;
  for (std::size_t i = 0; i < names.size(); ++i) out.push_back({names[i], tensors[i].sizes().vec()});
  return out;
}

std::vector<optimizers::NamedTensor> named(const std::vector<std::string>& names,
                                           const std::vector<at::Tensor>& tensors) {
  if (names.size() != tensors.size()) throw std::invalid_argument("one name per buffer is needed");
  std::vector<optimizers::NamedTensor> out;
  for (std::size_t i = 0; i < names.size(); ++i) out.push_back({names[i], tensors[i]});
  return out;
}

class Optimizer {
 public:
  // names[i], params[i] of group group_of[i]; gradients (gefen) are the
  // parameters' current .grad.
  Optimizer(const std::vector<std::string>& names, const std::vector<at::Tensor>& params,
            const std::vector<std::size_t>& group_of, const std::vector<GroupOptions>& groups, const std::string& spec,
            const std::variant<std::string, partition::Partition>& partition, std::int64_t n_heads,
            std::int64_t n_kv_heads, std::int64_t head_dim, const std::string& non_finite) {
    if (names.size() != params.size() || group_of.size() != params.size()) {
      throw std::invalid_argument("one name and one group index per parameter are needed");
    }
    const optimizers::OptimizerSpec parsed = optimizers::parse_optimizer_spec(spec);
    partition::Partition p = std::holds_alternative<partition::Partition>(partition)
                                 ? std::get<partition::Partition>(partition)
                                 : python::make_partition(std::get<std::string>(partition).empty()
                                                              ? optimizers::default_partition_strategy(parsed)
                                                              : std::get<std::string>(partition),
                                                          names, params, {n_heads, n_kv_heads, head_dim});
    p.validate_against(tensor_infos(names, params));
    warnings_ = partition::unmatched_tensor_warnings(p);
    std::vector<optimizers::NamedParamGroup> named(groups.size());
    for (std::size_t k = 0; k < groups.size(); ++k) {
      const GroupOptions& g = groups[k];
      named[k].options =
          optimizers::BlockOptimizerOptions(g.lr).betas({g.beta1, g.beta2}).eps(g.eps).weight_decay(g.weight_decay);
    }
    for (std::size_t i = 0; i < params.size(); ++i) named.at(group_of[i]).params.push_back({names[i], params[i]});
    optimizer_ = std::make_unique<optimizers::BlockOptimizer>(std::move(named), std::move(p), parsed,
                                                              optimizers::BlockOptimizerOptions(),
                                                              optimizers::parse_non_finite_policy(non_finite));
  }

  // Sets each group's learning rate (a scheduler's), then steps in place.
  void step(const std::vector<double>& lrs) {
    auto& groups = optimizer_->param_groups();
    if (lrs.size() != groups.size()) throw std::invalid_argument("one learning rate per parameter group is needed");
    for (std::size_t k = 0; k < groups.size(); ++k) groups[k].options().set_lr(lrs[k]);
    optimizer_->step();
  }

  py::dict summary() const {
    const optimizers::StateBytes b = optimizer_->state_bytes();
    py::dict d;
    d["spec"] = optimizer_->spec().to_string();
    d["partition"] = optimizer_->partition().strategy();
    d["v_blocks"] = optimizer_->partition().num_blocks();
    d["state_bytes"] =
        py::dict(py::arg("m") = b.m, py::arg("v") = b.v, py::arg("scales") = b.scales, py::arg("codebook") = b.codebook,
                 py::arg("weight_correction") = b.weight_correction, py::arg("total") = b.total());
    d["skipped_tensor_steps"] = optimizer_->skipped_tensor_steps();
    return d;
  }

  const std::vector<std::string>& warnings() const { return warnings_; }

  // A blockscope.checkpoint/1 file, the one `blockscope train --checkpoint`
  // writes and resumes from; buffers: the model's (name, tensor) buffers.
  void save_checkpoint(const std::string& path, const std::vector<std::string>& buffer_names,
                       const std::vector<at::Tensor>& buffers) const {
    io::check_output_file(path);
    optimizers::save_checkpoint(path, *optimizer_, named(buffer_names, buffers));
  }
  // Restores state, parameters, learning rates and buffers, after checking
  // the file matches (changes nothing otherwise).
  void load_checkpoint(const std::string& path, const std::vector<std::string>& buffer_names,
                       const std::vector<at::Tensor>& buffers) {
    optimizers::load_checkpoint(path, *optimizer_, named(buffer_names, buffers));
  }
  std::vector<double> learning_rates() const {
    std::vector<double> out;
    for (const auto& g : optimizer_->param_groups()) out.push_back(g.options().get_lr());
    return out;
  }

 private:
  std::unique_ptr<optimizers::BlockOptimizer> optimizer_;
  std::vector<std::string> warnings_;
};

}  // namespace

void python::register_optim(py::module_& m) {
  py::class_<GroupOptions>(m, "GroupOptions")
      .def(py::init<double, double, double, double, double>(), py::arg("lr"), py::arg("beta1"), py::arg("beta2"),
           py::arg("eps"), py::arg("weight_decay"));
  py::class_<Optimizer>(m, "Optimizer")
      .def(py::init<const std::vector<std::string>&, const std::vector<at::Tensor>&, const std::vector<std::size_t>&,
                    const std::vector<GroupOptions>&, const std::string&,
                    const std::variant<std::string, partition::Partition>&, std::int64_t, std::int64_t, std::int64_t,
                    const std::string&>(),
           py::arg("names"), py::arg("params"), py::arg("group_of"), py::arg("groups"), py::arg("spec"),
           py::arg("partition"), py::arg("n_heads"), py::arg("n_kv_heads"), py::arg("head_dim"), py::arg("non_finite"))
      .def("step", &Optimizer::step, py::arg("lrs"), py::call_guard<py::gil_scoped_release>())
      .def("summary", &Optimizer::summary)
      .def("save_checkpoint", &Optimizer::save_checkpoint, py::arg("path"), py::arg("buffer_names"), py::arg("buffers"))
      .def("load_checkpoint", &Optimizer::load_checkpoint, py::arg("path"), py::arg("buffer_names"), py::arg("buffers"),
           py::call_guard<py::gil_scoped_release>())
      .def("learning_rates", &Optimizer::learning_rates)
      .def_property_readonly("warnings", &Optimizer::warnings);
  m.def(
      "checkpoint_partition", [](const std::string& path) { return optimizers::read_checkpoint_partition(path); },
      py::arg("path"), "the partition a checkpoint was written with");
  m.def("presets", &optimizers::optimizer_preset_names, "optimizer preset names");
  m.def(
      "default_partition",
      [](const std::string& spec) {
        return optimizers::default_partition_strategy(optimizers::parse_optimizer_spec(spec));
      },
      py::arg("spec"), "the partition strategy a spec is meant for");
}

}  // namespace blockscope
