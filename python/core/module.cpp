// The C++ extension behind the `blockscope` Python package (python/blockscope).
#include "python/core/bindings.h"

PYBIND11_MODULE(_blockscope_core, m) {
  m.doc() = "blockscope's C++ core (Hessian analyses, partitions, optimizer kernels); use the `blockscope` package";
  blockscope::python::register_optim(m);
  blockscope::python::register_hessian(m);
  blockscope::python::register_partition(m);
}
