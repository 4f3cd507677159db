// CUDA kernels of the optimizer family; contract in step.h, specification in
// optimizers/cpu/step.cpp (each kernel names the CPU function it follows).
// History: first version (multi-tensor table, float64 per-chunk Σ g², stable
// radix sort of ranges by block for the fixed combine order).
#include "optimizers/cuda/step.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cub/device/device_radix_sort.cuh>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "optimizers/cuda/launch.cuh"
#include "optimizers/element_update.h"
#include "optimizers/math/bf16.h"
#include "optimizers/math/codebook.h"
#include "optimizers/math/companding.h"
#include "optimizers/math/fp16.h"
#include "optimizers/math/square_sum.h"
#include "optimizers/math/ulp_split.h"
#include "optimizers/spec_dispatch.h"

namespace blockscope::optimizers {
using namespace cuda;  // launch.cuh: the launch table, scratch, checks
namespace {

constexpr unsigned kFullMask = 0xFFFFFFFFu;

__device__ float warp_max(float x) {
  for (int offset = 16; offset > 0; offset /= 2) x = fmaxf(x, __shfl_xor_sync(kFullMask, x, offset));
  return x;
}

// ---------------------------------------------------------------------------
// Shared v (cpu/step.cpp update_shared_v, square_sum).

// Σ g² in float64 over one 4096-element piece of one range, in exactly
// math::square_sum_piece's order: kSquareSumLanes neighbouring threads per
// piece, thread l adding elements b + l, b + l + 8, ... in turn (the CPU's
// lane l), so a group of threads reads neighbouring elements (coalesced),
// then the lanes combined pairwise, ((0+1)+(2+3))+((4+5)+(6+7)), by shuffles
// (a + b = b + a in IEEE arithmetic, so every thread of a pair agrees).
__global__ void square_sum_kernel(const DeviceTensor* tensors, int count, std::int64_t pieces, double* partial) {
  static_assert(kLinearThreads % 32 == 0 && 32 % math::kSquareSumLanes == 0 && math::kSquareSumLanes == 8,
                "lane groups must sit inside one warp; the combine below is written for 8 lanes");
  const std::int64_t thread = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t p = thread / math::kSquareSumLanes;
  const int lane = static_cast<int>(thread % math::kSquareSumLanes);
  double sum = 0.0;
  if (p < pieces) {  // no early return: every thread of the warp takes part in the shuffles
    const DeviceTensor& t = tensors[find_tensor(tensors, count, p, &DeviceTensor::piece_begin)];
    const std::int64_t local = p - t.piece_begin;
    std::int64_t k;
    if (t.piece_offsets == nullptr) {
      k = local / t.pieces_per_range();
    } else {
      std::int64_t lo = 0, hi = t.ranges.count - 1;
      while (lo < hi) {
        const std::int64_t mid = (lo + hi + 1) / 2;
        if (t.piece_offsets[mid] <= local)
          lo = mid;
        else
          hi = mid - 1;
      }
      k = lo;
    }
    const std::int64_t b = t.ranges.begin(k) + (local - t.range_piece_begin(k)) * kSumChunk;
    const std::int64_t e = min(t.ranges.end(k), b + kSumChunk);
    for (std::int64_t i = t.skipped() ? e : b + lane; i < e; i += math::kSquareSumLanes) {
      const double x = t.step.grad[i];
      sum += x * x;  // the product is exact in float64: contraction into an fma cannot change it
    }
  }
  sum += __shfl_xor_sync(kFullMask, sum, 1);
  sum += __shfl_xor_sync(kFullMask, sum, 2);
  sum += __shfl_xor_sync(kFullMask, sum, 4);
  if (p < pieces && lane == 0) partial[p] = sum;
}

// Per range (global index r): ordered sum of its pieces, its block as the sort key.
__global__ void range_sum_kernel(const DeviceTensor* tensors, int count, std::int64_t ranges, const double* partial,
                                 double* range_sum, std::int64_t* range_size, int* range_tensor,
                                 unsigned long long* keys, std::int64_t* order) {
  const std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= ranges) return;
  const int ti = find_tensor(tensors, count, r, &DeviceTensor::range_begin);
  const DeviceTensor& t = tensors[ti];
  const std::int64_t k = r - t.range_begin;
  const std::int64_t first = t.piece_begin + t.range_piece_begin(k), last = t.piece_begin + t.range_piece_begin(k + 1);
  double total = 0.0;
  for (std::int64_t p = first; p < last; ++p) total += partial[p];
  range_sum[r] = total;  // a skipped tensor's ranges count 0 elements: they do not feed v
  range_size[r] = t.skipped() ? 0 : t.ranges.end(k) - t.ranges.begin(k);
  range_tensor[r] = ti;
  keys[r] = static_cast<unsigned long long>(t.block_of_range(k));
  order[r] = r;
}

// Block b's contributions are sorted[seg_begin[b], seg_end[b]) (empty: 0, 0).
__global__ void segment_kernel(std::int64_t ranges, const unsigned long long* keys, std::int64_t* seg_begin,
                               std::int64_t* seg_end) {
  const std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= ranges) return;
  const unsigned long long b = keys[j];
  if (j == 0 || keys[j - 1] != b) seg_begin[b] = j;
  if (j == ranges - 1 || keys[j + 1] != b) seg_end[b] = j + 1;
}

// v_b ← β2 v_b + (1−β2)·fp32(Σ/count), ranges in (tensor, range) order; β2
// from the block's first active tensor; blocks without active ranges keep v.
__global__ void shared_v_kernel(const DeviceTensor* tensors, std::int64_t blocks, const std::int64_t* seg_begin,
                                const std::int64_t* seg_end, const std::int64_t* order, const double* range_sum,
                                const std::int64_t* range_size, const int* range_tensor, const float* v_in,
                                float* v_out) {
  const std::int64_t b = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= blocks) return;
  const std::int64_t first = seg_begin[b], last = seg_end[b];
  double sum = 0.0;
  std::int64_t elements = 0, first_active = -1;
  for (std::int64_t j = first; j < last; ++j) {
    if (range_size[order[j]] == 0) continue;  // a skipped tensor's range
    if (first_active < 0) first_active = j;
    sum += range_sum[order[j]];
    elements += range_size[order[j]];
  }
  if (elements == 0) {
    v_out[b] = v_in[b];
    return;
  }
  const math::StepScalars sc = tensors[range_tensor[order[first_active]]].step.scalars;
  v_out[b] = math::second_moment(v_in[b], static_cast<float>(sum / static_cast<double>(elements)), sc);
}

// ---------------------------------------------------------------------------
// Group absmax: codebook pass A (cpu codebook_scales) or the histogram
// normalisation (math::histogram_add). Segmented warp max, one atomicMax per
// group piece per warp; max is exact, so the order does not matter.

enum class AbsmaxOf { momentum, gradient };

template <AbsmaxOf What>
__global__ void __launch_bounds__(kThreads)
    group_absmax_kernel(const DeviceTensor* tensors, int count, const float* codebook, unsigned* absmax_bits) {
  __shared__ float levels[math::kCodebookSize];
  if (What == AbsmaxOf::momentum) {
    for (int j = threadIdx.x; j < math::kCodebookSize; j += blockDim.x) levels[j] = codebook[j];
    __syncthreads();
  }
  const DeviceTensor t = tensors[find_tensor(tensors, count, blockIdx.x, &DeviceTensor::chunk_begin)];
  if (t.skipped()) return;  // uniform over the thread block: one tensor per chunk
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const std::int64_t begin = (blockIdx.x - t.chunk_begin) * kChunk, end = min(t.numel, begin + kChunk);
  for (std::int64_t base = begin + warp * 32; base < end; base += kThreads) {
    const std::int64_t i = base + lane;
    const bool in = i < end;
    float value = 0.0f;
    std::int64_t group = -1;
    if (in) {
      group = t.groups.index_of(i);
      const float g = t.step.grad[i];
      value =
          What == AbsmaxOf::momentum
              ? fabsf(math::gefen_momentum(g, t.step.in.m_code[i], t.step.in.m_scale[group], levels, t.step.scalars))
              : fabsf(g);
    }
    for (int offset = 1; offset < 32; offset *= 2) {  // segmented inclusive max scan
      const float other = __shfl_up_sync(kFullMask, value, offset);
      const std::int64_t other_group = __shfl_up_sync(kFullMask, group, offset);
      if (lane >= offset && other_group == group) value = fmaxf(value, other);
    }
    const std::int64_t next_group = __shfl_down_sync(kFullMask, group, 1);
    if (in && (lane == 31 || next_group != group)) {
      // value >= 0: its bits order as floats. NaN ranks as the CPU's std::max
      // ranks it — below everything (fmaxf above drops it too) — rather than
      // above +inf, as its bits would.
      atomicMax(&absmax_bits[t.group_begin + group], __float_as_uint(isnan(value) ? 0.0f : value));
    }
  }
}

// Codebook scales into each tensor's state (after the update read the old ones).
__global__ void store_scales_kernel(const DeviceTensor* tensors, int count, std::int64_t groups, const float* scales) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= groups) return;
  const DeviceTensor& t = tensors[find_tensor(tensors, count, k, &DeviceTensor::group_begin)];
  if (!t.skipped()) t.step.out.m_scale[k - t.group_begin] = scales[k];
}

// ---------------------------------------------------------------------------
// The update pass (cpu update_tiles): a warp per 32-element tile.

template <UpdateRule R, FirstMoment M, SecondMoment V, WeightStorage W>
__global__ void __launch_bounds__(kThreads) update_kernel(const DeviceTensor* tensors, int count, const float* shared_v,
                                                          const float* codebook, const float* new_scales) {
  __shared__ float levels[math::kCodebookSize];
  if (M == FirstMoment::codebook) {
    for (int j = threadIdx.x; j < math::kCodebookSize; j += blockDim.x) levels[j] = codebook[j];
    __syncthreads();
  }
  const DeviceTensor t = tensors[find_tensor(tensors, count, blockIdx.x, &DeviceTensor::chunk_begin)];
  if (t.skipped()) return;  // uniform over the thread block: one tensor per chunk
  const TensorStep& s = t.step;
  const math::StepScalars& sc = s.scalars;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const std::int64_t begin = (blockIdx.x - t.chunk_begin) * kChunk, end = min(t.numel, begin + kChunk);
  for (std::int64_t base = begin + warp * 32; base < end; base += kThreads) {
    const std::int64_t i = base + lane, tile = base / 32;
    const bool in = i < end;
    float m_new = 0.0f, m_used = 0.0f, v_new = 0.0f;
    if (in) {
      // Moments.
      const float g = s.grad[i], theta = stored_weight<W>(s, i);
      if constexpr (M == FirstMoment::codebook) {
        const std::int64_t group = t.groups.index_of(i);
        m_new = math::gefen_momentum(g, s.in.m_code[i], s.in.m_scale[group], levels, sc);
        const float scale = new_scales[t.group_begin + group];
        const std::uint8_t q = math::gefen_code(m_new, scale, levels);
        s.out.m_code[i] = q;
        m_used = math::mul_rn(levels[q], scale);
      } else {
        const ElementMoments moments = rule_moments<R>(
            stored_first_moment<M>(s.in, i,
                                   M == FirstMoment::companded ? math::fp16_to_float(s.in.m_scale16[tile]) : 0.0f),
            g, theta, sc);
        m_new = moments.m_new;
        m_used = moments.m_used;
      }
      const float v_shared = V == SecondMoment::shared ? shared_v[t.block_of_range(t.ranges.index_of(i))] : 0.0f;
      const float v_scale = V == SecondMoment::companded ? math::fp16_to_float(s.in.v_scale16[tile]) : 0.0f;
      v_new = finish_element<R, M, V, W>(s, i, g, theta, m_new, m_used, v_shared, v_scale);
    }
    // Companded tiles: every lane has read the old scale before the shuffle,
    // so lane 0 may overwrite it in place.
    if (M == FirstMoment::companded) {
      const float scale = math::state_group_scale(warp_max(in ? fabsf(m_new) : 0.0f));
      if (in) s.out.m_q8[i] = math::compand_m(m_new, scale);
      if (lane == 0) s.out.m_scale16[tile] = math::float_to_fp16(scale);
    }
    if (V == SecondMoment::companded) {
      const float root = in ? sqrtf(v_new) : 0.0f;
      const float scale = math::state_group_scale(warp_max(root));
      if (in) s.out.v_q8[i] = math::quantize_sqrt_v(root, scale);
      if (lane == 0) s.out.v_scale16[tile] = math::float_to_fp16(scale);
    }
  }
}

using UpdateKernel = void (*)(const DeviceTensor*, int, const float*, const float*, const float*);

UpdateKernel pick(const OptimizerSpec& spec) {
  return visit_spec(spec, [](auto r, auto m, auto v, auto w) -> UpdateKernel {
    return update_kernel<decltype(r)::value, decltype(m)::value, decltype(v)::value, decltype(w)::value>;
  });
}

// ---------------------------------------------------------------------------
// Histogram (math::histogram_add), finiteness, weight splitting.

__global__ void __launch_bounds__(kThreads)
    histogram_kernel(const DeviceTensor* tensors, int count, const float* absmax, unsigned long long* counts) {
  __shared__ unsigned bins[math::kHistogramBins];
  for (int j = threadIdx.x; j < math::kHistogramBins; j += blockDim.x) bins[j] = 0;
  __syncthreads();
  const DeviceTensor t = tensors[find_tensor(tensors, count, blockIdx.x, &DeviceTensor::chunk_begin)];
  const std::int64_t begin = (blockIdx.x - t.chunk_begin) * kChunk, end = min(t.numel, begin + kChunk);
  for (std::int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    const float a = absmax[t.group_begin + t.groups.index_of(i)];
    atomicAdd(&bins[math::histogram_bin(a > 0.0f ? t.step.grad[i] / a : 0.0f)], 1u);
  }
  __syncthreads();
  for (int j = threadIdx.x; j < math::kHistogramBins; j += blockDim.x) {
    if (bins[j] != 0) atomicAdd(&counts[j], static_cast<unsigned long long>(bins[j]));
  }
}

// bad[t.source] = 1 for arrays with a NaN or Inf (bad zeroed beforehand).
__global__ void __launch_bounds__(kThreads) finite_kernel(const DeviceTensor* tensors, int count, std::uint8_t* bad) {
  const DeviceTensor& t = tensors[find_tensor(tensors, count, blockIdx.x, &DeviceTensor::chunk_begin)];
  const std::int64_t begin = (blockIdx.x - t.chunk_begin) * kChunk, end = min(t.numel, begin + kChunk);
  bool any = false;
  for (std::int64_t i = begin + threadIdx.x; i < end; i += kThreads) any = any || !isfinite(t.step.grad[i]);
  if (__syncthreads_or(any) && threadIdx.x == 0) bad[t.source] = 1;
}

__global__ void split_kernel(std::int32_t levels, float* params, std::int64_t n, std::int8_t* rho8,
                             std::int16_t* rho16) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const math::SplitWeight split = math::split_weight(params[i], levels);
    params[i] = math::bf16_to_float(split.hi);
    if (rho8 != nullptr) rho8[i] = static_cast<std::int8_t>(split.rho);
    if (rho16 != nullptr) rho16[i] = static_cast<std::int16_t>(split.rho);
  }
}

std::vector<std::int64_t> numels_of(const StateLayout& layout) {
  std::vector<std::int64_t> n;
  for (const TensorLayout& t : layout.tensors) n.push_back(t.numel);
  return n;
}

int key_bits(std::int64_t blocks) {
  int bits = 1;
  while (bits < 63 && (std::int64_t{1} << bits) < blocks) ++bits;
  return bits;
}

}  // namespace

void step_cuda(const StateLayout& layout, const std::vector<TensorStep>& tensors, const GlobalState& global,
               const CudaPlacement& placement) {
  const PlacementScope scope(placement);
  if (tensors.size() != layout.tensors.size()) {
    throw std::invalid_argument("step_cuda: one TensorStep per layout tensor is needed");
  }
  const OptimizerSpec& spec = layout.spec;
  const bool shared = spec.v == SecondMoment::shared, codebook = spec.m == FirstMoment::codebook;
  if (codebook && global.codebook == nullptr)
    throw std::invalid_argument("step_cuda: the codebook spec needs a codebook");
  std::vector<bool> active(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) active[i] = tensors[i].active;
  Table table(&layout, tensors, numels_of(layout), active, shared, codebook ? Groups::scale : Groups::none);

  Arena arena;
  table.reserve(arena);
  const std::int64_t blocks = shared ? layout.num_blocks : 0, ranges = table.ranges;
  std::size_t partial_at = 0, sum_at = 0, size_at = 0, tensor_at = 0, keys_at = 0, keys_sorted_at = 0, order_at = 0,
              order_sorted_at = 0, seg_begin_at = 0, seg_end_at = 0, sort_temp_at = 0, scales_at = 0;
  std::size_t sort_temp_bytes = 0;
  if (shared) {
    partial_at = arena.reserve<double>(table.pieces);
    sum_at = arena.reserve<double>(ranges);
    size_at = arena.reserve<std::int64_t>(ranges);
    tensor_at = arena.reserve<int>(ranges);
    keys_at = arena.reserve<unsigned long long>(ranges);
    keys_sorted_at = arena.reserve<unsigned long long>(ranges);
    order_at = arena.reserve<std::int64_t>(ranges);
    order_sorted_at = arena.reserve<std::int64_t>(ranges);
    seg_begin_at = arena.reserve<std::int64_t>(blocks);
    seg_end_at = arena.reserve<std::int64_t>(blocks);
    if (ranges > 0) {
      check(cub::DeviceRadixSort::SortPairs(
                nullptr, sort_temp_bytes, static_cast<const unsigned long long*>(nullptr),
                static_cast<unsigned long long*>(nullptr), static_cast<const std::int64_t*>(nullptr),
                static_cast<std::int64_t*>(nullptr), ranges, 0, key_bits(blocks), launch_stream()),
            "radix sort size");
    }
    sort_temp_at = arena.reserve<unsigned char>(static_cast<std::int64_t>(sort_temp_bytes));
  }
  if (codebook) scales_at = arena.reserve<float>(table.group_total);
  arena.allocate();
  const DeviceTensor* d = table.upload(arena);
  const int count = table.count();

  if (shared && blocks > 0) {
    auto* seg_begin = arena.at<std::int64_t>(seg_begin_at);
    auto* seg_end = arena.at<std::int64_t>(seg_end_at);
    check(cudaMemsetAsync(seg_begin, 0, blocks * sizeof(std::int64_t), launch_stream()), "memset");
    check(cudaMemsetAsync(seg_end, 0, blocks * sizeof(std::int64_t), launch_stream()), "memset");
    if (ranges > 0) {
      auto* partial = arena.at<double>(partial_at);
      if (table.pieces > 0) {
        square_sum_kernel<<<grid_for(table.pieces * math::kSquareSumLanes, kLinearThreads), kLinearThreads, 0,
                            launch_stream()>>>(d, count, table.pieces, partial);
        launched("square_sum_kernel");
      }
      range_sum_kernel<<<grid_for(ranges, kLinearThreads), kLinearThreads, 0, launch_stream()>>>(
          d, count, ranges, partial, arena.at<double>(sum_at), arena.at<std::int64_t>(size_at),
          arena.at<int>(tensor_at), arena.at<unsigned long long>(keys_at), arena.at<std::int64_t>(order_at));
      launched("range_sum_kernel");
      // Stable: ranges of one block stay in (tensor, range) order.
      check(cub::DeviceRadixSort::SortPairs(
                arena.at<void>(sort_temp_at), sort_temp_bytes, arena.at<unsigned long long>(keys_at),
                arena.at<unsigned long long>(keys_sorted_at), arena.at<std::int64_t>(order_at),
                arena.at<std::int64_t>(order_sorted_at), ranges, 0, key_bits(blocks), launch_stream()),
            "radix sort");
      segment_kernel<<<grid_for(ranges, kLinearThreads), kLinearThreads, 0, launch_stream()>>>(
          ranges, arena.at<unsigned long long>(keys_sorted_at), seg_begin, seg_end);
      launched("segment_kernel");
    }
    shared_v_kernel<<<grid_for(blocks, kLinearThreads), kLinearThreads, 0, launch_stream()>>>(
        d, blocks, seg_begin, seg_end, arena.at<std::int64_t>(order_sorted_at), arena.at<double>(sum_at),
        arena.at<std::int64_t>(size_at), arena.at<int>(tensor_at), global.v_in, global.v_out);
    launched("shared_v_kernel");
  }
  if (table.chunks == 0) return;
  float* scales = codebook ? arena.at<float>(scales_at) : nullptr;
  if (codebook && table.group_total > 0) {
    check(cudaMemsetAsync(scales, 0, table.group_total * sizeof(float), launch_stream()), "memset");
    group_absmax_kernel<AbsmaxOf::momentum><<<static_cast<unsigned>(table.chunks), kThreads, 0, launch_stream()>>>(
        d, count, global.codebook, reinterpret_cast<unsigned*>(scales));
    launched("group_absmax_kernel");
  }
  pick(spec)<<<static_cast<unsigned>(table.chunks), kThreads, 0, launch_stream()>>>(d, count, global.v_out,
                                                                                    global.codebook, scales);
  launched("update_kernel");
  if (codebook && table.group_total > 0) {
    store_scales_kernel<<<grid_for(table.group_total, kLinearThreads), kLinearThreads, 0, launch_stream()>>>(
        d, count, table.group_total, scales);
    launched("store_scales_kernel");
  }
}

std::vector<float> learn_codebook_cuda(const StateLayout& layout, const std::vector<const float*>& grads,
                                       const CudaPlacement& placement) {
  const PlacementScope scope(placement);
  std::vector<TensorStep> steps(layout.tensors.size());
  std::vector<bool> include(layout.tensors.size());
  bool any = false;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    steps[i].grad = grads[i];
    include[i] = grads[i] != nullptr;
    any = any || (include[i] && layout.tensors[i].numel > 0);
  }
  if (!any)
    throw std::invalid_argument("learn_codebook_cuda: no finite first-step gradient to learn the codebook from");
  Table table(&layout, steps, numels_of(layout), include, false, Groups::histogram);
  Arena arena;
  table.reserve(arena);
  const std::size_t absmax_at = arena.reserve<float>(table.group_total);
  const std::size_t counts_at = arena.reserve<unsigned long long>(math::kHistogramBins);
  arena.allocate();
  const DeviceTensor* d = table.upload(arena);
  auto* absmax = arena.at<float>(absmax_at);
  auto* counts = arena.at<unsigned long long>(counts_at);
  check(cudaMemsetAsync(absmax, 0, table.group_total * sizeof(float), launch_stream()), "memset");
  check(cudaMemsetAsync(counts, 0, math::kHistogramBins * sizeof(unsigned long long), launch_stream()), "memset");
  const unsigned grid = static_cast<unsigned>(table.chunks);
  group_absmax_kernel<AbsmaxOf::gradient>
      <<<grid, kThreads, 0, launch_stream()>>>(d, table.count(), nullptr, reinterpret_cast<unsigned*>(absmax));
  launched("group_absmax_kernel");
  histogram_kernel<<<grid, kThreads, 0, launch_stream()>>>(d, table.count(), absmax, counts);
  launched("histogram_kernel");
  std::vector<unsigned long long> host(math::kHistogramBins);
  check(cudaMemcpyAsync(host.data(), counts, host.size() * sizeof(unsigned long long), cudaMemcpyDeviceToHost,
                        launch_stream()),
        "histogram read-back");
  check(cudaStreamSynchronize(launch_stream()), "histogram read-back");
  return math::learn_codebook(std::vector<std::int64_t>(host.begin(), host.end()));
}

std::function<std::vector<bool>()> check_finite_cuda(const std::vector<const float*>& values,
                                                     const std::vector<std::int64_t>& sizes, std::uint8_t* flags,
                                                     const CudaPlacement& placement) {
  const PlacementScope scope(placement);
  if (values.size() != sizes.size()) throw std::invalid_argument("check_finite_cuda: one size per array is needed");
  if (values.empty()) return [] { return std::vector<bool>{}; };
  check(cudaMemsetAsync(flags, 0, values.size(), launch_stream()), "memset");
  std::vector<TensorStep> steps(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) steps[i].grad = values[i];
  const std::vector<bool> include(values.size(), true);
  Table table(nullptr, steps, sizes, include, false, Groups::none);
  if (table.chunks > 0) {
    Arena arena;
    table.reserve(arena);
    arena.allocate();
    const DeviceTensor* d = table.upload(arena);
    finite_kernel<<<static_cast<unsigned>(table.chunks), kThreads, 0, launch_stream()>>>(d, table.count(), flags);
    launched("finite_kernel");
  }
  auto readback = std::make_shared<HostReadback>(flags, values.size());
  const std::size_t count = values.size();
  return [readback, count] {
    const unsigned char* bad = readback->wait();
    std::vector<bool> finite(count);
    for (std::size_t i = 0; i < count; ++i) finite[i] = bad[i] == 0;
    return finite;
  };
}

void split_weights_cuda(WeightStorage w, float* params, std::int64_t n, std::int8_t* rho8, std::int16_t* rho16,
                        const CudaPlacement& placement) {
  const PlacementScope scope(placement);
  if (w == WeightStorage::fp32 || n == 0) return;
  const std::int32_t levels = w == WeightStorage::bf16_int16 ? math::kRhoLevelsInt16 : math::kRhoLevelsInt8;
  const unsigned grid = static_cast<unsigned>(std::min<std::int64_t>((n + kThreads - 1) / kThreads, 65535));
  split_kernel<<<grid, kThreads, 0, launch_stream()>>>(levels, params, n, rho8, rho16);
  launched("split_kernel");
}

}  // namespace blockscope::optimizers
