// Where the CUDA kernels of one call run: the device holding the tensors and
// the caller's stream (torch's current stream on that device; nullptr = the
// legacy default stream). No CUDA types, so the device-routing layer
// (kernels.h) and torch-side callers include it in any build.
#pragma once

namespace blockscope::optimizers {

struct CudaPlacement {
  int device = 0;          // CUDA device index
  void* stream = nullptr;  // a cudaStream_t
};

}  // namespace blockscope::optimizers
