// Device routing of the kernel family; see kernels.h. The only file besides
// device.cpp that tests BLOCKSCOPE_WITH_CUDA: without it every CUDA request
// stops in require_cuda(), which says how to build with CUDA.
#include "optimizers/kernels.h"

#include <stdexcept>

#include "optimizers/device.h"
#ifdef BLOCKSCOPE_WITH_CUDA
#include "optimizers/cuda/step.h"
#endif

namespace blockscope::optimizers {
namespace {

// require_cuda() until it first succeeds: it runs a self-test kernel with a
// host synchronisation, which must not happen on every step.
void require_cuda_once() {
  static const bool available = (require_cuda(), true);  // not set while it throws, so a failure is re-checked
  (void)available;
}

}  // namespace

void require_kernels(KernelDevice device) {
  if (device == KernelDevice::cuda) require_cuda_once();  // without CUDA in the build or machine: how to get it
}

void run_step(KernelDevice device, const StateLayout& layout, const std::vector<TensorStep>& tensors,
              const GlobalState& global, const CudaPlacement& placement) {
  if (device == KernelDevice::cpu) return step_cpu(layout, tensors, global);
  require_cuda_once();
#ifdef BLOCKSCOPE_WITH_CUDA
  step_cuda(layout, tensors, global, placement);
#endif
}

std::vector<float> learn_codebook(KernelDevice device, const StateLayout& layout,
                                  const std::vector<const float*>& grads, const CudaPlacement& placement) {
  if (device == KernelDevice::cpu) return learn_codebook_cpu(layout, grads);
  require_cuda_once();
#ifdef BLOCKSCOPE_WITH_CUDA
  return learn_codebook_cuda(layout, grads, placement);
#else
  throw std::logic_error("unreachable: require_cuda() throws in a build without CUDA");
#endif
}

const std::vector<bool>& FiniteCheck::finite() {
  if (!ready_) {
    known_ = wait_ ? wait_() : std::vector<bool>{};
    wait_ = nullptr;
    ready_ = true;
  }
  return known_;
}

FiniteCheck check_finite(KernelDevice device, const std::vector<const float*>& values,
                         const std::vector<std::int64_t>& sizes, std::uint8_t* flags, const CudaPlacement& placement) {
  if (values.size() != sizes.size()) throw std::invalid_argument("check_finite: one size per array is needed");
  if (device == KernelDevice::cpu) {
    std::vector<bool> finite(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      finite[i] = all_finite_cpu(values[i], sizes[i]);
      flags[i] = finite[i] ? 0 : 1;
    }
    return FiniteCheck(std::move(finite));
  }
  require_cuda_once();
#ifdef BLOCKSCOPE_WITH_CUDA
  return FiniteCheck(check_finite_cuda(values, sizes, flags, placement));
#else
  throw std::logic_error("unreachable: require_cuda() throws in a build without CUDA");
#endif
}

void split_weights(KernelDevice device, WeightStorage w, float* params, std::int64_t n, std::int8_t* rho8,
                   std::int16_t* rho16, const CudaPlacement& placement) {
  if (device == KernelDevice::cpu) return split_weights_cpu(w, params, n, rho8, rho16);
  require_cuda_once();
#ifdef BLOCKSCOPE_WITH_CUDA
  split_weights_cuda(w, params, n, rho8, rho16, placement);
#endif
}

}  // namespace blockscope::optimizers
