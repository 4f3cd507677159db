// resnet: tiny ResNet with BatchNorm (torchvision names: conv1, bn1,
// layer<s>.<b>.conv1/bn1/conv2/bn2, downsample.0/1, fc). In eval mode the
// BatchNorm layers use their running statistics (docs/algorithms.md §1).
#include <fmt/format.h>
#include <torch/nn/functional.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/zoo/zoo.h"
#include "models/zoo/zoo_module.h"

namespace blockscope::models {
namespace {

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

struct BasicBlock : torch::nn::Module {
  BasicBlock(std::int64_t in, std::int64_t out, std::int64_t stride) {
    conv1 = register_module("conv1", conv(in, out, 3, stride));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(out));
    conv2 = register_module("conv2", conv(out, out, 3, 1));
    bn2 = register_module("bn2", torch::nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      auto downsample = register_module("downsample", std::make_shared<torch::nn::Module>());
      down_conv = downsample->register_module("0", conv(in, out, 1, stride));
      down_bn = downsample->register_module("1", torch::nn::BatchNorm2d(out));
    }
  }

  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = torch::relu(bn1->forward(conv1->forward(x)));
    h = bn2->forward(conv2->forward(h));
    at::Tensor shortcut = down_conv ? down_bn->forward(down_conv->forward(x)) : x;
    return torch::relu(h + shortcut);
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, down_conv{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, down_bn{nullptr};
};

struct ResNetConfig {
  std::int64_t in_channels, image, width, blocks, classes;
};

struct ResNet : ZooModule {
  explicit ResNet(const ResNetConfig& c) {
    conv1 = register_module("conv1", conv(c.in_channels, c.width, 3, 1));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(c.width));
    std::int64_t in = c.width;
    for (std::int64_t stage = 0; stage < 2; ++stage) {
      std::int64_t out = c.width << stage;
      auto layer = register_module(fmt::format("layer{}", stage + 1), torch::nn::ModuleList());
      for (std::int64_t b = 0; b < c.blocks; ++b) {
        auto block = std::make_shared<BasicBlock>(in, out, (b == 0 && stage > 0) ? 2 : 1);
        layer->push_back(block);
        blocks.push_back(block);
        in = out;
      }
    }
    fc = register_module("fc", torch::nn::Linear(in, c.classes));
  }

  at::Tensor forward(const at::Tensor& x) override {
    at::Tensor h = torch::relu(bn1->forward(conv1->forward(x)));
    for (const auto& block : blocks) h = block->forward(h);
    return fc->forward(h.mean({2, 3}));
  }

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  std::vector<std::shared_ptr<BasicBlock>> blocks;
  torch::nn::Linear fc{nullptr};
};

}  // namespace

ZooEntry resnet_entry() {
  ZooEntry e;
  e.name = "resnet";
  e.summary = "tiny ResNet (two stages of basic blocks) with BatchNorm, on images";
  e.options = {{"in_channels", "3", "image channels"},
               {"image", "16", "image height = width"},
               {"width", "16", "channels of the first stage (doubled in the second)"},
               {"blocks", "1", "basic blocks per stage"},
               {"classes", "10", "output classes"}};
  e.build = [](ModelSpec& spec) -> std::unique_ptr<Model> {
    ResNetConfig c{spec.get_int("in_channels", 3), spec.get_int("image", 16), spec.get_int("width", 16),
                   spec.get_int("blocks", 1), spec.get_int("classes", 10)};
    InputSpec input{InputSpec::Kind::kImage, {c.in_channels, c.image, c.image}, 0, c.classes};
    return std::make_unique<ZooModel>(std::make_shared<ResNet>(c),
                                      fmt::format("resnet(in_channels={}, image={}, width={}, blocks={}, classes={})",
                                                  c.in_channels, c.image, c.width, c.blocks, c.classes),
                                      input);
  };
  return e;
}

}  // namespace blockscope::models
