// The kernel family's operations, one name each, routed by device (docs/style.md
// 7): the single place where the CUDA implementation plugs in. KernelDevice::
// cpu runs cpu/step.h (the specification); KernelDevice::cuda runs
// cuda/step.h in a build with BLOCKSCOPE_CUDA, bitwise equal to the CPU, and
// otherwise throws a sentence saying how to get CUDA (require_cuda).
// Pointers inside TensorStep/GlobalState (the codebook included) must all
// live on `device`; on CUDA, on placement.device, and the work is queued on
// placement.stream (ignored on the CPU).
#pragma once

#include <cstdint>
#include <vector>

#include "optimizers/cpu/step.h"
#include "optimizers/cuda/placement.h"

namespace blockscope::optimizers {

enum class KernelDevice { cpu, cuda };

// Throws unless this build and machine have kernels for `device`.
void require_kernels(KernelDevice device);

void run_step(KernelDevice device, const StateLayout& layout, const std::vector<TensorStep>& tensors,
              const GlobalState& global, const CudaPlacement& placement = {});

// The Gefen codebook (host vector) from first-step gradients on `device`.
std::vector<float> learn_codebook(KernelDevice device, const StateLayout& layout,
                                  const std::vector<const float*>& grads, const CudaPlacement& placement = {});

// One flag per array values[i] of sizes[i] elements: true when all are
// finite. On CUDA one launch and one read-back for the whole list.
std::vector<bool> all_finite(KernelDevice device, const std::vector<const float*>& values,
                             const std::vector<std::int64_t>& sizes, const CudaPlacement& placement = {});

void split_weights(KernelDevice device, WeightStorage w, float* params, std::int64_t n, std::int8_t* rho8,
                   std::int16_t* rho16, const CudaPlacement& placement = {});

}  // namespace blockscope::optimizers
