// Persistent optimizer state per parameter (docs/algorithms.md §8), measured from
// the allocated state tensors of a GPT-2-width model.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "data/loss.h"
#include "data/sources.h"
#include "models/model.h"
#include "optimizers/block_optimizer.h"
#include "partition/strategies.h"

namespace blockscope::optimizers {
namespace {

// GPT-2 width with one layer; vocab 8192 instead of 50257 keeps the test's
// memory and time small (the embedding/head rows are 768 wide either way).
constexpr const char* kModel =
    "gpt:n_layer=1,d_model=768,n_head=12,n_kv_head=12,head_dim=64,d_ff=3072,vocab=8192,context=32";

std::int64_t allocated_bytes(const BlockOptimizer& opt) {
  std::int64_t bytes = 0;
  for (const TensorStateTensors& t : opt.state_tensors().tensors) {
    for (const at::Tensor* x : {&t.m, &t.m_scale, &t.v, &t.v_scale, &t.rho}) {
      if (x->defined()) bytes += x->numel() * static_cast<std::int64_t>(x->element_size());
    }
  }
  const OptimizerState& s = opt.state_tensors();
  if (s.shared_v.defined()) bytes += s.shared_v.numel() * 4;
  return bytes + static_cast<std::int64_t>(s.codebook.size()) * 4;
}

TEST(StateBytes, GptWidth768) {
  auto model = models::load_model(kModel, 0);
  std::vector<NamedTensor> params;
  std::vector<partition::TensorInfo> infos;
  for (const auto& p : model->parameters()) {
    params.push_back({p.name, p.tensor});
    infos.push_back({p.name, p.tensor.sizes().vec()});
  }
  const double n = static_cast<double>(model->num_parameters());
  // First-step gradients for the Gefen partition (one batch of 2 sequences).
  data::Dataset d = data::load_dataset("markov", model->input_spec(), {2, 0, 0});
  at::Tensor loss = data::mean_loss(model->forward(d.inputs), d.targets);
  std::vector<at::Tensor> tensors;
  for (const auto& p : params) tensors.push_back(p.tensor);
  std::vector<at::Tensor> grads = torch::autograd::grad({loss}, tensors);
  partition::StrategyInputs in;
  in.model = infos;
  for (auto& g : grads) g = g.contiguous();
  for (const auto& g : grads) in.gradients.push_back({g.data_ptr<float>(), g.numel()});
  in.adam_mini.heads = {12, 12, 64};
  partition::StrategyRegistry registry;

  struct Case {
    const char* spec;
    const char* partition;
    double expect, tolerance;
  };
  // adamw: 4 + 4 exactly. flash-adamw: m 1 + v 1 + ρ 1 + two fp16 scales per
  // 32 = 3.125 exactly (every tensor here is a multiple of 32). gefen: 1 +
  // 8/P plus the 1 KiB codebook, ≤ 1.02 needs P ≳ 400 on the big tensors.
  // adam-mini: 4 + 4·(v kept), about 4.01 at this width. sgd, lion: m only,
  // 4. flash-sgd, flash-lion: m 1 + ρ 1 + one fp16 scale per 32 = 2.0625
  // exactly (FlashOptim's figure).
  const Case cases[] = {{"adamw", "per-element", 8.0, 0.0},
                        {"flash-adamw", "per-element", 3.125, 0.0},
                        {"sgd", "per-element", 4.0, 0.0},
                        {"lion", "per-element", 4.0, 0.0},
                        {"flash-sgd", "per-element", 2.0625, 0.0},
                        {"flash-lion", "per-element", 2.0625, 0.0},
                        {"gefen", "gefen", 1.01, 0.01},
                        {"adam-mini", "adam-mini", 4.01, 0.01}};
  for (const Case& c : cases) {
    const partition::Partition partition = registry.make(c.partition, in);
    BlockOptimizer opt(params, partition, parse_optimizer_spec(c.spec));
    const StateBytes b = opt.state_bytes();
    std::int64_t expected_codebook = std::string(c.spec) == "gefen" ? 1024 : 0;
    EXPECT_EQ(b.total(), allocated_bytes(opt) + expected_codebook) << c.spec;  // codebook arrives at step 1
    // The byte report of `diagnose` (preset_state_bytes) is what this preset allocates.
    int reported = 0;
    for (const PresetStateBytes& p : preset_state_bytes(partition)) {
      if (p.preset != c.spec) continue;
      EXPECT_DOUBLE_EQ(p.bytes_per_parameter, static_cast<double>(allocated_bytes(opt) + expected_codebook) / n);
      ++reported;
    }
    EXPECT_EQ(reported, 1) << c.spec;
    const double per_param = b.total() / n;
    EXPECT_NEAR(per_param, c.expect, c.tolerance)
        << c.spec << ": m " << b.m / n << " v " << b.v / n << " scales " << b.scales / n << " codebook "
        << b.codebook / n << " rho " << b.weight_correction / n;
    RecordProperty(c.spec, std::to_string(per_param));
  }
}

}  // namespace
}  // namespace blockscope::optimizers
