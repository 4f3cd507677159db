// The kernel family's operations, one name each, routed by device (style.md
// 7): the single place where a CUDA implementation plugs in. This version has
// CPU kernels only (cpu/step.h): CUDA tensors are refused by require_kernels
// with a sentence saying what to do (a build without CUDA says how to get it).
// Pointers inside TensorStep/GlobalState must all live on `device`.
#pragma once

#include <cstdint>
#include <vector>

#include "optimizers/cpu/step.h"

namespace blockscope::optimizers {

enum class KernelDevice { cpu, cuda };

// Throws unless this build has kernels for `device`.
void require_kernels(KernelDevice device);

void run_step(KernelDevice device, const StateLayout& layout, const std::vector<TensorStep>& tensors,
              const GlobalState& global);

// The Gefen codebook (host vector) from first-step gradients on `device`.
std::vector<float> learn_codebook(KernelDevice device, const StateLayout& layout, const std::vector<const float*>& grads);

bool all_finite(KernelDevice device, const float* values, std::int64_t n);

void split_weights(KernelDevice device, WeightStorage w, float* params, std::int64_t n, std::int8_t* rho8,
                   std::int16_t* rho16);

}  // namespace blockscope::optimizers
