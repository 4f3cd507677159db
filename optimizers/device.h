// Which compute devices this build can use. One entry point per question;
// callers never test BLOCKSCOPE_WITH_CUDA themselves (docs/style.md 7).
#pragma once

#include <string>

namespace blockscope::optimizers {

struct CudaStatus {
  bool compiled = false;     // built with BLOCKSCOPE_CUDA
  int device_count = 0;      // GPUs visible at run time (0 without a driver)
  std::string runtime;       // e.g. "CUDA runtime 13.0", or why none
  bool kernels_run = false;  // the self-test kernel ran correctly on device 0 (false: the device is unusable)
  std::string architecture;  // device 0's compute capability, e.g. "sm_90"
};

CudaStatus cuda_status();

// Throws a sentence saying how to get CUDA when this build or machine lacks it.
void require_cuda();

}  // namespace blockscope::optimizers
