// mlp: fully connected classifier. Layers are registered as "linear.<i>" so
// Adam-mini's "linear" rule gives one block per output neuron.
#include <fmt/format.h>
#include <torch/nn/functional.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>

#include "models/zoo/zoo.h"
#include "models/zoo/zoo_module.h"

namespace blockscope::models {
namespace {

struct MlpConfig {
  std::int64_t d_in, hidden, depth, classes;
  std::string activation;
};

struct Mlp : ZooModule {
  explicit Mlp(const MlpConfig& c) : activation(c.activation) {
    layers = register_module("linear", torch::nn::ModuleList());
    std::int64_t width = c.d_in;
    for (std::int64_t i = 0; i < c.depth; ++i) {
      layers->push_back(torch::nn::Linear(width, c.hidden));
      width = c.hidden;
    }
    layers->push_back(torch::nn::Linear(width, c.classes));
  }

  at::Tensor forward(const at::Tensor& x) override {
    at::Tensor h = x;
    for (std::size_t i = 0; i < layers->size(); ++i) {
      h = layers[i]->as<torch::nn::Linear>()->forward(h);
      if (i + 1 == layers->size()) break;
      if (activation == "tanh")
        h = torch::tanh(h);
      else if (activation == "relu")
        h = torch::relu(h);
      else
        h = torch::gelu(h);
    }
    return h;
  }

  torch::nn::ModuleList layers;
  std::string activation;
};

}  // namespace

ZooEntry mlp_entry() {
  ZooEntry e;
  e.name = "mlp";
  e.summary = "fully connected classifier on feature vectors (dense-Hessian size by default)";
  e.options = {{"d_in", "16", "input features"},
               {"hidden", "32", "hidden width"},
               {"depth", "2", "hidden layers"},
               {"classes", "4", "output classes"},
               {"activation", "tanh", "tanh | relu | gelu"}};
  e.build = [](ModelSpec& spec) -> std::unique_ptr<Model> {
    MlpConfig c{spec.get_int("d_in", 16), spec.get_int("hidden", 32), spec.get_int("depth", 2),
                spec.get_int("classes", 4), spec.get_string("activation", "tanh")};
    if (c.activation != "tanh" && c.activation != "relu" && c.activation != "gelu") {
      throw std::runtime_error(fmt::format("unknown mlp activation '{}' (valid: tanh, relu, gelu)", c.activation));
    }
    InputSpec input{InputSpec::Kind::kFeatures, {c.d_in}, 0, c.classes};
    return std::make_unique<ZooModel>(std::make_shared<Mlp>(c),
                                      fmt::format("mlp(d_in={}, hidden={}, depth={}, classes={}, activation={})",
                                                  c.d_in, c.hidden, c.depth, c.classes, c.activation),
                                      input);
  };
  return e;
}

}  // namespace blockscope::models
