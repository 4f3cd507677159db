// Launch infrastructure of the CUDA optimizer kernels; contract in launch.cuh.
#include "optimizers/cuda/launch.cuh"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

namespace blockscope::optimizers::cuda {

// A pinned host buffer, reused once the copy that last used it has completed
// (the event recorded behind it). A handful per device in steady state, never
// freed (the driver releases them at exit; cudaFreeHost would synchronise).
struct PinnedSlot {
  int device = 0;
  void* host = nullptr;
  std::size_t capacity = 0;
  cudaEvent_t done = nullptr;
  bool held = false;  // by an upload in progress or a live HostReadback
};

namespace {

thread_local cudaStream_t current_stream = nullptr;

class PinnedPool {
 public:
  // A slot of at least `bytes` on the current device whose last copy is done.
  PinnedSlot* acquire(std::size_t bytes) {
    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    const std::lock_guard<std::mutex> lock(mutex_);
    for (auto& s : slots_) {
      if (s->device != device || s->held || s->capacity < bytes) continue;
      const cudaError_t state = cudaEventQuery(s->done);
      if (state == cudaErrorNotReady) {
        (void)cudaGetLastError();  // "not ready" is recorded as the thread's last error: clear it for launched()
        continue;
      }
      check(state, "cudaEventQuery");
      s->held = true;
      return s.get();
    }
    auto s = std::make_unique<PinnedSlot>();
    s->device = device;
    s->capacity = std::max<std::size_t>(bytes, 64 * 1024);
    check(cudaHostAlloc(&s->host, s->capacity, cudaHostAllocPortable), "cudaHostAlloc (pinned staging)");
    check(cudaEventCreateWithFlags(&s->done, cudaEventDisableTiming), "cudaEventCreate");
    s->held = true;
    slots_.push_back(std::move(s));
    return slots_.back().get();
  }
  void release(PinnedSlot* s) {
    const std::lock_guard<std::mutex> lock(mutex_);
    s->held = false;
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<PinnedSlot>> slots_;
};

PinnedPool& pinned_pool() {
  static PinnedPool* pool = new PinnedPool();  // never destroyed: slots outlive static destruction order
  return *pool;
}

}  // namespace

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("CUDA optimizer kernels: ") + what + ": " + cudaGetErrorString(err));
}

void launched(const char* what) {
  check(cudaGetLastError(), what);
  static const bool sync_check = [] {
    const char* value = std::getenv("BLOCKSCOPE_CUDA_SYNC_CHECK");
    return value != nullptr && std::string(value) != "0" && std::string(value) != "";
  }();
  if (sync_check) check(cudaStreamSynchronize(current_stream), what);
}

cudaStream_t launch_stream() { return current_stream; }

PlacementScope::PlacementScope(const CudaPlacement& placement) {
  check(cudaGetDevice(&caller_device_), "cudaGetDevice");
  if (placement.device != caller_device_) check(cudaSetDevice(placement.device), "cudaSetDevice");
  current_stream = static_cast<cudaStream_t>(placement.stream);
  switched_ = placement.device != caller_device_;
}

PlacementScope::~PlacementScope() {
  current_stream = nullptr;
  if (switched_) cudaSetDevice(caller_device_);
}

void upload_async(void* device_dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  PinnedSlot* s = pinned_pool().acquire(bytes);
  std::memcpy(s->host, src, bytes);
  const cudaError_t copied = cudaMemcpyAsync(device_dst, s->host, bytes, cudaMemcpyHostToDevice, current_stream);
  const cudaError_t recorded = copied == cudaSuccess ? cudaEventRecord(s->done, current_stream) : copied;
  pinned_pool().release(s);  // reusable once `done` has passed
  check(copied, "table upload");
  check(recorded, "cudaEventRecord");
}

HostReadback::HostReadback(const void* device_src, std::size_t bytes) {
  slot_ = pinned_pool().acquire(std::max<std::size_t>(bytes, 1));
  cudaError_t err = cudaSuccess;
  if (bytes > 0) err = cudaMemcpyAsync(slot_->host, device_src, bytes, cudaMemcpyDeviceToHost, current_stream);
  if (err == cudaSuccess) err = cudaEventRecord(slot_->done, current_stream);
  if (err != cudaSuccess) {
    pinned_pool().release(slot_);  // the destructor does not run for a constructor that throws
    check(err, "flag read-back");
  }
}

HostReadback::~HostReadback() { pinned_pool().release(slot_); }

const unsigned char* HostReadback::wait() {
  check(cudaEventSynchronize(slot_->done), "flag read-back");
  return static_cast<const unsigned char*>(slot_->host);
}

}  // namespace blockscope::optimizers::cuda
