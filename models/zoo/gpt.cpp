// gpt: decoder-only transformer on token sequences [N, T] → logits [N, T, vocab].
// Names: wte, wpe, layers.<i>.{attn_norm, attn.{q,k,v,o}_proj | attn.c_attn,
// mlp_norm, mlp.{up,gate,down}_proj}, final_norm, lm_head (untied).
// GPT-2 initialisation: weights N(0, 0.02²), biases 0, norms 1.
#include <fmt/format.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include "models/zoo/attention.h"
#include "models/zoo/zoo.h"
#include "models/zoo/zoo_module.h"

namespace blockscope::models {
namespace {

struct GptConfig {
  std::int64_t n_layer, n_head, n_kv_head, head_dim, d_model, d_ff, vocab, context;
  bool gated, fused_qkv, bias;
};

torch::nn::Linear linear(std::int64_t in, std::int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

struct Mlp : torch::nn::Module {
  Mlp(const GptConfig& c) : gated(c.gated) {
    up_proj = register_module("up_proj", linear(c.d_model, c.d_ff, c.bias));
    if (gated) gate_proj = register_module("gate_proj", linear(c.d_model, c.d_ff, c.bias));
    down_proj = register_module("down_proj", linear(c.d_ff, c.d_model, c.bias));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = gated ? torch::silu(gate_proj->forward(x)) * up_proj->forward(x) : torch::gelu(up_proj->forward(x));
    return down_proj->forward(h);
  }
  bool gated;
  torch::nn::Linear up_proj{nullptr}, gate_proj{nullptr}, down_proj{nullptr};
};

struct Block : torch::nn::Module {
  explicit Block(const GptConfig& c) {
    attn_norm = register_module("attn_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
    attn = register_module("attn", std::make_shared<SelfAttention>(AttentionConfig{
                                       c.d_model, {c.n_head, c.n_kv_head, c.head_dim}, true, c.fused_qkv, c.bias}));
    mlp_norm = register_module("mlp_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
    mlp = register_module("mlp", std::make_shared<Mlp>(c));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = x + attn->forward(attn_norm->forward(x));
    return h + mlp->forward(mlp_norm->forward(h));
  }
  torch::nn::LayerNorm attn_norm{nullptr}, mlp_norm{nullptr};
  std::shared_ptr<SelfAttention> attn;
  std::shared_ptr<Mlp> mlp;
};

struct Gpt : ZooModule {
  explicit Gpt(const GptConfig& c) : config(c) {
    wte = register_module("wte", torch::nn::Embedding(c.vocab, c.d_model));
    wpe = register_module("wpe", torch::nn::Embedding(c.context, c.d_model));
    auto list = register_module("layers", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < c.n_layer; ++i) {
      blocks.push_back(std::make_shared<Block>(c));
      list->push_back(blocks.back());
    }
    final_norm = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
    lm_head = register_module("lm_head", linear(c.d_model, c.vocab, false));
    torch::NoGradGuard no_grad;
    for (auto& p : named_parameters()) {
      if (p.key().find("norm") != std::string::npos) continue;  // LayerNorm keeps 1 / 0
      if (p.value().dim() >= 2)
        torch::nn::init::normal_(p.value(), 0.0, 0.02);
      else
        p.value().zero_();
    }
  }

  at::Tensor forward(const at::Tensor& tokens) override {
    const std::int64_t t = tokens.size(1);
    if (t > config.context) {
      throw std::runtime_error(fmt::format(
          "sequence length {} exceeds the gpt context {} (raise context= or shorten the data)", t, config.context));
    }
    at::Tensor positions = at::arange(t, tokens.options().dtype(at::kLong));
    at::Tensor h = wte->forward(tokens) + wpe->forward(positions);
    for (const auto& block : blocks) h = block->forward(h);
    return lm_head->forward(final_norm->forward(h));
  }

  GptConfig config;
  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
  std::vector<std::shared_ptr<Block>> blocks;
  torch::nn::LayerNorm final_norm{nullptr};
  torch::nn::Linear lm_head{nullptr};
};

}  // namespace

ZooEntry gpt_entry() {
  ZooEntry e;
  e.name = "gpt";
  e.summary =
      "decoder-only transformer (GQA, optional gated MLP / fused qkv) on byte tokens; "
      "preset=gpt2-small gives the 12-layer 768-wide shape";
  e.options = {
      {"preset", "", "gpt2-small: n_layer=12 n_head=12 head_dim=64 d_model=768 d_ff=3072 vocab=50257 context=1024"},
      {"n_layer", "2", "transformer blocks"},
      {"n_head", "4", "query heads"},
      {"n_kv_head", "2", "key/value heads (grouped-query attention)"},
      {"head_dim", "16", "width of one head (need not be d_model/n_head)"},
      {"d_model", "64", "residual width"},
      {"d_ff", "256", "MLP hidden width"},
      {"vocab", "256", "vocabulary (256 = bytes)"},
      {"context", "64", "maximum sequence length"},
      {"gated", "false", "SiLU-gated MLP with gate_proj (Llama style)"},
      {"fused_qkv", "false", "one c_attn projection instead of q/k/v_proj"},
      {"bias", "false", "biases in the linear layers"}};
  e.build = [](ModelSpec& spec) -> std::unique_ptr<Model> {
    GptConfig c{2, 4, 2, 16, 64, 256, 256, 64, false, false, false};
    std::string preset = spec.get_string("preset", "");
    if (preset == "gpt2-small") {
      c = GptConfig{12, 12, 12, 64, 768, 3072, 50257, 1024, false, false, true};
    } else if (!preset.empty()) {
      throw std::runtime_error(fmt::format("unknown gpt preset '{}' (valid: gpt2-small)", preset));
    }
    c.n_layer = spec.get_int("n_layer", c.n_layer);
    c.n_head = spec.get_int("n_head", c.n_head);
    c.n_kv_head = spec.get_int("n_kv_head", std::min(c.n_kv_head, c.n_head));
    c.head_dim = spec.get_int("head_dim", c.head_dim);
    c.d_model = spec.get_int("d_model", c.d_model);
    c.d_ff = spec.get_int("d_ff", c.d_ff);
    c.vocab = spec.get_int("vocab", c.vocab);
    c.context = spec.get_int("context", c.context);
    c.gated = spec.get_bool("gated", c.gated);
    c.fused_qkv = spec.get_bool("fused_qkv", c.fused_qkv);
    c.bias = spec.get_bool("bias", c.bias);
    AttentionLayout layout{c.n_head, c.n_kv_head, c.head_dim};
    check_attention_layout(layout);
    InputSpec input{InputSpec::Kind::kTokens, {c.context}, c.vocab, c.vocab};
    return std::make_unique<ZooModel>(
        std::make_shared<Gpt>(c),
        fmt::format("gpt(n_layer={}, n_head={}, n_kv_head={}, head_dim={}, d_model={}, d_ff={}, "
                    "vocab={}, context={}, gated={}, fused_qkv={}, bias={})",
                    c.n_layer, c.n_head, c.n_kv_head, c.head_dim, c.d_model, c.d_ff, c.vocab, c.context, c.gated,
                    c.fused_qkv, c.bias),
        input, std::vector<AttentionLayout>(c.n_layer, layout));
  };
  return e;
}

}  // namespace blockscope::models
