// CUDA kernels against the CPU reference (docs/style.md 10), through the routing
// layer (kernels.h) on raw device buffers: every preset and every storage
// combination of the spec, several steps, one tensor skipped at one step, on
// tensors of awkward sizes (37, 45, 24 elements; 70 001 and 131 073, past one
// 65 536-element chunk and not multiples of 32) under a partition with a
// shared-v block spanning two tensors, one spanning tensors through explicit
// ids, blocks larger than a 512-thread block (rows of 1000, a whole tensor of
// 70 001, a range crossing a chunk boundary), per-element blocks and explicit
// boundaries; another tensor skipped through a device flag (TensorStep::
// skip_if, as check_finite leaves it). Also learn_codebook, check_finite and
// split_weights.
//
// Agreement expected: BITWISE for everything — parameters, ρ, every state
// component, shared v and the codebook. Elementwise parts call the same math
// functions (mul_rn keeps FMA contraction out); Σ g² is summed in float64 in
// the CPU's fixed chunk and range order; maxima and histogram counts are
// exact. So the device-vs-host tolerance is zero (kDeviceHostUlps below).
// Every test skips when no CUDA device is visible.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "optimizers/device.h"
#include "optimizers/kernels.h"
#include "optimizers/math/momentum_update.h"
#include "optimizers/spec.h"
#include "optimizers/state_components.h"
#include "optimizers/state_layout.h"
#include "partition/partition.h"
#include "partition/strategies.h"

namespace blockscope::optimizers {
namespace {

// Device-vs-host agreement in fp32 ulps: 0, because the CUDA kernels are
// written to reproduce the CPU reference's operations and reduction order
// exactly (see the file comment); any nonzero difference is a bug (an FMA
// contraction or a changed summation order), not rounding noise to tolerate.
constexpr int kDeviceHostUlps = 0;
static_assert(kDeviceHostUlps == 0, "the comparisons below are bitwise");

#define SKIP_WITHOUT_GPU()                                                                             \
  do {                                                                                                 \
    const CudaStatus status = cuda_status();                                                           \
    if (status.device_count == 0) GTEST_SKIP() << "no CUDA device visible (" << status.runtime << ")"; \
  } while (0)

void check(cudaError_t err) { ASSERT_EQ(err, cudaSuccess) << cudaGetErrorString(err); }

// A byte buffer on the host and its copy on the device.
struct Buffer {
  std::vector<unsigned char> host;
  void* device = nullptr;

  explicit Buffer(std::size_t bytes) : host(bytes, 0) {
    if (cudaMalloc(&device, std::max<std::size_t>(bytes, 1)) != cudaSuccess) throw std::runtime_error("cudaMalloc");
  }
  Buffer(const Buffer&) = delete;
  ~Buffer() { cudaFree(device); }
  // Synchronous: the copy has landed before a launch on any stream (a user's
  // non-blocking one included) may read it.
  void upload() {
    cudaMemcpy(device, host.data(), host.size(), cudaMemcpyHostToDevice);
    cudaDeviceSynchronize();
  }
  std::vector<unsigned char> download() const {
    std::vector<unsigned char> out(host.size());
    cudaMemcpy(out.data(), device, out.size(), cudaMemcpyDeviceToHost);
    return out;
  }
  template <class T>
  T* h() {
    return reinterpret_cast<T*>(host.data());
  }
  template <class T>
  T* d() {
    return static_cast<T*>(device);
  }
};

// Tensor names, shapes and the mixed partition described in the file comment.
std::vector<partition::TensorInfo> model() {
  return {{"a.bias", {37}},     {"b.weight", {3, 1000}}, {"big", {70001}}, {"c", {45}},
          {"d.weight", {5000}}, {"ln.weight", {24}},     {"e", {131073}}};
}

partition::Partition mixed_partition() {
  const auto m = model();
  std::vector<partition::TensorBlocks> t = {
      partition::TensorBlocks::uniform(m[0], 37),                                  // block 0, shared with c
      partition::TensorBlocks::uniform(m[1], 1000),                                // rows: blocks 1, 2, 3
      partition::TensorBlocks::uniform(m[2], 70001),                               // one block of 70 001: block 4
      partition::TensorBlocks::uniform(m[3], 45),                                  // block 0
      partition::TensorBlocks::explicit_ranges(m[4], {0, 100, 4500, 5000}),        // ids 5, 2 (shared with b row 1), 6
      partition::TensorBlocks::uniform(m[5], 1),                                   // per element: blocks 7..30
      partition::TensorBlocks::explicit_ranges(m[6], {0, 65530, 65540, 131073})};  // 31, 32, 33
  t[0].first_block = 0;
  t[1].first_block = 1;
  t[2].first_block = 4;
  t[3].first_block = 0;
  t[4].block_ids = {5, 2, 6};
  t[5].first_block = 7;
  t[6].first_block = 31;
  return partition::Partition("test-mixed", nullptr, t);
}

// One tensor's buffers: parameter, gradient, and one per state component
// of the spec (state_components.h), zero-filled.
struct TensorBuffers {
  std::unique_ptr<Buffer> param, grad;
  std::vector<StateComponent> components;
  std::vector<std::unique_ptr<Buffer>> state;  // [components]
};

TensorBuffers allocate(const TensorLayout& t, const OptimizerSpec& spec) {
  TensorBuffers b;
  b.param = std::make_unique<Buffer>(static_cast<std::size_t>(t.numel) * 4);
  b.grad = std::make_unique<Buffer>(static_cast<std::size_t>(t.numel) * 4);
  b.components = tensor_components(spec, t);
  for (const StateComponent& c : b.components) {
    b.state.push_back(std::make_unique<Buffer>(static_cast<std::size_t>(c.bytes())));
  }
  return b;
}

// The state view on the host (device = false) or the device copy.
TensorState view(TensorBuffers& b, bool device) {
  TensorState s;
  for (std::size_t k = 0; k < b.components.size(); ++k) {
    b.components[k].bind(s, device ? b.state[k]->device : b.state[k]->host.data());
  }
  return s;
}

// Host and device copies equal byte for byte; on a difference, names the
// first differing element (as fp32 when 4-byte elements).
void expect_bitwise(const Buffer& b, std::size_t elem, const std::string& what) {
  const std::vector<unsigned char> device = b.download();
  if (std::memcmp(device.data(), b.host.data(), device.size()) == 0) return;
  std::size_t i = 0;
  while (std::memcmp(device.data() + i * elem, b.host.data() + i * elem, elem) == 0) ++i;
  std::string detail;
  if (elem == 4) {
    float h, d;
    std::memcpy(&h, b.host.data() + i * elem, 4);
    std::memcpy(&d, device.data() + i * elem, 4);
    detail = " (host " + std::to_string(h) + ", device " + std::to_string(d) + ")";
  }
  ADD_FAILURE() << what << ": device differs from host at element " << i << detail;
}

// Gradient of step s: Gaussian with a scale that changes every 1000
// elements (structure for shared v and the codebook), a few exact zeros.
void fill_gradient(float* g, std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (std::int64_t i = 0; i < n; ++i) {
    const float scale = 1e-3f * static_cast<float>(1 + (i / 1000) % 7);
    g[i] = i % 97 == 13 ? 0.0f : normal(rng) * scale;
  }
}

// Runs `steps` steps of `spec_text` on the host and the device from the same
// start and compares everything after each step. Tensor 3 ("c") is inactive
// at step 2.
// placement: where the device side runs (a user's stream: synchronised before
// each comparison).
void compare_steps(const std::string& spec_text, const partition::Partition& partition, int steps,
                   const CudaPlacement& placement = {}) {
  SCOPED_TRACE(spec_text);
  const OptimizerSpec spec = parse_optimizer_spec(spec_text);
  const StateLayout layout = StateLayout::make(spec, partition, model());
  const std::size_t count = layout.tensors.size();
  std::vector<TensorBuffers> b;
  for (std::size_t i = 0; i < count; ++i) {
    b.push_back(allocate(layout.tensors[i], spec));
    std::mt19937_64 rng(100 + i);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    float* p = b[i].param->h<float>();
    for (std::int64_t e = 0; e < layout.tensors[i].numel; ++e) p[e] = normal(rng);
  }
  for (auto& t : b) {
    t.param->upload();
    for (auto& x : t.state) x->upload();
  }
  // bf16 + ρ weights: split on both sides (split_weights agreement).
  for (std::size_t i = 0; i < count; ++i) {
    const TensorState h = view(b[i], false), d = view(b[i], true);
    split_weights(KernelDevice::cpu, spec.w, b[i].param->h<float>(), layout.tensors[i].numel, h.rho8, h.rho16);
    split_weights(KernelDevice::cuda, spec.w, b[i].param->d<float>(), layout.tensors[i].numel, d.rho8, d.rho16,
                  placement);
  }
  check(cudaDeviceSynchronize());
  for (std::size_t i = 0; i < count; ++i) {
    expect_bitwise(*b[i].param, 4, layout.tensors[i].name + " split parameter");
    for (std::size_t k = 0; k < b[i].components.size(); ++k) {
      const StateComponent& c = b[i].components[k];
      if (c.slot == StateSlot::rho)
        expect_bitwise(*b[i].state[k], static_cast<std::size_t>(dtype_bytes(c.dtype)), layout.tensors[i].name + " rho");
    }
  }
  Buffer shared_v(static_cast<std::size_t>(std::max<std::int64_t>(layout.num_blocks, 1)) * 4);
  shared_v.upload();
  Buffer codebook(math::kCodebookSize * 4);
  std::vector<std::int64_t> step_of(count, 0);
  for (int step = 0; step < steps; ++step) {
    for (std::size_t i = 0; i < count; ++i) {
      fill_gradient(b[i].grad->h<float>(), layout.tensors[i].numel, 1000 * step + i);
      b[i].grad->upload();
    }
    if (spec.m == FirstMoment::codebook && step == 0) {
      std::vector<const float*> host_grads, device_grads;
      for (auto& t : b) {
        host_grads.push_back(t.grad->h<float>());
        device_grads.push_back(t.grad->d<float>());
      }
      const std::vector<float> on_host = learn_codebook(KernelDevice::cpu, layout, host_grads);
      const std::vector<float> on_device = learn_codebook(KernelDevice::cuda, layout, device_grads, placement);
      ASSERT_EQ(on_host, on_device) << "codebook learned from the device histogram";
      std::memcpy(codebook.host.data(), on_host.data(), codebook.host.size());
      codebook.upload();
    }
    // Step 2 skips b.weight (its row 1 shares block 2 with d.weight) and
    // ln.weight through device flags, as check_finite leaves them.
    Buffer skip(count);
    for (std::size_t i = 0; i < count; ++i) skip.host[i] = step == 2 && (i == 1 || i == 5) ? 1 : 0;
    skip.upload();
    std::vector<TensorStep> host_steps(count), device_steps(count);
    for (std::size_t i = 0; i < count; ++i) {
      const bool active = !(step == 1 && i == 3);
      if (active && skip.host[i] == 0) ++step_of[i];
      for (bool device : {false, true}) {
        TensorStep& s = device ? device_steps[i] : host_steps[i];
        s.active = active;
        s.skip_if = device ? skip.d<std::uint8_t>() + i : skip.h<std::uint8_t>() + i;
        const double wd = layout.tensors[i].decays ? 0.1 : 0.0;
        switch (spec.rule) {  // as BlockOptimizer does
          case UpdateRule::sgd:
            s.scalars = math::make_sgd_scalars(1e-2, 0.9, wd);
            break;
          case UpdateRule::lion:
            s.scalars = math::make_lion_scalars(1e-2, 0.9, 0.95, wd);
            break;
          case UpdateRule::adam:
            s.scalars = math::make_step_scalars(1e-2, 0.9, 0.95, 1e-8, wd, std::max<std::int64_t>(step_of[i], 1));
            break;
        }
        s.grad = device ? b[i].grad->d<float>() : b[i].grad->h<float>();
        s.param_in = s.param_out = device ? b[i].param->d<float>() : b[i].param->h<float>();
        s.in = s.out = view(b[i], device);
      }
    }
    const GlobalState host_global{shared_v.h<float>(), shared_v.h<float>(), codebook.h<float>()};
    const GlobalState device_global{shared_v.d<float>(), shared_v.d<float>(), codebook.d<float>()};
    run_step(KernelDevice::cpu, layout, host_steps, host_global);
    run_step(KernelDevice::cuda, layout, device_steps, device_global, placement);
    check(cudaDeviceSynchronize());
    const std::string at = " after step " + std::to_string(step + 1);
    if (spec.v == SecondMoment::shared) expect_bitwise(shared_v, 4, "shared v" + at);
    for (std::size_t i = 0; i < count; ++i) {
      const std::string& name = layout.tensors[i].name;
      expect_bitwise(*b[i].param, 4, name + " parameter" + at);
      for (std::size_t k = 0; k < b[i].components.size(); ++k) {
        const StateComponent& c = b[i].components[k];
        expect_bitwise(*b[i].state[k], static_cast<std::size_t>(dtype_bytes(c.dtype)), name + " " + c.name + at);
      }
    }
  }
}

TEST(CudaStep, EveryPresetMatchesTheCpuBitwise) {
  SKIP_WITHOUT_GPU();
  for (const std::string& preset : optimizer_preset_names()) compare_steps(preset, mixed_partition(), 4);
}

TEST(CudaStep, EveryStorageCombinationMatchesTheCpuBitwise) {
  SKIP_WITHOUT_GPU();
  for (const char* v : {"element", "shared", "companded"}) {
    for (const char* m : {"fp32", "bf16", "codebook", "companded"}) {
      for (const char* w : {"fp32", "bf16+int8", "bf16+int16"}) {
        compare_steps(std::string("v=") + v + ",m=" + m + ",w=" + w + ",p1=fixed", mixed_partition(), 3);
      }
    }
  }
}

TEST(CudaStep, WholeModelAndPerElementSharedVMatchTheCpuBitwise) {
  SKIP_WITHOUT_GPU();
  compare_steps("adam-mini", partition::whole_model(model()), 3);  // one block spanning every tensor
  compare_steps("gefen", partition::per_element(model()), 3);
}

TEST(CudaStep, AUserStreamMatchesTheCpuBitwise) {
  SKIP_WITHOUT_GPU();
  cudaStream_t stream = nullptr;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));  // not ordered with the default stream
  for (const char* preset : {"adamw", "adam-mini", "gefen", "flash-adamw"}) {
    compare_steps(preset, mixed_partition(), 3, CudaPlacement{0, stream});
  }
  check(cudaStreamDestroy(stream));
}

TEST(CudaStep, CheckFiniteMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  const std::vector<std::int64_t> sizes = {0, 37, 65536, 65537, 131073, 5};
  std::vector<std::unique_ptr<Buffer>> arrays;
  std::vector<const float*> host, device;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    arrays.push_back(std::make_unique<Buffer>(static_cast<std::size_t>(sizes[k]) * 4));
    float* x = arrays[k]->h<float>();
    fill_gradient(x, sizes[k], k);
    if (k == 2) x[65535] = std::numeric_limits<float>::quiet_NaN();  // last element of a chunk
    if (k == 3) x[65536] = std::numeric_limits<float>::infinity();   // first of the second chunk
    if (k == 5) x[0] = -std::numeric_limits<float>::infinity();
    arrays[k]->upload();
    host.push_back(x);
    device.push_back(arrays[k]->d<float>());
  }
  const std::vector<bool> expected = {true, true, false, false, true, false};
  const std::vector<std::uint8_t> expected_flags = {0, 0, 1, 1, 0, 1};
  Buffer flags(sizes.size());
  std::fill(flags.host.begin(), flags.host.end(), 7);  // every flag must be written, 0 included
  flags.upload();
  EXPECT_EQ(check_finite(KernelDevice::cpu, host, sizes, flags.h<std::uint8_t>()).finite(), expected);
  EXPECT_EQ(std::vector<std::uint8_t>(flags.host.begin(), flags.host.end()), expected_flags);
  EXPECT_EQ(check_finite(KernelDevice::cuda, device, sizes, flags.d<std::uint8_t>()).finite(), expected);
  const std::vector<unsigned char> on_device = flags.download();
  EXPECT_EQ(std::vector<std::uint8_t>(on_device.begin(), on_device.end()), expected_flags);
}

}  // namespace
}  // namespace blockscope::optimizers
