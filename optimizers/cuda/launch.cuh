// Launch infrastructure of the CUDA optimizer kernels (cuda/step.cu): error
// checks, the caller's device and stream for the call in progress, stream-
// ordered scratch memory, pinned staging for host-to-device copies and
// device-to-host flags, and the multi-tensor launch table (DeviceTensor) the
// kernels index. Internal to optimizers/cuda.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "optimizers/cpu/step.h"
#include "optimizers/cuda/placement.h"
#include "optimizers/math/companding.h"

namespace blockscope::optimizers::cuda {

constexpr std::int64_t kChunk = 65536;    // elements per thread block (multi_tensor_apply)
constexpr int kThreads = 512;             // threads per chunk
constexpr std::int64_t kSumChunk = 4096;  // must equal kSumChunk of cpu/step.cpp (Σ g² order)
constexpr int kLinearThreads = 256;       // one thread per piece / range / block / group
static_assert(kChunk % kSumChunk == 0 && kChunk % math::kStateGroupSize == 0 && kThreads % 32 == 0,
              "chunks hold whole 32-element tiles");

// Throws "CUDA optimizer kernels: <what>: <CUDA's message>" unless err is cudaSuccess.
void check(cudaError_t err, const char* what);

// After each launch: the launch error (no host sync); with
// BLOCKSCOPE_CUDA_SYNC_CHECK=1 in the environment also a synchronisation and
// the kernel's own error, so a fault names the kernel that caused it.
void launched(const char* what);

inline unsigned grid_for(std::int64_t items, int threads) {
  return static_cast<unsigned>((items + threads - 1) / threads);
}

// The stream of the call in progress on this thread (PlacementScope sets it).
cudaStream_t launch_stream();

// For one call: makes placement.device current and launches on
// placement.stream; restores the caller's device afterwards.
class PlacementScope {
 public:
  explicit PlacementScope(const CudaPlacement& placement);
  ~PlacementScope();
  PlacementScope(const PlacementScope&) = delete;
  PlacementScope& operator=(const PlacementScope&) = delete;

 private:
  int caller_device_ = 0;
  bool switched_ = false;
};

// Copies `bytes` of host memory to `device_dst` on the launch stream through
// a pinned staging buffer: a true asynchronous copy — the host does not wait
// for the device, and `src` may be reused at once.
void upload_async(void* device_dst, const void* src, std::size_t bytes);

// Queues a copy of `bytes` of device memory into pinned host memory on the
// launch stream; wait() blocks until that copy (and the work before it on the
// stream) is done, not for anything queued later.
struct PinnedSlot;

class HostReadback {
 public:
  HostReadback(const void* device_src, std::size_t bytes);
  ~HostReadback();
  HostReadback(const HostReadback&) = delete;
  HostReadback& operator=(const HostReadback&) = delete;
  const unsigned char* wait();

 private:
  PinnedSlot* slot_;
};

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
  int source = 0;   // index in the caller's list
  std::int64_t numel = 0;
  DeviceSegments ranges;                    // shared-v ranges
  const std::int64_t* block_ids = nullptr;  // null: range k has id first_block + k
  std::int64_t first_block = 0;
  const std::int64_t* piece_offsets = nullptr;  // explicit ranges: [count + 1] prefix of 4096-element pieces
  DeviceSegments groups;                        // codebook scale groups, or histogram groups
  std::int64_t chunk_begin = 0, piece_begin = 0, range_begin = 0, group_begin = 0;

  // step.skip_if set on the device: the tensor takes no part (as inactive).
  __device__ bool skipped() const { return step.skip_if != nullptr && *step.skip_if != 0; }
  __device__ std::int64_t block_of_range(std::int64_t k) const {
    return block_ids != nullptr ? block_ids[k] : first_block + k;
  }
  __device__ std::int64_t pieces_per_range() const { return (ranges.period + kSumChunk - 1) / kSumChunk; }
  __device__ std::int64_t range_piece_begin(std::int64_t k) const {
    return piece_offsets != nullptr ? piece_offsets[k] : k * pieces_per_range();
  }
};

// Last tensor whose `field` is <= x (x below the table's total).
__device__ inline int find_tensor(const DeviceTensor* t, int count, std::int64_t x, std::int64_t DeviceTensor::*field) {
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

// Byte offsets first, then one cudaMallocAsync; freed stream-ordered.
class Arena {
 public:
  template <class T>
  std::size_t reserve(std::int64_t count) {
    const std::size_t offset = (size_ + 255) / 256 * 256;
    size_ = offset + static_cast<std::size_t>(count) * sizeof(T);
    return offset;
  }
  void allocate() {
    check(cudaMallocAsync(&base_, std::max<std::size_t>(size_, 1), launch_stream()), "cudaMallocAsync");
  }
  template <class T>
  T* at(std::size_t offset) const {
    return reinterpret_cast<T*>(static_cast<char*>(base_) + offset);
  }
  ~Arena() {
    if (base_ != nullptr) cudaFreeAsync(base_, launch_stream());
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
      d.source = static_cast<int>(i);
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

  // Points the entries at the arena's extras and uploads both through pinned
  // staging (upload_async: the host does not wait for the device).
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
    upload_async(table, entries.data(), entries.size() * sizeof(DeviceTensor));
    upload_async(arena.at<std::int64_t>(extras_at_), extras_.data(), extras_.size() * sizeof(std::int64_t));
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

}  // namespace blockscope::optimizers::cuda
