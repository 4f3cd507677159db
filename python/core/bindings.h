// The pieces of the `_blockscope_core` extension, one per package module:
// each registers its classes and functions on the extension module.
#pragma once

#include <torch/extension.h>

#include <string>
#include <vector>

#include "partition/strategies.h"

namespace blockscope::python {

void register_optim(pybind11::module_& m);      // blockscope.optim
void register_hessian(pybind11::module_& m);    // blockscope.hessian
void register_partition(pybind11::module_& m);  // blockscope.partition

// A strategy by name, or a partition file, over these parameters; gefen reads
// each tensor's .grad (the first-step gradients). What the Python optimizers
// and blockscope.partition build.
partition::Partition make_partition(const std::string& choice, const std::vector<std::string>& names,
                                    const std::vector<at::Tensor>& tensors, const partition::HeadConfig& heads);

}  // namespace blockscope::python
