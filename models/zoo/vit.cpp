// vit: tiny vision transformer on C×H×W images (timm-like names:
// patch_embed.proj, cls_token, pos_embed, blocks.<i>.{norm1, attn.*_proj,
// norm2, mlp.fc1, mlp.fc2}, norm, head). Classifies from the class token.
#include <fmt/format.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include "models/zoo/attention.h"
#include "models/zoo/zoo.h"
#include "models/zoo/zoo_module.h"

namespace blockscope::models {
namespace {

struct VitConfig {
  std::int64_t in_channels, image, patch, n_layer, n_head, d_model, d_ff, classes;
};

torch::nn::LayerNorm layer_norm(std::int64_t d) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})); }

struct VitMlp : torch::nn::Module {
  VitMlp(std::int64_t d_model, std::int64_t d_ff) {
    fc1 = register_module("fc1", torch::nn::Linear(d_model, d_ff));
    fc2 = register_module("fc2", torch::nn::Linear(d_ff, d_model));
  }
  at::Tensor forward(const at::Tensor& x) { return fc2->forward(torch::gelu(fc1->forward(x))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

struct VitBlock : torch::nn::Module {
  explicit VitBlock(const VitConfig& c) {
    norm1 = register_module("norm1", layer_norm(c.d_model));
    attn = register_module("attn", std::make_shared<SelfAttention>(AttentionConfig{
                                       c.d_model, {c.n_head, c.n_head, c.d_model / c.n_head}, false, false, true}));
    norm2 = register_module("norm2", layer_norm(c.d_model));
    mlp = register_module("mlp", std::make_shared<VitMlp>(c.d_model, c.d_ff));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = x + attn->forward(norm1->forward(x));
    return h + mlp->forward(norm2->forward(h));
  }
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  std::shared_ptr<SelfAttention> attn;
  std::shared_ptr<VitMlp> mlp;
};

struct Vit : ZooModule {
  explicit Vit(const VitConfig& c) {
    auto patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>());
    proj = patch_embed->register_module(
        "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.in_channels, c.d_model, c.patch).stride(c.patch)));
    const std::int64_t tokens = (c.image / c.patch) * (c.image / c.patch) + 1;
    cls_token = register_parameter("cls_token", at::zeros({1, 1, c.d_model}));
    pos_embed = register_parameter("pos_embed", at::randn({1, tokens, c.d_model}) * 0.02);
    auto list = register_module("blocks", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < c.n_layer; ++i) {
      blocks.push_back(std::make_shared<VitBlock>(c));
      list->push_back(blocks.back());
    }
    norm = register_module("norm", layer_norm(c.d_model));
    head = register_module("head", torch::nn::Linear(c.d_model, c.classes));
  }

  at::Tensor forward(const at::Tensor& images) override {
    at::Tensor x = proj->forward(images).flatten(2).transpose(1, 2);  // [N, patches, d]
    x = at::cat({cls_token.expand({x.size(0), 1, x.size(2)}), x}, 1) + pos_embed;
    for (const auto& block : blocks) x = block->forward(x);
    return head->forward(norm->forward(x).select(1, 0));
  }

  torch::nn::Conv2d proj{nullptr};
  at::Tensor cls_token, pos_embed;
  std::vector<std::shared_ptr<VitBlock>> blocks;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};

}  // namespace

ZooEntry vit_entry() {
  ZooEntry e;
  e.name = "vit";
  e.summary = "tiny vision transformer (patch embedding, class token) on images";
  e.options = {{"in_channels", "3", "image channels"},
               {"image", "16", "image height = width (multiple of patch)"},
               {"patch", "4", "patch side"},
               {"n_layer", "2", "transformer blocks"},
               {"n_head", "4", "attention heads (d_model must divide by it)"},
               {"d_model", "64", "embedding width"},
               {"d_ff", "128", "MLP hidden width"},
               {"classes", "10", "output classes"}};
  e.build = [](ModelSpec& spec) -> std::unique_ptr<Model> {
    VitConfig c{spec.get_int("in_channels", 3), spec.get_int("image", 16),  spec.get_int("patch", 4),
                spec.get_int("n_layer", 2),     spec.get_int("n_head", 4),  spec.get_int("d_model", 64),
                spec.get_int("d_ff", 128),      spec.get_int("classes", 10)};
    if (c.image % c.patch != 0) {
      throw std::runtime_error(fmt::format("vit option image={} must be a multiple of patch={}", c.image, c.patch));
    }
    if (c.d_model % c.n_head != 0) {
      throw std::runtime_error(
          fmt::format("vit option d_model={} must be a multiple of n_head={}", c.d_model, c.n_head));
    }
    InputSpec input{InputSpec::Kind::kImage, {c.in_channels, c.image, c.image}, 0, c.classes};
    AttentionLayout layout{c.n_head, c.n_head, c.d_model / c.n_head};
    return std::make_unique<ZooModel>(
        std::make_shared<Vit>(c),
        fmt::format("vit(in_channels={}, image={}, patch={}, n_layer={}, n_head={}, d_model={}, "
                    "d_ff={}, classes={})",
                    c.in_channels, c.image, c.patch, c.n_layer, c.n_head, c.d_model, c.d_ff, c.classes),
        input, std::vector<AttentionLayout>(c.n_layer, layout));
  };
  return e;
}

}  // namespace blockscope::models
