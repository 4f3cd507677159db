// blockscope.partition's C++ side: every registered strategy over a model's
// named parameters, partition files, and the Partition object the optimizers
// and blockscope.hessian accept. A thin shell over partition/.
#include <pybind11/stl.h>

#include "io/h5_file.h"
#include "python/core/bindings.h"

namespace py = pybind11;

namespace blockscope {

partition::Partition python::make_partition(const std::string& choice, const std::vector<std::string>& names,
                                            const std::vector<at::Tensor>& tensors,
                                            const partition::HeadConfig& heads) {
  if (names.size() != tensors.size()) throw std::invalid_argument("one name per parameter is needed");
  partition::StrategyInputs in;
  std::vector<at::Tensor> gradients;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    in.model.push_back({names[i], tensors[i].sizes().vec()});
    if (choice != "gefen") continue;          // only gefen reads gradients: no host copy otherwise
    const at::Tensor& g = tensors[i].grad();  // a parameter the loss does not reach: zeros
    gradients.push_back(
        (g.defined() ? g : at::zeros_like(tensors[i])).detach().reshape({-1}).to(at::kCPU, at::kFloat).contiguous());
  }
  for (const at::Tensor& g : gradients) in.gradients.push_back({g.data_ptr<float>(), g.numel()});
  in.adam_mini.heads = heads;
  return partition::StrategyRegistry().make_or_load(choice, in);
}

void python::register_partition(py::module_& m) {
  using partition::Partition;
  py::class_<Partition>(m, "Partition", "which parameters share one optimizer statistic (one v scalar)")
      .def_property_readonly("strategy", &Partition::strategy)
      .def_property_readonly("num_blocks", &Partition::num_blocks,
                             "distinct blocks = v scalars a shared-v optimizer keeps")
      .def_property_readonly("num_parameters", &Partition::num_parameters)
      .def_property_readonly("block_sizes", &Partition::block_sizes, "[num_blocks] elements per block")
      .def_property_readonly("tensor_names",
                             [](const Partition& p) {
                               std::vector<std::string> out;
                               for (const auto& t : p.tensors()) out.push_back(t.tensor.name);
                               return out;
                             })
      .def(
          "block_of",
          [](const Partition& p, const std::string& name, std::int64_t element) {
            return p.block_of(p.tensor_index(name), element);
          },
          py::arg("tensor"), py::arg("element"), "global block of a flattened element of a tensor")
      .def("summary_json", [](const Partition& p) { return p.summary().dump(); })
      .def(
          "save",
          [](const Partition& p, const std::string& path) {
            io::check_output_file(path);
            p.save(path);
          },
          py::arg("path"), "write a blockscope.partition/1 file (`blockscope partition` writes the same)")
      .def(
          "__eq__", [](const Partition& a, const Partition& b) { return a == b; }, py::is_operator())
      .def("__repr__", [](const Partition& p) {
        return "<blockscope Partition '" + p.strategy() + "': " + std::to_string(p.num_blocks()) + " blocks over " +
               std::to_string(p.num_parameters()) + " parameters>";
      });
  m.def(
      "load_partition", [](const std::string& path) { return Partition::load(path); }, py::arg("path"));
  m.def(
      "make_partition",
      [](const std::string& choice, const std::vector<std::string>& names, const std::vector<at::Tensor>& tensors,
         std::int64_t n_heads, std::int64_t n_kv_heads, std::int64_t head_dim) {
        return python::make_partition(choice, names, tensors, {n_heads, n_kv_heads, head_dim});
      },
      py::arg("choice"), py::arg("names"), py::arg("tensors"), py::arg("n_heads"), py::arg("n_kv_heads"),
      py::arg("head_dim"));
  m.def(
      "strategies",
      [] {
        const partition::StrategyRegistry registry;
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& name : registry.names()) out.emplace_back(name, registry.help(name));
        return out;
      },
      "(name, help) of every registered strategy");
}

}  // namespace blockscope
