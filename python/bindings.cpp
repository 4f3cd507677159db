// The C++ side of the `blockscope` Python package: the partition-driven
// optimizer over the caller's own tensors (no copies). A thin shell: parse →
// one core call (partition::StrategyRegistry::make_or_load,
// optimizers::BlockOptimizer) → return. The torch.optim.Optimizer subclass
// around it is python/blockscope/optim.py.
#include <torch/extension.h>

#include "optimizers/block_optimizer.h"
#include "partition/strategies.h"

namespace py = pybind11;

namespace blockscope {
namespace {

struct GroupOptions {
  double lr, beta1, beta2, eps, weight_decay;
};

class Optimizer {
 public:
  // names[i], params[i] of group group_of[i]; gradients (gefen) are the
  // parameters' current .grad.
  Optimizer(const std::vector<std::string>& names, const std::vector<at::Tensor>& params,
            const std::vector<std::size_t>& group_of, const std::vector<GroupOptions>& groups, const std::string& spec,
            const std::string& partition, std::int64_t n_heads, std::int64_t n_kv_heads, std::int64_t head_dim,
            const std::string& non_finite) {
    if (names.size() != params.size() || group_of.size() != params.size()) {
      throw std::invalid_argument("one name and one group index per parameter are needed");
    }
    const optimizers::OptimizerSpec parsed = optimizers::parse_optimizer_spec(spec);
    partition::StrategyInputs in;
    std::vector<std::vector<float>> grads;
    const std::string choice = partition.empty() ? optimizers::default_partition_strategy(parsed) : partition;
    for (std::size_t i = 0; i < params.size(); ++i) {
      in.model.push_back({names[i], params[i].sizes().vec()});
      if (choice != "gefen") continue;  // only gefen reads gradients: no host copy otherwise
      const at::Tensor& g = params[i].grad();
      const at::Tensor flat =
          (g.defined() ? g : at::zeros_like(params[i])).detach().reshape({-1}).to(at::kCPU, at::kFloat).contiguous();
      grads.emplace_back(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
    }
    for (const auto& g : grads) in.gradients.push_back({g.data(), static_cast<std::int64_t>(g.size())});
    in.adam_mini.heads = {n_heads, n_kv_heads, head_dim};
    partition::Partition p = partition::StrategyRegistry().make_or_load(choice, in);
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
    d["state_bytes"] = py::dict(py::arg("m") = b.m, py::arg("v") = b.v, py::arg("scales") = b.scales,
                                py::arg("codebook") = b.codebook, py::arg("weight_correction") = b.weight_correction,
                                py::arg("total") = b.total());
    d["skipped_tensor_steps"] = optimizer_->skipped_tensor_steps();
    return d;
  }

  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::unique_ptr<optimizers::BlockOptimizer> optimizer_;
  std::vector<std::string> warnings_;
};

}  // namespace
}  // namespace blockscope

PYBIND11_MODULE(_blockscope_core, m) {
  using blockscope::GroupOptions;
  using blockscope::Optimizer;
  m.doc() = "blockscope's C++ core (optimizer kernels over a partition); use the `blockscope` package";
  py::class_<GroupOptions>(m, "GroupOptions")
      .def(py::init<double, double, double, double, double>(), py::arg("lr"), py::arg("beta1"), py::arg("beta2"),
           py::arg("eps"), py::arg("weight_decay"));
  py::class_<Optimizer>(m, "Optimizer")
      .def(py::init<const std::vector<std::string>&, const std::vector<at::Tensor>&, const std::vector<std::size_t>&,
                    const std::vector<GroupOptions>&, const std::string&, const std::string&, std::int64_t,
                    std::int64_t, std::int64_t, const std::string&>(),
           py::arg("names"), py::arg("params"), py::arg("group_of"), py::arg("groups"), py::arg("spec"),
           py::arg("partition"), py::arg("n_heads"), py::arg("n_kv_heads"), py::arg("head_dim"),
           py::arg("non_finite"))
      .def("step", &Optimizer::step, py::arg("lrs"), py::call_guard<py::gil_scoped_release>())
      .def("summary", &Optimizer::summary)
      .def_property_readonly("warnings", &Optimizer::warnings);
  m.def("presets", &blockscope::optimizers::optimizer_preset_names, "optimizer preset names");
  m.def(
      "default_partition",
      [](const std::string& spec) {
        return blockscope::optimizers::default_partition_strategy(blockscope::optimizers::parse_optimizer_spec(spec));
      },
      py::arg("spec"), "the partition strategy a spec is meant for");
}
