// CUDA kernels of the optimizer family; contract in step.h, specification in
// optimizers/cpu/step.cpp (each kernel names the CPU function it follows).
// History: first version (multi-tensor table, float64 per-chunk Σ g², stable
// radix sort of ranges by block for the fixed combine order).
#include "optimizers/cuda/step.h"

#include <cuda_runtime.h>

#include <cstdlib>

#include <algorithm>
#include <cub/device/device_radix_sort.cuh>
#include <limits>
#include <stdexcept>
#include <string>

#include "optimizers/element_update.h"
#include "optimizers/math/bf16.h"
#include "optimizers/math/codebook.h"
#include "optimizers/math/companding.h"
#include "optimizers/math/fp16.h"
#include "optimizers/math/square_sum.h"
#include "optimizers/math/ulp_split.h"
#include "optimizers/spec_dispatch.h"

namespace blockscope::optimizers {
namespace {

constexpr std::int64_t kChunk = 65536;    // elements per thread block (multi_tensor_apply)
constexpr int kThreads = 512;             // threads per chunk
constexpr std::int64_t kSumChunk = 4096;  // must equal kSumChunk of cpu/step.cpp (Σ g² order)
constexpr int kLinearThreads = 256;       // one thread per piece / range / block / group
constexpr unsigned kFullMask = 0xFFFFFFFFu;
// The stream of the call in progress on this thread (PlacementScope sets it).
thread_local cudaStream_t launch_stream = nullptr;
static_assert(kChunk % kSumChunk == 0 && kChunk % math::kStateGroupSize == 0 && kThreads % 32 == 0,
              "chunks hold whole 32-element tiles");

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("CUDA optimizer kernels: ") + what + ": " + cudaGetErrorString(err));
}

unsigned grid_for(std::int64_t items, int threads) { return static_cast<unsigned>((items + threads - 1) / threads); }

// Segments (state_layout.h) or partition ranges on the device: uniform
// `period`, or explicit boundaries [count + 1].
struct DeviceSegments {
  std::int64_t period = 0;
  const std::int64_t* bounds = nullptr;
  std::int64_t count = 0;

  __device__ std::int64_t begin(std::int64_t k) const { return period > 0 ? k * period : bounds[k]; }
  __device__ std::int64_t end(std::int64_t k) const { return period > 0 ? (k + 1) * period : bounds[k + 1]; }
  // Segment holding element i (last k with begin(k) <= i), as Segments::index_of.
  __device__ std::int64_t index_of(std::int64_t i) const {
    if (period > 0) return i / period;
    std::int64_t lo = 0, hi = count - 1;
    while (lo < hi) {
      const std::int64_t mid = (lo + hi + 1) / 2;
      if (bounds[mid] <= i)
        lo = mid;
      else
        hi = mid - 1;
    }
    return lo;
  }
};

// One active tensor of a launch. Offsets are global over the table: chunk c
// of the launch belongs to the last tensor with chunk_begin <= c, and so on.
struct DeviceTensor {
  TensorStep step;  // device pointers and this step's scalars
  std::int64_t numel = 0;
  DeviceSegments ranges;                    // shared-v ranges
  const std::int64_t* block_ids = nullptr;  // null: range k has id first_block + k
  std::int64_t first_block = 0;
  const std::int64_t* piece_offsets = nullptr;  // explicit ranges: [count + 1] prefix of 4096-element pieces
  DeviceSegments groups;                        // codebook scale groups, or histogram groups
  std::int64_t chunk_begin = 0, piece_begin = 0, range_begin = 0, group_begin = 0;

  __device__ std::int64_t block_of_range(std::int64_t k) const {
    return block_ids != nullptr ? block_ids[k] : first_block + k;
  }
  __device__ std::int64_t pieces_per_range() const { return (ranges.period + kSumChunk - 1) / kSumChunk; }
  __device__ std::int64_t range_piece_begin(std::int64_t k) const {
    return piece_offsets != nullptr ? piece_offsets[k] : k * pieces_per_range();
  }
};

// Last tensor whose `field` is <= x (x below the table's total).
__device__ int find_tensor(const DeviceTensor* t, int count, std::int64_t x, std::int64_t DeviceTensor::*field) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (t[mid].*field <= x)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

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
    for (std::int64_t i = b + lane; i < e; i += math::kSquareSumLanes) {
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
  range_sum[r] = total;
  range_size[r] = t.ranges.end(k) - t.ranges.begin(k);
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
// from the block's first active tensor; blocks without ranges keep v.
__global__ void shared_v_kernel(const DeviceTensor* tensors, std::int64_t blocks, const std::int64_t* seg_begin,
                                const std::int64_t* seg_end, const std::int64_t* order, const double* range_sum,
                                const std::int64_t* range_size, const int* range_tensor, const float* v_in,
                                float* v_out) {
  const std::int64_t b = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= blocks) return;
  const std::int64_t first = seg_begin[b], last = seg_end[b];
  if (first == last) {
    v_out[b] = v_in[b];
    return;
  }
  double sum = 0.0;
  std::int64_t elements = 0;
  for (std::int64_t j = first; j < last; ++j) {
    sum += range_sum[order[j]];
    elements += range_size[order[j]];
  }
  const math::StepScalars sc = tensors[range_tensor[order[first]]].step.scalars;
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
  t.step.out.m_scale[k - t.group_begin] = scales[k];
}

// ---------------------------------------------------------------------------
// The update pass (cpu update_tiles): a warp per 32-element tile.

template <FirstMoment M, SecondMoment V, WeightStorage W>
__global__ void __launch_bounds__(kThreads) update_kernel(const DeviceTensor* tensors, int count, const float* shared_v,
                                                          const float* codebook, const float* new_scales) {
  __shared__ float levels[math::kCodebookSize];
  if (M == FirstMoment::codebook) {
    for (int j = threadIdx.x; j < math::kCodebookSize; j += blockDim.x) levels[j] = codebook[j];
    __syncthreads();
  }
  const DeviceTensor t = tensors[find_tensor(tensors, count, blockIdx.x, &DeviceTensor::chunk_begin)];
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
      const float g = s.grad[i];
      if constexpr (M == FirstMoment::codebook) {
        const std::int64_t group = t.groups.index_of(i);
        m_new = math::gefen_momentum(g, s.in.m_code[i], s.in.m_scale[group], levels, sc);
        const float scale = new_scales[t.group_begin + group];
        const std::uint8_t q = math::gefen_code(m_new, scale, levels);
        s.out.m_code[i] = q;
        m_used = math::mul_rn(levels[q], scale);
      } else {
        m_new = math::first_moment(
            stored_first_moment<M>(s.in, i,
                                   M == FirstMoment::companded ? math::fp16_to_float(s.in.m_scale16[tile]) : 0.0f),
            g, sc);
        m_used = m_new;
      }
      const float v_shared = V == SecondMoment::shared ? shared_v[t.block_of_range(t.ranges.index_of(i))] : 0.0f;
      const float v_scale = V == SecondMoment::companded ? math::fp16_to_float(s.in.v_scale16[tile]) : 0.0f;
      v_new = finish_element<M, V, W>(s, i, g, m_new, m_used, v_shared, v_scale);
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
  return visit_spec(spec, [](auto m, auto v, auto w) -> UpdateKernel {
    return update_kernel<decltype(m)::value, decltype(v)::value, decltype(w)::value>;
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

__global__ void __launch_bounds__(kThreads) finite_kernel(const DeviceTensor* tensors, int count, unsigned char* bad) {
  const int ti = find_tensor(tensors, count, blockIdx.x, &DeviceTensor::chunk_begin);
  const DeviceTensor& t = tensors[ti];
  const std::int64_t begin = (blockIdx.x - t.chunk_begin) * kChunk, end = min(t.numel, begin + kChunk);
  bool any = false;
  for (std::int64_t i = begin + threadIdx.x; i < end; i += kThreads) any = any || !isfinite(t.step.grad[i]);
  if (__syncthreads_or(any) && threadIdx.x == 0) bad[ti] = 1;
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

// ---------------------------------------------------------------------------
// Host side: the per-launch table and one stream-ordered scratch allocation.

// Byte offsets first, then one cudaMallocAsync; freed stream-ordered.
class Arena {
 public:
  template <class T>
  std::size_t reserve(std::int64_t count) {
    const std::size_t offset = (size_ + 255) / 256 * 256;
    size_ = offset + static_cast<std::size_t>(count) * sizeof(T);
    return offset;
  }
  void allocate() { check(cudaMallocAsync(&base_, std::max<std::size_t>(size_, 1), launch_stream), "cudaMallocAsync"); }
  template <class T>
  T* at(std::size_t offset) const {
    return reinterpret_cast<T*>(static_cast<char*>(base_) + offset);
  }
  ~Arena() {
    if (base_ != nullptr) cudaFreeAsync(base_, launch_stream);
  }

 private:
  std::size_t size_ = 0;
  void* base_ = nullptr;
};

enum class Groups { none, scale, histogram };

// The DeviceTensor table of one launch, built on the host: explicit
// boundaries, ids and piece offsets go to `extras` and are pointed at once
// the arena exists.
class Table {
 public:
  // Entries for steps[i] (numel of layout tensor i) where include[i].
  Table(const StateLayout* layout, const std::vector<TensorStep>& steps, const std::vector<std::int64_t>& numels,
        const std::vector<bool>& include, bool with_ranges, Groups groups) {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (!include[i] || numels[i] == 0) continue;
      DeviceTensor d;
      d.step = steps[i];
      d.numel = numels[i];
      d.chunk_begin = chunks;
      chunks += (d.numel + kChunk - 1) / kChunk;
      Pending p;
      if (with_ranges) {
        const partition::TensorBlocks& b = layout->tensors[i].blocks;
        d.ranges.period = b.period;
        d.ranges.count = b.num_ranges();
        d.first_block = b.first_block;
        d.piece_begin = pieces;
        d.range_begin = ranges;
        ranges += d.ranges.count;
        if (b.period > 0) {
          pieces += d.ranges.count * ((b.period + kSumChunk - 1) / kSumChunk);
        } else {
          p.bounds = add(b.boundaries);
          std::vector<std::int64_t> offsets(b.boundaries.size(), 0);
          for (std::size_t k = 0; k + 1 < b.boundaries.size(); ++k) {
            offsets[k + 1] = offsets[k] + (b.boundaries[k + 1] - b.boundaries[k] + kSumChunk - 1) / kSumChunk;
          }
          pieces += offsets.back();
          p.piece_offsets = add(offsets);
        }
        if (!b.block_ids.empty()) p.block_ids = add(b.block_ids);
      }
      if (groups != Groups::none) {
        const Segments& s =
            groups == Groups::scale ? layout->tensors[i].scale_groups : layout->tensors[i].histogram_groups;
        d.groups.period = s.period;
        d.groups.count = s.count();
        d.group_begin = group_total;
        group_total += d.groups.count;
        if (s.period == 0) p.group_bounds = add(s.boundaries);
      }
      entries.push_back(d);
      pending.push_back(p);
    }
  }

  void reserve(Arena& arena) {
    table_at_ = arena.reserve<DeviceTensor>(static_cast<std::int64_t>(entries.size()));
    extras_at_ = arena.reserve<std::int64_t>(static_cast<std::int64_t>(extras_.size()));
  }

  // Points the entries at the arena's extras and uploads both (one copy each;
  // pageable sources are staged by the driver, so they may go out of scope).
  const DeviceTensor* upload(const Arena& arena) {
    const std::int64_t* extras = arena.at<std::int64_t>(extras_at_);
    auto point = [&](std::size_t offset) { return offset == kNone ? nullptr : extras + offset; };
    for (std::size_t k = 0; k < entries.size(); ++k) {
      entries[k].ranges.bounds = point(pending[k].bounds);
      entries[k].piece_offsets = point(pending[k].piece_offsets);
      entries[k].block_ids = point(pending[k].block_ids);
      entries[k].groups.bounds = point(pending[k].group_bounds);
    }
    DeviceTensor* table = arena.at<DeviceTensor>(table_at_);
    if (!entries.empty()) {
      check(cudaMemcpyAsync(table, entries.data(), entries.size() * sizeof(DeviceTensor), cudaMemcpyHostToDevice,
                            launch_stream),
            "table upload");
    }
    if (!extras_.empty()) {
      check(cudaMemcpyAsync(arena.at<std::int64_t>(extras_at_), extras_.data(), extras_.size() * sizeof(std::int64_t),
                            cudaMemcpyHostToDevice, launch_stream),
            "table upload");
    }
    return table;
  }

  int count() const { return static_cast<int>(entries.size()); }

  std::vector<DeviceTensor> entries;
  std::int64_t chunks = 0, pieces = 0, ranges = 0, group_total = 0;

 private:
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  struct Pending {
    std::size_t bounds = kNone, piece_offsets = kNone, block_ids = kNone, group_bounds = kNone;
  };
  std::size_t add(const std::vector<std::int64_t>& values) {
    const std::size_t at = extras_.size();
    extras_.insert(extras_.end(), values.begin(), values.end());
    return at;
  }

  std::vector<Pending> pending;
  std::vector<std::int64_t> extras_;
  std::size_t table_at_ = 0, extras_at_ = 0;
};

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

// After each launch: the launch error (no host sync); with
// BLOCKSCOPE_CUDA_SYNC_CHECK=1 in the environment also a synchronisation and
// the kernel's own error, so a fault names the kernel that caused it.
void launched(const char* what) {
  check(cudaGetLastError(), what);
  static const bool sync_check = [] {
    const char* value = std::getenv("BLOCKSCOPE_CUDA_SYNC_CHECK");
    return value != nullptr && std::string(value) != "0" && std::string(value) != "";
  }();
  if (sync_check) check(cudaStreamSynchronize(launch_stream), what);
}

// For one call: makes placement.device current and launches on
// placement.stream; restores the caller's device afterwards.
class PlacementScope {
 public:
  explicit PlacementScope(const CudaPlacement& placement) {
    check(cudaGetDevice(&caller_device_), "cudaGetDevice");
    if (placement.device != caller_device_) check(cudaSetDevice(placement.device), "cudaSetDevice");
    launch_stream = static_cast<cudaStream_t>(placement.stream);
    switched_ = placement.device != caller_device_;
  }
  ~PlacementScope() {
    launch_stream = nullptr;
    if (switched_) cudaSetDevice(caller_device_);
  }
  PlacementScope(const PlacementScope&) = delete;
  PlacementScope& operator=(const PlacementScope&) = delete;

 private:
  int caller_device_ = 0;
  bool switched_ = false;
};

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
                static_cast<std::int64_t*>(nullptr), ranges, 0, key_bits(blocks), launch_stream),
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
    check(cudaMemsetAsync(seg_begin, 0, blocks * sizeof(std::int64_t), launch_stream), "memset");
    check(cudaMemsetAsync(seg_end, 0, blocks * sizeof(std::int64_t), launch_stream), "memset");
    if (ranges > 0) {
      auto* partial = arena.at<double>(partial_at);
      if (table.pieces > 0) {
        square_sum_kernel<<<grid_for(table.pieces * math::kSquareSumLanes, kLinearThreads), kLinearThreads, 0,
                            launch_stream>>>(d, count, table.pieces, partial);
        launched("square_sum_kernel");
      }
      range_sum_kernel<<<grid_for(ranges, kLinearThreads), kLinearThreads, 0, launch_stream>>>(
          d, count, ranges, partial, arena.at<double>(sum_at), arena.at<std::int64_t>(size_at),
          arena.at<int>(tensor_at), arena.at<unsigned long long>(keys_at), arena.at<std::int64_t>(order_at));
      launched("range_sum_kernel");
      // Stable: ranges of one block stay in (tensor, range) order.
      check(cub::DeviceRadixSort::SortPairs(
                arena.at<void>(sort_temp_at), sort_temp_bytes, arena.at<unsigned long long>(keys_at),
                arena.at<unsigned long long>(keys_sorted_at), arena.at<std::int64_t>(order_at),
                arena.at<std::int64_t>(order_sorted_at), ranges, 0, key_bits(blocks), launch_stream),
            "radix sort");
      segment_kernel<<<grid_for(ranges, kLinearThreads), kLinearThreads, 0, launch_stream>>>(
          ranges, arena.at<unsigned long long>(keys_sorted_at), seg_begin, seg_end);
      launched("segment_kernel");
    }
    shared_v_kernel<<<grid_for(blocks, kLinearThreads), kLinearThreads, 0, launch_stream>>>(
        d, blocks, seg_begin, seg_end, arena.at<std::int64_t>(order_sorted_at), arena.at<double>(sum_at),
        arena.at<std::int64_t>(size_at), arena.at<int>(tensor_at), global.v_in, global.v_out);
    launched("shared_v_kernel");
  }
  if (table.chunks == 0) return;
  float* scales = codebook ? arena.at<float>(scales_at) : nullptr;
  if (codebook && table.group_total > 0) {
    check(cudaMemsetAsync(scales, 0, table.group_total * sizeof(float), launch_stream), "memset");
    group_absmax_kernel<AbsmaxOf::momentum><<<static_cast<unsigned>(table.chunks), kThreads, 0, launch_stream>>>(
        d, count, global.codebook, reinterpret_cast<unsigned*>(scales));
    launched("group_absmax_kernel");
  }
  pick(spec)<<<static_cast<unsigned>(table.chunks), kThreads, 0, launch_stream>>>(d, count, global.v_out,
                                                                                  global.codebook, scales);
  launched("update_kernel");
  if (codebook && table.group_total > 0) {
    store_scales_kernel<<<grid_for(table.group_total, kLinearThreads), kLinearThreads, 0, launch_stream>>>(
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
  check(cudaMemsetAsync(absmax, 0, table.group_total * sizeof(float), launch_stream), "memset");
  check(cudaMemsetAsync(counts, 0, math::kHistogramBins * sizeof(unsigned long long), launch_stream), "memset");
  const unsigned grid = static_cast<unsigned>(table.chunks);
  group_absmax_kernel<AbsmaxOf::gradient>
      <<<grid, kThreads, 0, launch_stream>>>(d, table.count(), nullptr, reinterpret_cast<unsigned*>(absmax));
  launched("group_absmax_kernel");
  histogram_kernel<<<grid, kThreads, 0, launch_stream>>>(d, table.count(), absmax, counts);
  launched("histogram_kernel");
  std::vector<unsigned long long> host(math::kHistogramBins);
  check(cudaMemcpyAsync(host.data(), counts, host.size() * sizeof(unsigned long long), cudaMemcpyDeviceToHost,
                        launch_stream),
        "histogram read-back");
  check(cudaStreamSynchronize(launch_stream), "histogram read-back");
  return math::learn_codebook(std::vector<std::int64_t>(host.begin(), host.end()));
}

std::vector<bool> all_finite_cuda(const std::vector<const float*>& values, const std::vector<std::int64_t>& sizes,
                                  const CudaPlacement& placement) {
  const PlacementScope scope(placement);
  if (values.size() != sizes.size()) throw std::invalid_argument("all_finite_cuda: one size per array is needed");
  std::vector<TensorStep> steps(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) steps[i].grad = values[i];
  const std::vector<bool> include(values.size(), true);
  Table table(nullptr, steps, sizes, include, false, Groups::none);
  std::vector<bool> finite(values.size(), true);
  if (table.chunks == 0) return finite;
  Arena arena;
  table.reserve(arena);
  const std::size_t bad_at = arena.reserve<unsigned char>(table.count());
  arena.allocate();
  const DeviceTensor* d = table.upload(arena);
  auto* bad = arena.at<unsigned char>(bad_at);
  check(cudaMemsetAsync(bad, 0, static_cast<std::size_t>(table.count()), launch_stream), "memset");
  finite_kernel<<<static_cast<unsigned>(table.chunks), kThreads, 0, launch_stream>>>(d, table.count(), bad);
  launched("finite_kernel");
  std::vector<unsigned char> host(static_cast<std::size_t>(table.count()));
  check(cudaMemcpyAsync(host.data(), bad, host.size(), cudaMemcpyDeviceToHost, launch_stream), "finite read-back");
  check(cudaStreamSynchronize(launch_stream), "finite read-back");
  std::size_t k = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (sizes[i] > 0) finite[i] = host[k++] == 0;
  }
  return finite;
}

void split_weights_cuda(WeightStorage w, float* params, std::int64_t n, std::int8_t* rho8, std::int16_t* rho16,
                        const CudaPlacement& placement) {
  const PlacementScope scope(placement);
  if (w == WeightStorage::fp32 || n == 0) return;
  const std::int32_t levels = w == WeightStorage::bf16_int16 ? math::kRhoLevelsInt16 : math::kRhoLevelsInt8;
  const unsigned grid = static_cast<unsigned>(std::min<std::int64_t>((n + kThreads - 1) / kThreads, 65535));
  split_kernel<<<grid, kThreads, 0, launch_stream>>>(levels, params, n, rho8, rho16);
  launched("split_kernel");
}

}  // namespace blockscope::optimizers
