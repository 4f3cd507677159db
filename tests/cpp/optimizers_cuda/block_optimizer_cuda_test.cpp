// BlockOptimizer on CUDA parameters against the same optimizer on CPU copies
// (docs/style.md 10): state allocated on the parameters' device, gradients checked
// for finiteness in one call, the codebook learned from device gradients and
// uploaded, preview_step on the device. Agreement expected: BITWISE for
// parameters and every state tensor (see step_test.cpp for why).
// Skips unless LibTorch itself can use CUDA (Debian's CPU-only LibTorch
// cannot; pip torch 2.x with CUDA can) and a device is visible.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <limits>
#include <utility>

#include "optimizers/block_optimizer.h"
#include "optimizers/device.h"
#include "test_support.h"

namespace blockscope::optimizers {
namespace {

using namespace testing;

#define SKIP_WITHOUT_TORCH_CUDA()                                                             \
  do {                                                                                        \
    if (cuda_status().device_count == 0) GTEST_SKIP() << "no CUDA device visible";            \
    if (!torch::cuda::is_available()) GTEST_SKIP() << "this LibTorch was built without CUDA"; \
  } while (0)

BlockOptimizerOptions options() { return BlockOptimizerOptions(1e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1); }

std::vector<NamedTensor> to_cuda(const std::vector<NamedTensor>& params) {
  std::vector<NamedTensor> out;
  for (const auto& p : params) out.push_back({p.name, p.tensor.detach().to(at::kCUDA).set_requires_grad(true)});
  return out;
}

void expect_same_state(const BlockOptimizer& cpu, const BlockOptimizer& gpu, const std::string& what) {
  const OptimizerState &a = cpu.state_tensors(), &b = gpu.state_tensors();
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    const TensorStateTensors &x = a.tensors[i], &y = b.tensors[i];
    EXPECT_EQ(x.step, y.step) << what;
    using Pair = std::pair<const at::Tensor*, const at::Tensor*>;
    for (const Pair& c : {Pair{&x.m, &y.m}, Pair{&x.m_scale, &y.m_scale}, Pair{&x.v, &y.v},
                          Pair{&x.v_scale, &y.v_scale}, Pair{&x.rho, &y.rho}}) {
      if (c.second->defined()) {
        EXPECT_TRUE(c.second->is_cuda()) << what;
      }
      EXPECT_TRUE(bitwise_equal(*c.first, c.second->defined() ? c.second->cpu() : *c.second))
          << what << " state of " << i;
    }
  }
  if (b.shared_v.defined()) {
    EXPECT_TRUE(bitwise_equal(a.shared_v, b.shared_v.cpu())) << what << " shared v";
  }
  EXPECT_EQ(a.codebook, b.codebook) << what;
}

TEST(BlockOptimizerCuda, PresetsMatchTheCpuOptimizerBitwise) {
  SKIP_WITHOUT_TORCH_CUDA();
  for (const std::string& preset : optimizer_preset_names()) {
    auto cpu_params = make_params(default_specs(), 21);
    auto gpu_params = to_cuda(cpu_params);
    const OptimizerSpec spec = parse_optimizer_spec(preset);
    const partition::Partition p = partition::per_tensor(infos(cpu_params));
    BlockOptimizer cpu(cpu_params, p, spec, options());
    BlockOptimizer gpu(gpu_params, p, spec, options());
    for (int t = 0; t < 4; ++t) {
      set_gradients(cpu_params, t);
      if (t == 2) cpu_params[1].tensor.mutable_grad()[0] = std::numeric_limits<float>::quiet_NaN();  // skipped
      for (std::size_t i = 0; i < cpu_params.size(); ++i) {
        gpu_params[i].tensor.mutable_grad() = cpu_params[i].tensor.grad().to(at::kCUDA);
      }
      const auto preview = gpu.preview_step();
      cpu.step();
      gpu.step();
      for (std::size_t i = 0; i < cpu_params.size(); ++i) {
        EXPECT_TRUE(bitwise_equal(cpu_params[i].tensor.detach(), gpu_params[i].tensor.detach().cpu()))
            << preset << " " << cpu_params[i].name << " step " << t;
        EXPECT_TRUE(bitwise_equal(preview[i].cpu(), gpu_params[i].tensor.detach().cpu())) << preset << " preview";
      }
      expect_same_state(cpu, gpu, preset + " step " + std::to_string(t));
    }
    EXPECT_EQ(gpu.skipped_tensor_steps(), 1) << preset;
  }
}

}  // namespace
}  // namespace blockscope::optimizers
