#include "optimizers/device.h"

#include <stdexcept>

#include "optimizers/cuda/device_query.h"

namespace blockscope::optimizers {

CudaStatus cuda_status() {
#ifdef BLOCKSCOPE_WITH_CUDA
  return cuda::query_devices();
#else
  return CudaStatus{false, 0, "not compiled in"};
#endif
}

void require_cuda() {
  CudaStatus status = cuda_status();
  if (!status.compiled) {
    throw std::runtime_error(
        "this blockscope was built without CUDA: install the CUDA toolkit and reconfigure with "
        "-DBLOCKSCOPE_CUDA=ON");
  }
  if (status.device_count == 0) {
    throw std::runtime_error("no CUDA device is visible (" + status.runtime +
                             "); run on a GPU machine or choose the CPU device");
  }
  if (!status.kernels_run) {
    throw std::runtime_error("the CUDA kernels do not run on this GPU (" + status.architecture +
                             ": the self-test kernel failed, " + status.runtime +
                             "); rebuild with its architecture in CMAKE_CUDA_ARCHITECTURES, or use the CPU device");
  }
}

}  // namespace blockscope::optimizers
