#include <cuda_runtime.h>

#include <string>

#include "optimizers/cuda/device_query.h"

namespace blockscope::optimizers::cuda {
namespace {

__global__ void iota_kernel(int* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = i;
}

// Launches one kernel and checks its result: proves the device code for
// this GPU's architecture is in the binary.
bool kernel_self_test() {
  constexpr int n = 1024;
  int* device = nullptr;
  if (cudaMalloc(&device, n * sizeof(int)) != cudaSuccess) return false;
  iota_kernel<<<(n + 255) / 256, 256>>>(device, n);
  bool ok = cudaGetLastError() == cudaSuccess;  // "no kernel image for this device" shows here
  int host[n] = {};
  ok = cudaMemcpy(host, device, sizeof(host), cudaMemcpyDeviceToHost) == cudaSuccess && ok;
  cudaFree(device);
  cudaGetLastError();  // a failed launch must not stay pending for the next caller
  for (int i = 0; ok && i < n; ++i) ok = host[i] == i;
  return ok;
}

}  // namespace

CudaStatus query_devices() {
  CudaStatus status;
  status.compiled = true;
  int version = 0;
  cudaRuntimeGetVersion(&version);
  status.runtime = "CUDA runtime " + std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
  cudaError_t err = cudaGetDeviceCount(&status.device_count);
  if (err != cudaSuccess) {
    status.device_count = 0;
    status.runtime += std::string(", ") + cudaGetErrorString(err);
    return status;
  }
  if (status.device_count > 0) {
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, 0) == cudaSuccess) {
      status.architecture = "sm_" + std::to_string(properties.major) + std::to_string(properties.minor);
    }
    status.kernels_run = kernel_self_test();
    if (!status.kernels_run) status.runtime += ", kernel self-test FAILED";
  }
  return status;
}

}  // namespace blockscope::optimizers::cuda
