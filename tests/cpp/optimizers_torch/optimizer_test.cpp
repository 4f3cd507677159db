// BlockOptimizer against torch::optim::AdamW and torch::optim::SGD and against itself: partitions
// of size 1 reduce Adam-mini to AdamW, results do not depend on the OpenMP
// thread count, preview_step() commits nothing, non-finite gradients follow
// the policy.
#include <gtest/gtest.h>
#include <omp.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "optimizers/block_optimizer.h"
#include "test_support.h"

namespace blockscope::optimizers {
namespace {

using namespace testing;

BlockOptimizerOptions options() { return BlockOptimizerOptions(1e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1); }

std::vector<at::Tensor> run(const std::string& spec, const partition::Partition& p, int steps, std::uint64_t seed = 1) {
  auto params = make_params(default_specs(), seed);
  BlockOptimizer opt(params, p, parse_optimizer_spec(spec), options());
  for (int t = 0; t < steps; ++t) {
    set_gradients(params, t);
    opt.step();
  }
  return clone_values(params);
}

TEST(BlockOptimizer, AdamWPresetMatchesTorchAdamW) {
  auto ours = make_params(default_specs(), 7);
  auto theirs = make_params(default_specs(), 7);
  BlockOptimizer opt(ours, partition::per_element(infos(ours)), parse_optimizer_spec("adamw"), options());
  std::vector<at::Tensor> torch_params;
  for (auto& p : theirs) torch_params.push_back(p.tensor);
  torch::optim::AdamW reference(torch_params,
                                torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1));
  for (int t = 0; t < 100; ++t) {
    set_gradients(ours, t);
    set_gradients(theirs, t);
    opt.step();
    reference.step();
  }
  // Tolerance: torch computes p + (−step_size)·(m/denom), we compute
  // p − (step_size·m)/denom (adam_update.h); the two differ by an fp32 rounding
  // or two per step, and after 100 steps stay within 1e-6 relative (+1e-7
  // absolute for parameters that pass through zero).
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const at::Tensor a = ours[i].tensor.detach(), b = theirs[i].tensor.detach();
    const double worst = ((a - b).abs() - 1e-6 * b.abs()).max().item<double>();
    EXPECT_LE(worst, 1e-7) << ours[i].name;
  }
}

// Gradients that do not depend on the parameters (set_gradients does): two
// fp32 runs that differ by a rounding then stay apart by roundings instead of
// the feedback of g(θ) amplifying them (with g(θ), torch's own fp32 SGD drifts
// 3e-4 relative from its float64 run in 100 steps).
void set_fixed_gradients(const std::vector<NamedTensor>& params, int step) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::Tensor p = params[i].tensor.detach();
    const at::Tensor phase = at::arange(p.numel(), at::kFloat).reshape(p.sizes());
    params[i].tensor.mutable_grad() = (0.1 * at::sin(0.37 * phase + 0.7 * step + static_cast<double>(i))).contiguous();
  }
}

TEST(BlockOptimizer, SgdPresetMatchesTorchSGD) {
  auto ours = make_params(default_specs(), 8);
  auto theirs = make_params(default_specs(), 8);
  // β1 is sgd's momentum; β2 and eps are not read.
  BlockOptimizer opt(ours, partition::per_element(infos(ours)), parse_optimizer_spec("sgd"),
                     BlockOptimizerOptions(1e-2).betas({0.9, 0.5}).eps(1.0).weight_decay(0.1));
  std::vector<at::Tensor> torch_params;
  for (auto& p : theirs) torch_params.push_back(p.tensor);
  torch::optim::SGD reference(torch_params, torch::optim::SGDOptions(1e-2).momentum(0.9).weight_decay(0.1));
  const auto initial = clone_values(ours);
  for (int t = 0; t < 100; ++t) {
    set_fixed_gradients(ours, t);
    set_fixed_gradients(theirs, t);
    opt.step();
    reference.step();
  }
  // Tolerance: the same operations in the same order (g + wd·θ, μ·buf + d,
  // θ − lr·buf), but torch's vectorised add may fuse a product into an fma,
  // so the runs can differ by a rounding per operation; with gradients that do
  // not depend on θ these do not feed back, and 100 steps stay within 1e-6
  // relative (+1e-7 absolute for values near zero).
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const at::Tensor a = ours[i].tensor.detach(), b = theirs[i].tensor.detach();
    const double worst = ((a - b).abs() - 1e-6 * b.abs()).max().item<double>();
    EXPECT_LE(worst, 1e-7) << ours[i].name;
    EXPECT_GT((a - initial[i]).abs().max().item<double>(), 1e-2) << ours[i].name << " did not move";
  }
}

TEST(BlockOptimizer, SharedVWithBlocksOfOneIsAdamWBitwise) {
  const auto params = make_params(default_specs(), 1);
  const partition::Partition p = partition::per_element(infos(params));
  const auto adamw = run("adamw", p, 20);
  const auto mini = run("v=shared", p, 20);  // Adam-mini storage, per-element partition
  for (std::size_t i = 0; i < adamw.size(); ++i) EXPECT_TRUE(bitwise_equal(adamw[i], mini[i])) << i;
}

TEST(BlockOptimizer, ResultsDoNotDependOnTheThreadCount) {
  // Large enough that every parallel loop splits: one 4096-row tensor in a
  // single whole-tensor block, and many blocks elsewhere.
  const std::vector<ParamSpec> specs = {{"big", {4096, 33}}, {"rows", {300, 64}}, {"norm", {100}}};
  for (const std::string spec :
       {"adam-mini", "gefen", "flash-adamw", "v=companded,m=bf16,w=bf16+int16", "flash-sgd", "lion,m=bf16"}) {
    std::vector<std::vector<at::Tensor>> results;
    for (int threads : {1, 3}) {
      omp_set_num_threads(threads);
      auto params = make_params(specs, 5);
      std::vector<partition::TensorBlocks> blocks = {partition::TensorBlocks::uniform({"big", {4096, 33}}, 4096 * 33),
                                                     partition::TensorBlocks::uniform({"rows", {300, 64}}, 64),
                                                     partition::TensorBlocks::uniform({"norm", {100}}, 1)};
      partition::number_consecutively(blocks);
      BlockOptimizer opt(params, partition::Partition("test", nullptr, blocks), parse_optimizer_spec(spec), options());
      for (int t = 0; t < 3; ++t) {
        set_gradients(params, t);
        opt.step();
      }
      results.push_back(clone_values(params));
    }
    omp_set_num_threads(2);
    for (std::size_t i = 0; i < results[0].size(); ++i) {
      EXPECT_TRUE(bitwise_equal(results[0][i], results[1][i])) << spec << " tensor " << i;
    }
  }
}

TEST(BlockOptimizer, PreviewCommitsNothingAndEqualsStep) {
  for (const std::string spec : {"adamw", "gefen", "flash-adamw", "flash-lion"}) {
    auto params = make_params(default_specs(), 3);
    BlockOptimizer opt(params, partition::per_tensor(infos(params)), parse_optimizer_spec(spec), options());
    set_gradients(params, 0);
    opt.step();
    set_gradients(params, 1);
    const auto before = clone_values(params);
    const auto preview = opt.preview_step();
    const auto again = opt.preview_step();
    for (std::size_t i = 0; i < params.size(); ++i) {
      EXPECT_TRUE(bitwise_equal(params[i].tensor.detach(), before[i])) << spec;
      EXPECT_TRUE(bitwise_equal(preview[i], again[i])) << spec;
    }
    opt.step();
    for (std::size_t i = 0; i < params.size(); ++i) {
      EXPECT_TRUE(bitwise_equal(params[i].tensor.detach(), preview[i])) << spec << " " << params[i].name;
    }
  }
}

TEST(BlockOptimizer, NonFiniteGradientSkipLeavesTheTensorAlone) {
  auto params = make_params(default_specs(), 4);
  BlockOptimizer opt(params, partition::per_tensor(infos(params)), parse_optimizer_spec("adam-mini"), options());
  set_gradients(params, 0);
  opt.step();
  const OptimizerState before = opt.state_tensors();
  const at::Tensor shared_before = before.shared_v.clone();
  const at::Tensor m_before = before.tensors[0].m.clone();
  const auto values = clone_values(params);
  set_gradients(params, 1);
  params[0].tensor.mutable_grad()[3][5] = std::numeric_limits<float>::quiet_NaN();
  opt.step();
  EXPECT_EQ(opt.skipped_tensor_steps(), 1);
  EXPECT_TRUE(bitwise_equal(params[0].tensor.detach(), values[0]));
  EXPECT_TRUE(bitwise_equal(opt.state_tensors().tensors[0].m, m_before));
  EXPECT_EQ(opt.state_tensors().tensors[0].step, 1);
  EXPECT_EQ(opt.state_tensors().shared_v[0].item<float>(), shared_before[0].item<float>());
  EXPECT_EQ(opt.state_tensors().tensors[1].step, 2);
  EXPECT_FALSE(bitwise_equal(params[1].tensor.detach(), values[1]));
  // The step ran before the host read the flags (skip_if); the next step's
  // bias correction still counts only the steps taken.
  set_gradients(params, 2);
  params[1].tensor.mutable_grad().view(-1)[0] = -std::numeric_limits<float>::infinity();
  opt.step();
  set_gradients(params, 3);
  opt.step();
  EXPECT_EQ(opt.skipped_tensor_steps(), 2);
  EXPECT_EQ(opt.state_tensors().tensors[0].step, 3);
  EXPECT_EQ(opt.state_tensors().tensors[1].step, 3);
}

TEST(BlockOptimizer, NonFiniteGradientErrorNamesTheTensorAndChangesNothing) {
  auto params = make_params(default_specs(), 4);
  BlockOptimizer opt(params, partition::per_tensor(infos(params)), parse_optimizer_spec("adamw"), options(),
                     NonFinitePolicy::error);
  set_gradients(params, 0);
  params[3].tensor.mutable_grad()[0] = std::numeric_limits<float>::infinity();
  const auto values = clone_values(params);
  try {
    opt.step();
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'odd'"), std::string::npos) << e.what();
  }
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(bitwise_equal(params[i].tensor.detach(), values[i]));
  EXPECT_EQ(opt.state_tensors().tensors[0].step, 0);
}

TEST(BlockOptimizer, ParamGroupsAndClosure) {
  auto params = make_params(default_specs(), 2);
  std::vector<NamedTensor> first(params.begin(), params.begin() + 2), rest(params.begin() + 2, params.end());
  BlockOptimizer opt(std::vector<NamedParamGroup>{{first, std::nullopt}, {rest, BlockOptimizerOptions(0.0)}},
                     partition::per_element(infos(params)), parse_optimizer_spec("adamw"), options());
  const auto values = clone_values(params);
  const at::Tensor loss = opt.step([&] {
    set_gradients(params, 0);
    return at::ones({});
  });
  EXPECT_EQ(loss.item<float>(), 1.0f);
  EXPECT_FALSE(bitwise_equal(params[0].tensor.detach(), values[0]));
  for (std::size_t i = 2; i < params.size(); ++i) EXPECT_TRUE(bitwise_equal(params[i].tensor.detach(), values[i]));
  opt.zero_grad();
  EXPECT_TRUE(!params[0].tensor.grad().defined() || params[0].tensor.grad().abs().sum().item<float>() == 0.0f);
}

TEST(BlockOptimizer, RejectsBadParametersAndPartitions) {
  auto params = make_params(default_specs(), 2);
  auto doubles = params;
  doubles[0].tensor = doubles[0].tensor.detach().to(at::kDouble).set_requires_grad(true);
  EXPECT_THROW(BlockOptimizer(doubles, partition::per_element(infos(params)), parse_optimizer_spec("adamw")),
               std::invalid_argument);
  auto fewer = params;
  fewer.pop_back();
  EXPECT_THROW(BlockOptimizer(fewer, partition::per_element(infos(params)), parse_optimizer_spec("adamw")),
               std::runtime_error);
}

}  // namespace
}  // namespace blockscope::optimizers
