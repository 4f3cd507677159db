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
#include <functional>
#include <utility>
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

// What the host learns from check_finite: one flag per array, true when all
// its values are finite. On the CPU known at once; on CUDA finite() waits for
// the check's own kernel and copy (never for work queued after it) the first
// time, and returns the same flags after.
class FiniteCheck {
 public:
  FiniteCheck() = default;
  explicit FiniteCheck(std::vector<bool> known) : known_(std::move(known)), ready_(true) {}
  explicit FiniteCheck(std::function<std::vector<bool>()> wait) : wait_(std::move(wait)) {}
  const std::vector<bool>& finite();

 private:
  std::vector<bool> known_;
  std::function<std::vector<bool>()> wait_;
  bool ready_ = false;
};

// Checks arrays values[i] of sizes[i] elements for NaN and Inf: flags[i]
// (on `device`, one byte per array) becomes 1 where one is found, else 0 —
// in stream order on CUDA, so TensorStep::skip_if may point at it and a step
// can be queued at once — and the host's copy arrives through the FiniteCheck.
FiniteCheck check_finite(KernelDevice device, const std::vector<const float*>& values,
                         const std::vector<std::int64_t>& sizes, std::uint8_t* flags,
                         const CudaPlacement& placement = {});

void split_weights(KernelDevice device, WeightStorage w, float* params, std::int64_t n, std::int8_t* rho8,
                   std::int16_t* rho16, const CudaPlacement& placement = {});

}  // namespace blockscope::optimizers
