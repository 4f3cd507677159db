#include "models/zoo/attention.h"

#include <fmt/format.h>

#include <cmath>

namespace blockscope::models {

void check_attention_layout(const AttentionLayout& l) {
  if (l.n_kv_head > l.n_head || l.n_head % l.n_kv_head != 0) {
    throw std::runtime_error(
        fmt::format("n_head={} must be a multiple of n_kv_head={} (grouped-query attention)", l.n_head, l.n_kv_head));
  }
}

SelfAttention::SelfAttention(const AttentionConfig& c) : config(c) {
  check_attention_layout(c.layout);
  const std::int64_t q_width = c.layout.n_head * c.layout.head_dim;
  const std::int64_t kv_width = c.layout.n_kv_head * c.layout.head_dim;
  auto linear = [&](std::int64_t in, std::int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(c.bias));
  };
  if (c.fused_qkv) {
    c_attn = register_module("c_attn", linear(c.d_model, q_width + 2 * kv_width));
  } else {
    q_proj = register_module("q_proj", linear(c.d_model, q_width));
    k_proj = register_module("k_proj", linear(c.d_model, kv_width));
    v_proj = register_module("v_proj", linear(c.d_model, kv_width));
  }
  o_proj = register_module("o_proj", linear(q_width, c.d_model));
}

at::Tensor SelfAttention::forward(const at::Tensor& x) {
  const auto& l = config.layout;
  const std::int64_t n = x.size(0), t = x.size(1);
  at::Tensor q, k, v;
  if (config.fused_qkv) {
    std::vector<at::Tensor> parts = c_attn->forward(x).split_with_sizes(
        {l.n_head * l.head_dim, l.n_kv_head * l.head_dim, l.n_kv_head * l.head_dim}, -1);
    q = parts[0], k = parts[1], v = parts[2];
  } else {
    q = q_proj->forward(x), k = k_proj->forward(x), v = v_proj->forward(x);
  }
  q = q.view({n, t, l.n_head, l.head_dim}).transpose(1, 2);
  k = k.view({n, t, l.n_kv_head, l.head_dim}).transpose(1, 2);
  v = v.view({n, t, l.n_kv_head, l.head_dim}).transpose(1, 2);
  if (l.n_kv_head != l.n_head) {
    const std::int64_t group = l.n_head / l.n_kv_head;
    k = k.repeat_interleave(group, 1);
    v = v.repeat_interleave(group, 1);
  }
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(l.head_dim));
  if (config.causal) {
    at::Tensor future = at::ones({t, t}, x.options().dtype(at::kBool)).triu(1);
    scores = scores.masked_fill(future, -std::numeric_limits<double>::infinity());
  }
  at::Tensor y = at::matmul(at::softmax(scores, -1), v);
  return o_proj->forward(y.transpose(1, 2).reshape({n, t, l.n_head * l.head_dim}));
}

}  // namespace blockscope::models
