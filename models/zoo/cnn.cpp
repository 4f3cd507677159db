// cnn: small VGG-style network (conv-relu ×2, pool, conv-relu, pool, linear)
// on C×H×W images. Registered as features.{0,2,5} and classifier like
// torchvision's VGG.
#include <fmt/format.h>
#include <torch/nn/functional.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/zoo/zoo.h"
#include "models/zoo/zoo_module.h"

namespace blockscope::models {
namespace {

namespace F = torch::nn::functional;

struct CnnConfig {
  std::int64_t in_channels, image, channels, classes;
};

torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
}

struct Cnn : ZooModule {
  explicit Cnn(const CnnConfig& c) {
    // A plain container so the names read features.0/2/5 as in VGG.
    auto features = register_module("features", std::make_shared<torch::nn::Module>());
    conv_a = features->register_module("0", conv3x3(c.in_channels, c.channels));
    conv_b = features->register_module("2", conv3x3(c.channels, c.channels));
    conv_c = features->register_module("5", conv3x3(c.channels, 2 * c.channels));
    std::int64_t side = c.image / 4;
    classifier = register_module("classifier", torch::nn::Linear(2 * c.channels * side * side, c.classes));
  }

  at::Tensor forward(const at::Tensor& x) override {
    at::Tensor h = torch::relu(conv_a->forward(x));
    h = F::max_pool2d(torch::relu(conv_b->forward(h)), F::MaxPool2dFuncOptions(2));
    h = F::max_pool2d(torch::relu(conv_c->forward(h)), F::MaxPool2dFuncOptions(2));
    return classifier->forward(h.flatten(1));
  }

  torch::nn::Conv2d conv_a{nullptr}, conv_b{nullptr}, conv_c{nullptr};
  torch::nn::Linear classifier{nullptr};
};

}  // namespace

ZooEntry cnn_entry() {
  ZooEntry e;
  e.name = "cnn";
  e.summary = "small VGG-style convnet on images";
  e.options = {{"in_channels", "3", "image channels"},
               {"image", "16", "image height = width (multiple of 4)"},
               {"channels", "8", "channels of the first convolutions (doubled later)"},
               {"classes", "10", "output classes"}};
  e.build = [](ModelSpec& spec) -> std::unique_ptr<Model> {
    CnnConfig c{spec.get_int("in_channels", 3), spec.get_int("image", 16), spec.get_int("channels", 8),
                spec.get_int("classes", 10)};
    if (c.image % 4 != 0) {
      throw std::runtime_error(fmt::format("cnn option image={} must be a multiple of 4", c.image));
    }
    InputSpec input{InputSpec::Kind::kImage, {c.in_channels, c.image, c.image}, 0, c.classes};
    return std::make_unique<ZooModel>(std::make_shared<Cnn>(c),
                                      fmt::format("cnn(in_channels={}, image={}, channels={}, classes={})",
                                                  c.in_channels, c.image, c.channels, c.classes),
                                      input);
  };
  return e;
}

}  // namespace blockscope::models
