// Each preset against a plain scalar reference written from docs/algorithms.md:
// Adam-mini's first step in closed form, Gefen's quantised-momentum step,
// FlashOptim's dequantised AdamW step, Lion's rule (arXiv 2302.06675 Alg. 2)
// and FlashOptim's companded SGD and Lion.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "optimizers/block_optimizer.h"
#include "optimizers/math/bf16.h"
#include "optimizers/math/codebook.h"
#include "optimizers/math/companding.h"
#include "optimizers/math/fp16.h"
#include "optimizers/math/ulp_split.h"
#include "test_support.h"

namespace blockscope::optimizers {
namespace {

using namespace testing;

constexpr double kLr = 1e-2, kBeta1 = 0.9, kBeta2 = 0.95, kEps = 1e-8, kWd = 0.1;

BlockOptimizerOptions options() {
  return BlockOptimizerOptions(kLr).betas({kBeta1, kBeta2}).eps(kEps).weight_decay(kWd);
}

std::vector<float> values(const at::Tensor& t) {
  const at::Tensor c = t.detach().contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

TEST(AdamMini, FirstStepIsTheClosedForm) {
  // Blocks: rows of fc.weight, one block shared by fc.bias and odd (across
  // tensors), the whole of head.weight, ln_f per element.
  auto params = make_params(default_specs(), 11);
  std::vector<partition::TensorBlocks> blocks = {partition::TensorBlocks::uniform({"fc.weight", {16, 24}}, 24),
                                                 partition::TensorBlocks::uniform({"fc.bias", {16}}, 16),
                                                 partition::TensorBlocks::uniform({"ln_f.weight", {24}}, 1),
                                                 partition::TensorBlocks::uniform({"odd", {37}}, 37),
                                                 partition::TensorBlocks::uniform({"head.weight", {8, 64}}, 512)};
  blocks[0].first_block = 0;   // 16 rows: 0..15
  blocks[1].first_block = 16;  // shared with odd
  blocks[2].first_block = 17;  // 24 elements: 17..40
  blocks[3].first_block = 16;
  blocks[4].first_block = 41;
  const partition::Partition p("test", nullptr, blocks);
  const auto before = clone_values(params);
  BlockOptimizer opt(params, p, parse_optimizer_spec("adam-mini"), options());
  set_gradients(params, 0);
  std::vector<std::vector<float>> g;
  for (const auto& t : params) g.push_back(values(t.tensor.grad()));
  opt.step();
  // Closed form (float64): m̂ = g, v̂_b = mean_b g², p1 = p·(1 − lr·wd·[decays])
  // − lr·g/(√v̂_b + eps). Block means over the ranges above.
  std::vector<double> sum(p.num_blocks(), 0.0), count(p.num_blocks(), 0.0);
  for (std::size_t t = 0; t < params.size(); ++t) {
    for (std::int64_t e = 0; e < static_cast<std::int64_t>(g[t].size()); ++e) {
      const std::int64_t b = p.block_of(t, e);
      sum[b] += double(g[t][e]) * g[t][e];
      count[b] += 1.0;
    }
  }
  for (std::size_t t = 0; t < params.size(); ++t) {
    const bool decays = opt.layout().tensors[t].decays;
    EXPECT_EQ(decays, params[t].name == "fc.weight" || params[t].name == "odd" || params[t].name == "head.weight");
    const std::vector<float> p0 = values(before[t]), p1 = values(params[t].tensor);
    for (std::size_t e = 0; e < p0.size(); ++e) {
      const std::int64_t b = p.block_of(t, static_cast<std::int64_t>(e));
      const double expect =
          p0[e] * (1.0 - (decays ? kLr * kWd : 0.0)) - kLr * g[t][e] / (std::sqrt(sum[b] / count[b]) + kEps);
      // Tolerance: fp32 arithmetic of a few roundings on |p| ≲ 4 and an
      // update ≲ lr: 4 fp32 ulps of |p| plus 1e-6 of lr.
      EXPECT_NEAR(p1[e], expect, 4 * 2.4e-7 * std::abs(expect) + 1e-8) << params[t].name << "[" << e << "]";
    }
  }
}

TEST(Gefen, StepsMatchTheScalarReference) {
  constexpr std::int64_t kPeriod = 64;  // head.weight rows; others per tensor
  auto params = make_params(default_specs(), 12);
  std::vector<partition::TensorBlocks> blocks;
  for (const auto& info : infos(params)) {
    blocks.push_back(partition::TensorBlocks::uniform(info, info.name == "head.weight" ? kPeriod : info.numel()));
  }
  partition::number_consecutively(blocks);
  const partition::Partition p("test", nullptr, blocks);
  BlockOptimizer opt(params, p, parse_optimizer_spec("gefen"), options());

  // Reference state: per tensor codes, per block scale and v (blocks = the
  // tensor's ranges here, so scale groups = v blocks), fp32 throughout.
  std::vector<std::vector<float>> w, scale, v;
  std::vector<std::vector<std::uint8_t>> q;
  std::vector<std::int64_t> period;
  for (std::size_t t = 0; t < params.size(); ++t) {
    w.push_back(values(params[t].tensor));
    period.push_back(blocks[t].period);
    q.emplace_back(w.back().size(), 0);
    scale.emplace_back(w.back().size() / period.back(), 0.0f);
    v.emplace_back(w.back().size() / period.back(), 0.0f);
  }
  std::vector<float> c;
  for (int step = 1; step <= 4; ++step) {
    set_gradients(params, step);
    std::vector<std::vector<float>> g;
    for (const auto& t : params) g.push_back(values(t.tensor.grad()));
    if (step == 1) {  // codebook from the first-step gradients, block-absmax normalised
      std::vector<std::int64_t> counts(math::kHistogramBins, 0);
      for (std::size_t t = 0; t < g.size(); ++t) math::histogram_add(g[t].data(), g[t].size(), period[t], counts);
      c = math::learn_codebook(counts);
    }
    opt.step();
    const float b1 = kBeta1, b2 = kBeta2;
    const float step_size = static_cast<float>(kLr / (1.0 - std::pow(kBeta1, step)));
    const float bc2 = static_cast<float>(std::sqrt(1.0 - std::pow(kBeta2, step)));
    for (std::size_t t = 0; t < params.size(); ++t) {
      const float decay = opt.layout().tensors[t].decays ? static_cast<float>(1.0 - kLr * kWd) : 1.0f;
      const std::int64_t P = period[t];
      for (std::int64_t b = 0; b < static_cast<std::int64_t>(v[t].size()); ++b) {
        double sq = 0.0;
        for (std::int64_t i = b * P; i < (b + 1) * P; ++i) sq += double(g[t][i]) * g[t][i];
        v[t][b] = b2 * v[t][b] + static_cast<float>(1.0 - kBeta2) * static_cast<float>(sq / P);
        std::vector<float> m(P);
        float absmax = 0.0f;
        for (std::int64_t j = 0; j < P; ++j) {
          const std::int64_t i = b * P + j;
          m[j] = b1 * (c[q[t][i]] * scale[t][b]) + static_cast<float>(1.0 - kBeta1) * g[t][i];
          absmax = std::max(absmax, std::fabs(m[j]));
        }
        scale[t][b] = absmax;
        for (std::int64_t j = 0; j < P; ++j) {
          const std::int64_t i = b * P + j;
          // nearest level, ties to the lower index
          int best = 0;
          const float x = absmax > 0.0f ? m[j] / absmax : 0.0f;
          for (int k = 1; k < math::kCodebookSize; ++k) {
            if (std::fabs(x - c[k]) < std::fabs(x - c[best])) best = k;
          }
          q[t][i] = absmax > 0.0f ? static_cast<std::uint8_t>(best) : 0;
          const float mq = c[q[t][i]] * absmax;
          w[t][i] = w[t][i] * decay - step_size * mq / (std::sqrt(v[t][b]) / bc2 + static_cast<float>(kEps));
        }
      }
    }
    ASSERT_EQ(opt.state_tensors().codebook, c);
    for (std::size_t t = 0; t < params.size(); ++t) {
      // Bitwise: the same fp32 operations in the same order (adam_update.h).
      EXPECT_EQ(values(params[t].tensor), w[t]) << params[t].name << " step " << step;
      EXPECT_EQ(values(opt.state_tensors().tensors[t].m_scale), scale[t]) << params[t].name;
      const at::Tensor codes = opt.state_tensors().tensors[t].m;
      EXPECT_EQ(
          std::vector<std::uint8_t>(codes.data_ptr<std::uint8_t>(), codes.data_ptr<std::uint8_t>() + codes.numel()),
          q[t]);
      EXPECT_EQ(
          values(opt.state_tensors().shared_v.slice(0, blocks[t].first_block, blocks[t].first_block + v[t].size())),
          v[t]);
    }
  }
}

TEST(FlashAdamW, StepsMatchTheDequantisedFormula) {
  auto params = make_params(default_specs(), 13);
  std::vector<std::vector<float>> theta;  // fp32 master weights before splitting
  for (const auto& t : params) theta.push_back(values(t.tensor));
  BlockOptimizer opt(params, partition::per_element(infos(params)), parse_optimizer_spec("flash-adamw"), options());
  std::vector<std::vector<float>> w;  // reference: θ̂ reconstructed each step
  std::vector<std::vector<std::int8_t>> mq, rho;
  std::vector<std::vector<std::uint8_t>> vq;
  std::vector<std::vector<std::uint16_t>> ms, vs;
  for (std::size_t t = 0; t < params.size(); ++t) {
    const std::size_t n = theta[t].size(), groups = (n + 31) / 32;
    std::vector<float> hi(n);
    rho.emplace_back(n);
    for (std::size_t i = 0; i < n; ++i) {
      const math::SplitWeight s = math::split_weight(theta[t][i], math::kRhoLevelsInt8);
      hi[i] = math::bf16_to_float(s.hi);
      rho[t][i] = static_cast<std::int8_t>(s.rho);
    }
    EXPECT_EQ(values(params[t].tensor), hi) << "construction stores bf16(θ)";
    w.push_back(hi);
    mq.emplace_back(n, 0);
    vq.emplace_back(n, 0);
    ms.emplace_back(groups, 0);
    vs.emplace_back(groups, 0);
  }
  for (int step = 1; step <= 5; ++step) {
    set_gradients(params, step);
    std::vector<std::vector<float>> g;
    for (const auto& t : params) g.push_back(values(t.tensor.grad()));
    opt.step();
    const float b1 = kBeta1, b2 = kBeta2;
    const float step_size = static_cast<float>(kLr / (1.0 - std::pow(kBeta1, step)));
    const float bc2 = static_cast<float>(std::sqrt(1.0 - std::pow(kBeta2, step)));
    const float decay = static_cast<float>(1.0 - kLr * kWd);  // flash-adamw decays everything
    for (std::size_t t = 0; t < params.size(); ++t) {
      const std::size_t n = g[t].size();
      for (std::size_t g0 = 0; g0 < n; g0 += 32) {
        const std::size_t g1 = std::min(n, g0 + 32), k = g0 / 32;
        std::vector<float> m(g1 - g0), v(g1 - g0);
        float m_abs = 0.0f, v_abs = 0.0f;
        for (std::size_t i = g0; i < g1; ++i) {
          const float m_hat = math::expand_m(mq[t][i], math::fp16_to_float(ms[t][k]));
          const float v_hat = math::dequantize_v(vq[t][i], math::fp16_to_float(vs[t][k]));
          m[i - g0] = b1 * m_hat + static_cast<float>(1.0 - kBeta1) * g[t][i];
          v[i - g0] = b2 * v_hat + static_cast<float>(1.0 - kBeta2) * (g[t][i] * g[t][i]);
          const float th = math::join_weight(math::float_to_bf16(w[t][i]), rho[t][i], math::kRhoLevelsInt8);
          const float updated =
              th * decay - step_size * m[i - g0] / (std::sqrt(v[i - g0]) / bc2 + static_cast<float>(kEps));
          const math::SplitWeight s = math::split_weight(updated, math::kRhoLevelsInt8);
          w[t][i] = math::bf16_to_float(s.hi);
          rho[t][i] = static_cast<std::int8_t>(s.rho);
          m_abs = std::max(m_abs, std::fabs(m[i - g0]));
          v_abs = std::max(v_abs, std::sqrt(v[i - g0]));
        }
        const float sm = math::state_group_scale(m_abs), sv = math::state_group_scale(v_abs);
        for (std::size_t i = g0; i < g1; ++i) {
          mq[t][i] = math::compand_m(m[i - g0], sm);
          vq[t][i] = math::quantize_sqrt_v(std::sqrt(v[i - g0]), sv);
        }
        ms[t][k] = math::float_to_fp16(sm);
        vs[t][k] = math::float_to_fp16(sv);
      }
      const TensorStateTensors& s = opt.state_tensors().tensors[t];
      EXPECT_EQ(values(params[t].tensor), w[t]) << params[t].name << " step " << step;
      EXPECT_EQ(std::vector<std::int8_t>(s.rho.data_ptr<std::int8_t>(), s.rho.data_ptr<std::int8_t>() + s.rho.numel()),
                rho[t]);
      EXPECT_EQ(std::vector<std::int8_t>(s.m.data_ptr<std::int8_t>(), s.m.data_ptr<std::int8_t>() + s.m.numel()),
                mq[t]);
      EXPECT_EQ(std::vector<std::uint8_t>(s.v.data_ptr<std::uint8_t>(), s.v.data_ptr<std::uint8_t>() + s.v.numel()),
                vq[t]);
      const auto* msb = reinterpret_cast<const std::uint16_t*>(s.m_scale.data_ptr<std::int16_t>());
      EXPECT_EQ(std::vector<std::uint16_t>(msb, msb + s.m_scale.numel()), ms[t]);
    }
  }
  // The split keeps the fp32 master weight within ULP(bf16)/(4·127) of the
  // reconstruction (docs/algorithms.md §7), so FlashAdamW tracks fp32 AdamW closely.
}

// The momentum-only rules written out per element in fp32 from their papers
// (spec.h): returns the new momentum and moves θ. sgd: μ = kBeta1, coupled
// weight decay; lion: decoupled. Every tensor decays (sgd and lion exclude none).
float momentum_rule(const std::string& rule, float& theta, float m, float g) {
  const float b1 = kBeta1, b2 = kBeta2, lr = kLr, wd = kWd;
  if (rule == "sgd") {
    const float d = g + wd * theta;
    const float m_new = b1 * m + d;
    theta = theta - lr * m_new;
    return m_new;
  }
  const float c = b1 * m + static_cast<float>(1.0 - kBeta1) * g;
  const float sign = c > 0.0f ? 1.0f : (c < 0.0f ? -1.0f : 0.0f);
  theta = theta * static_cast<float>(1.0 - kLr * kWd) - lr * sign;
  return b2 * m + static_cast<float>(1.0 - kBeta2) * g;
}

TEST(Lion, StepsMatchThePaperRule) {
  auto params = make_params(default_specs(), 14);
  std::vector<std::vector<float>> w, m;
  for (const auto& t : params) {
    w.push_back(values(t.tensor));
    m.emplace_back(w.back().size(), 0.0f);
  }
  BlockOptimizer opt(params, partition::per_tensor(infos(params)), parse_optimizer_spec("lion"), options());
  for (int step = 1; step <= 20; ++step) {
    set_gradients(params, step);
    std::vector<std::vector<float>> g;
    for (const auto& t : params) g.push_back(values(t.tensor.grad()));
    opt.step();
    for (std::size_t t = 0; t < params.size(); ++t) {
      for (std::size_t i = 0; i < g[t].size(); ++i) m[t][i] = momentum_rule("lion", w[t][i], m[t][i], g[t][i]);
      // Bitwise: the same fp32 operations in the same order, none contracted.
      EXPECT_EQ(values(params[t].tensor), w[t]) << params[t].name << " step " << step;
      EXPECT_EQ(values(opt.state_tensors().tensors[t].m), m[t]) << params[t].name << " step " << step;
    }
  }
}

// flash-sgd / flash-lion: companded int8 m (groups of 32, fp16 scale) and
// bf16+int8 weights around momentum_rule, dequantised and requantised each step.
void expect_flash_momentum_steps(const std::string& rule) {
  auto params = make_params(default_specs(), 15);
  std::vector<std::vector<float>> w;  // bf16 part of θ, as the parameter holds it
  std::vector<std::vector<std::int8_t>> mq, rho;
  std::vector<std::vector<std::uint16_t>> ms;
  for (const auto& t : params) {
    const std::vector<float> theta = values(t.tensor);
    const std::size_t n = theta.size();
    w.emplace_back(n);
    rho.emplace_back(n);
    for (std::size_t i = 0; i < n; ++i) {
      const math::SplitWeight s = math::split_weight(theta[i], math::kRhoLevelsInt8);
      w.back()[i] = math::bf16_to_float(s.hi);
      rho.back()[i] = static_cast<std::int8_t>(s.rho);
    }
    mq.emplace_back(n, 0);
    ms.emplace_back((n + 31) / 32, 0);
  }
  BlockOptimizer opt(params, partition::per_element(infos(params)), parse_optimizer_spec("flash-" + rule), options());
  for (int step = 1; step <= 5; ++step) {
    set_gradients(params, step);
    std::vector<std::vector<float>> g;
    for (const auto& t : params) g.push_back(values(t.tensor.grad()));
    opt.step();
    for (std::size_t t = 0; t < params.size(); ++t) {
      const std::size_t n = g[t].size();
      for (std::size_t g0 = 0; g0 < n; g0 += 32) {
        const std::size_t g1 = std::min(n, g0 + 32), k = g0 / 32;
        std::vector<float> m(g1 - g0);
        float m_abs = 0.0f;
        for (std::size_t i = g0; i < g1; ++i) {
          float theta = math::join_weight(math::float_to_bf16(w[t][i]), rho[t][i], math::kRhoLevelsInt8);
          m[i - g0] = momentum_rule(rule, theta, math::expand_m(mq[t][i], math::fp16_to_float(ms[t][k])), g[t][i]);
          const math::SplitWeight s = math::split_weight(theta, math::kRhoLevelsInt8);
          w[t][i] = math::bf16_to_float(s.hi);
          rho[t][i] = static_cast<std::int8_t>(s.rho);
          m_abs = std::max(m_abs, std::fabs(m[i - g0]));
        }
        const float sm = math::state_group_scale(m_abs);
        for (std::size_t i = g0; i < g1; ++i) mq[t][i] = math::compand_m(m[i - g0], sm);
        ms[t][k] = math::float_to_fp16(sm);
      }
      const TensorStateTensors& s = opt.state_tensors().tensors[t];
      EXPECT_FALSE(s.v.defined()) << "no second moment";
      EXPECT_EQ(values(params[t].tensor), w[t]) << rule << " " << params[t].name << " step " << step;
      EXPECT_EQ(std::vector<std::int8_t>(s.rho.data_ptr<std::int8_t>(), s.rho.data_ptr<std::int8_t>() + s.rho.numel()),
                rho[t]);
      EXPECT_EQ(std::vector<std::int8_t>(s.m.data_ptr<std::int8_t>(), s.m.data_ptr<std::int8_t>() + s.m.numel()),
                mq[t]);
      const auto* msb = reinterpret_cast<const std::uint16_t*>(s.m_scale.data_ptr<std::int16_t>());
      EXPECT_EQ(std::vector<std::uint16_t>(msb, msb + s.m_scale.numel()), ms[t]);
    }
  }
}

TEST(FlashSgd, StepsMatchTheDequantisedRule) { expect_flash_momentum_steps("sgd"); }
TEST(FlashLion, StepsMatchTheDequantisedRule) { expect_flash_momentum_steps("lion"); }

}  // namespace
}  // namespace blockscope::optimizers
