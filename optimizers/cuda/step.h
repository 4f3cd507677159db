// CUDA kernels of the optimizer family (compiled only with BLOCKSCOPE_CUDA).
// The specification is the CPU reference, optimizers/cpu/step.h: same
// signatures with device pointers, same per-element math (optimizers/math),
// same reduction orders, so results agree BITWISE with step_cpu:
//   - elementwise parts call the same BLOCKSCOPE_HD functions (mul_rn keeps
//     nvcc's FMA contraction out; no fast-math);
//   - Σ g² per shared-v range is summed in float64 over the same 4096-element
//     chunks by the same math::square_sum_piece, chunk sums in order, ranges into
//     their block in (tensor, range) order — one thread per chunk, one per
//     range, one per block (after a stable radix sort of ranges by block);
//   - maxima (codebook scales, companded group scales) are exact in any order.
// Multi-tensor launches (PyTorch multi_tensor_apply style): one launch per
// pass over every active tensor, 65 536-element chunks of 512 threads, a
// per-step device table of the tensors (TensorStep, block structure; explicit
// boundaries and ids only where a tensor has them; cuda/launch.cuh) copied up
// from pinned staging; scratch from one cudaMallocAsync. Every call runs on
// placement.device (switched to and back) and queues its work on
// placement.stream — the caller passes torch's current stream. The step has no
// host synchronisation: tensors whose TensorStep::skip_if flag is set on the
// device are skipped by the kernels themselves; check_finite_cuda's flags come
// back to pinned memory behind the check, waited for only when the caller
// asks; learn_codebook_cuda (first step only) reads its histogram back.
// Not here: non-fp32 gradients, CUDA graphs.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "optimizers/cpu/step.h"
#include "optimizers/cuda/placement.h"

namespace blockscope::optimizers {

// step_cpu on device pointers (every pointer in tensors and global, the
// codebook included, lives on the current CUDA device).
void step_cuda(const StateLayout& layout, const std::vector<TensorStep>& tensors, const GlobalState& global,
               const CudaPlacement& placement);

// learn_codebook_cpu with device gradients: the 4096-bin histogram is built
// on the device (exact integer counts), read back once, and the k-means runs
// on the host (math::learn_codebook).
std::vector<float> learn_codebook_cuda(const StateLayout& layout, const std::vector<const float*>& grads,
                                       const CudaPlacement& placement);

// check_finite (kernels.h) on device arrays: flags (device, one byte per
// array) set in stream order by one launch, then copied to pinned host
// memory; the returned function waits for that copy alone.
std::function<std::vector<bool>()> check_finite_cuda(const std::vector<const float*>& values,
                                                     const std::vector<std::int64_t>& sizes, std::uint8_t* flags,
                                                     const CudaPlacement& placement);

// split_weights_cpu on device pointers.
void split_weights_cuda(WeightStorage w, float* params, std::int64_t n, std::int8_t* rho8, std::int16_t* rho16,
                        const CudaPlacement& placement);

}  // namespace blockscope::optimizers
