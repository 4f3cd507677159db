// Zoo models: shapes and counts against their configs, names that the
// partition rules rely on, and functional identities (fused qkv = separate
// projections, GQA = duplicated kv heads, causality, BatchNorm eval mode).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/cpp/error_message.h"

#include "data/sources.h"
#include "models/model.h"
#include "models/zoo/zoo.h"

namespace blockscope::models {
namespace {

at::Tensor param(const Model& model, const std::string& name) {
  for (const auto& p : model.parameters()) {
    if (p.name == name) return p.tensor;
  }
  throw std::runtime_error("no parameter " + name);
}

using blockscope::testing::error_of;

TEST(Zoo, EveryModelRunsOnItsDefaultDataWithFiniteOutputs) {
  for (const ZooEntry& entry : zoo()) {
    SCOPED_TRACE(entry.name);
    auto model = load_model(entry.name);
    data::SourceOptions options;
    options.examples = 4;
    data::Dataset d = data::load_dataset("auto", model->input_spec(), options);
    data::check_dataset_fits(d, model->input_spec());
    at::Tensor out = model->forward(d.inputs);
    EXPECT_TRUE(at::isfinite(out).all().item<bool>());
    EXPECT_EQ(out.size(0), 4);
    EXPECT_EQ(out.size(-1), model->input_spec().num_classes);
    std::int64_t total = 0;
    for (const auto& p : model->parameters()) {
      EXPECT_TRUE(p.tensor.requires_grad()) << p.name;
      total += p.tensor.numel();
    }
    EXPECT_EQ(total, model->num_parameters());
    EXPECT_LT(model->num_parameters(), 1'000'000) << "defaults must stay CPU-analysable";
  }
}

TEST(Zoo, GptParameterCountMatchesItsConfig) {
  // Separate q/k/v/o, GQA, untied head, LayerNorm (weight + bias), no biases.
  const std::int64_t L = 3, H = 4, KV = 2, hd = 24, d = 40, ff = 96, V = 256, T = 32;
  auto model =
      load_model(fmt::format("gpt:n_layer={},n_head={},n_kv_head={},head_dim={},d_model={},d_ff={},vocab={},context={}",
                             L, H, KV, hd, d, ff, V, T));
  const std::int64_t per_layer = d * H * hd + 2 * d * KV * hd + H * hd * d + 2 * d * ff + 4 * d;
  EXPECT_EQ(model->num_parameters(), V * d + T * d + L * per_layer + 2 * d + V * d);
  EXPECT_EQ(param(*model, "layers.2.attn.q_proj.weight").sizes(), (at::IntArrayRef{H * hd, d}));
  EXPECT_EQ(param(*model, "layers.2.attn.k_proj.weight").sizes(), (at::IntArrayRef{KV * hd, d}));
  EXPECT_EQ(param(*model, "layers.0.attn.o_proj.weight").sizes(), (at::IntArrayRef{d, H * hd}));
  EXPECT_EQ(param(*model, "lm_head.weight").sizes(), (at::IntArrayRef{V, d}));
  ASSERT_EQ(model->attention().size(), static_cast<std::size_t>(L));
  EXPECT_EQ(model->attention()[0].n_kv_head, KV);
  EXPECT_EQ(model->attention()[0].head_dim, hd);
}

TEST(Zoo, Gpt2SmallPresetHasGpt2Shape) {
  // GPT-2 small: 124,439,808 parameters with the head tied; untied here adds
  // vocab × d_model = 38,597,376.
  auto model = load_model("gpt:preset=gpt2-small");
  EXPECT_EQ(model->num_parameters(), 124'439'808 + 50257 * 768);
}

// Copies the separate projections into c_attn rows (q, k, v order): the
// fused model must then compute exactly the same function.
TEST(Zoo, FusedQkvEqualsSeparateProjections) {
  const std::string cfg = "n_layer=1,n_head=4,n_kv_head=2,head_dim=8,d_model=24,d_ff=32,vocab=50,context=16";
  auto separate = load_model("gpt:" + cfg, 3);
  auto fused = load_model("gpt:fused_qkv=true," + cfg, 3);
  {
    at::NoGradGuard no_grad;
    for (const auto& p : fused->parameters()) {
      if (p.name == "layers.0.attn.c_attn.weight") {
        p.tensor.copy_(
            at::cat({param(*separate, "layers.0.attn.q_proj.weight"), param(*separate, "layers.0.attn.k_proj.weight"),
                     param(*separate, "layers.0.attn.v_proj.weight")},
                    0));
      } else {
        p.tensor.copy_(param(*separate, p.name));
      }
    }
  }
  at::Tensor tokens = at::randint(50, {2, 16}, at::kLong);
  // Same math, different matmul grouping: fp32 rounding only.
  EXPECT_TRUE(at::allclose(separate->forward(tokens), fused->forward(tokens), 1e-5, 1e-6));
}

// GQA with n_kv_head = 2 equals full attention with 4 kv heads whose weights
// repeat each kv head for its group of query heads (heads 0,1 → kv 0).
TEST(Zoo, GroupedQueryAttentionEqualsRepeatedKvHeads) {
  const std::string cfg = "n_layer=1,n_head=4,head_dim=8,d_model=32,d_ff=32,vocab=40,context=8";
  auto gqa = load_model("gpt:n_kv_head=2," + cfg, 5);
  auto full = load_model("gpt:n_kv_head=4," + cfg, 5);
  {
    at::NoGradGuard no_grad;
    for (const auto& p : full->parameters()) {
      at::Tensor source = param(*gqa, p.name);
      if (p.name.find("k_proj") != std::string::npos || p.name.find("v_proj") != std::string::npos) {
        p.tensor.copy_(source.view({2, 8, 32}).repeat_interleave(2, 0).reshape({32, 32}));
      } else {
        p.tensor.copy_(source);
      }
    }
  }
  at::Tensor tokens = at::randint(40, {3, 8}, at::kLong);
  EXPECT_TRUE(at::allclose(gqa->forward(tokens), full->forward(tokens), 1e-5, 1e-6));
}

TEST(Zoo, GptIsCausal) {
  auto model = load_model("gpt");
  at::Tensor tokens = at::randint(256, {1, 20}, at::kLong);
  at::Tensor changed = tokens.clone();
  changed.index_put_({0, 12}, (tokens.index({0, 12}) + 1) % 256);
  at::Tensor a = model->forward(tokens), b = model->forward(changed);
  EXPECT_TRUE(at::equal(a.slice(1, 0, 12), b.slice(1, 0, 12)));
  EXPECT_FALSE(at::equal(a.slice(1, 12), b.slice(1, 12)));
}

TEST(Zoo, ResnetInEvalModeIsPerExample) {
  // Eval-mode BatchNorm uses running statistics: an example's output must
  // not depend on the rest of the batch.
  auto model = load_model("resnet");
  at::Tensor x = at::randn({4, 3, 16, 16});
  at::Tensor batch = model->forward(x);
  at::Tensor single = model->forward(x.slice(0, 1, 2));
  EXPECT_TRUE(at::allclose(batch.slice(0, 1, 2), single, 1e-5, 1e-6));
}

TEST(Zoo, NamesFollowConventionsThePartitionRulesUse) {
  auto gpt = load_model("gpt:gated=true");
  for (const char* name : {"wte.weight", "wpe.weight", "layers.0.attn_norm.weight", "layers.0.attn.q_proj.weight",
                           "layers.1.mlp.gate_proj.weight", "layers.1.mlp.up_proj.weight",
                           "layers.1.mlp.down_proj.weight", "final_norm.weight", "lm_head.weight"}) {
    EXPECT_NO_THROW(param(*gpt, name)) << name;
  }
  EXPECT_NO_THROW(param(*load_model("mlp"), "linear.0.weight"));
  EXPECT_NO_THROW(param(*load_model("cnn"), "features.0.weight"));
  EXPECT_NO_THROW(param(*load_model("resnet"), "layer2.0.downsample.0.weight"));
  EXPECT_NO_THROW(param(*load_model("vit"), "blocks.1.attn.k_proj.weight"));
  EXPECT_NO_THROW(param(*load_model("vit"), "pos_embed"));
}

TEST(Zoo, SameSeedSameWeightsDifferentSeedDifferentWeights) {
  auto a = load_model("cnn", 7), b = load_model("cnn", 7), c = load_model("cnn", 8);
  EXPECT_TRUE(at::equal(param(*a, "classifier.weight"), param(*b, "classifier.weight")));
  EXPECT_FALSE(at::equal(param(*a, "classifier.weight"), param(*c, "classifier.weight")));
}

TEST(Zoo, ToFloat64ConvertsEveryParameter) {
  auto model = load_model("vit");
  model->to(at::kDouble);
  for (const auto& p : model->parameters()) EXPECT_EQ(p.tensor.scalar_type(), at::kDouble) << p.name;
  EXPECT_EQ(model->forward(at::randn({2, 3, 16, 16}, at::kDouble)).scalar_type(), at::kDouble);
}

TEST(ZooErrors, UnknownModelListsTheValidNames) {
  EXPECT_EQ(error_of([] { load_model("transformer"); }),
            "unknown model 'transformer' (valid zoo models: mlp, cnn, resnet, gpt, vit; or give a "
            "TorchScript file ending in .pt)");
}

TEST(ZooErrors, UnknownOptionListsTheValidKeys) {
  std::string e = error_of([] { load_model("mlp:width=3"); });
  EXPECT_NE(e.find("unknown option 'width' for model 'mlp' (valid: d_in, hidden"), std::string::npos) << e;
}

TEST(ZooErrors, BadOptionValuesAreNamed) {
  EXPECT_NE(error_of([] { load_model("gpt:n_layer=two"); }).find("n_layer=two is not an integer"), std::string::npos);
  EXPECT_NE(error_of([] { load_model("gpt:n_layer=0"); }).find("must be positive"), std::string::npos);
  EXPECT_NE(error_of([] { load_model("gpt:n_head=4,n_kv_head=3"); }).find("multiple of n_kv_head=3"),
            std::string::npos);
  EXPECT_NE(error_of([] { load_model("gpt:n_layer"); }).find("malformed model option"), std::string::npos);
  EXPECT_NE(error_of([] { load_model("cnn:image=18"); }).find("multiple of 4"), std::string::npos);
}

}  // namespace
}  // namespace blockscope::models
