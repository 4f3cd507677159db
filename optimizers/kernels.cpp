// Device routing of the kernel family; see kernels.h.
#include "optimizers/kernels.h"

#include <stdexcept>

#include "optimizers/device.h"

namespace blockscope::optimizers {

void require_kernels(KernelDevice device) {
  if (device == KernelDevice::cpu) return;
  require_cuda();  // without CUDA in the build or machine: how to get it
  throw std::runtime_error(
      "the blockscope optimizer kernels run on CPU tensors in this version: keep the model on the CPU");
}

void run_step(KernelDevice device, const StateLayout& layout, const std::vector<TensorStep>& tensors,
              const GlobalState& global) {
  require_kernels(device);
  step_cpu(layout, tensors, global);
}

std::vector<float> learn_codebook(KernelDevice device, const StateLayout& layout, const std::vector<const float*>& grads) {
  require_kernels(device);
  return learn_codebook_cpu(layout, grads);
}

bool all_finite(KernelDevice device, const float* values, std::int64_t n) {
  require_kernels(device);
  return all_finite_cpu(values, n);
}

void split_weights(KernelDevice device, WeightStorage w, float* params, std::int64_t n, std::int8_t* rho8,
                   std::int16_t* rho16) {
  require_kernels(device);
  split_weights_cpu(w, params, n, rho8, rho16);
}

}  // namespace blockscope::optimizers
