// CUDA device discovery (compiled only with BLOCKSCOPE_CUDA).
#pragma once

#include "optimizers/device.h"

namespace blockscope::optimizers::cuda {

// Counts visible devices and, when one exists, runs a one-kernel self-test.
CudaStatus query_devices();

}  // namespace blockscope::optimizers::cuda
