// Multi-head self-attention with grouped-query heads, written on the math
// path (softmax(QKᵀ/√d)V) because fused attention kernels have no double
// backward (docs/algorithms.md §1). Inputs x: [N, T, d_model] → [N, T, d_model].
//
// Separate projections are registered as q_proj [n_head·head_dim, d_model],
// k_proj / v_proj [n_kv_head·head_dim, d_model], o_proj [d_model,
// n_head·head_dim]; the fused variant registers c_attn [(n_head +
// 2·n_kv_head)·head_dim, d_model] with rows ordered q, k, v. head_dim need
// not equal d_model / n_head.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "models/model.h"

namespace blockscope::models {

struct AttentionConfig {
  std::int64_t d_model = 64;
  AttentionLayout layout;
  bool causal = true;
  bool fused_qkv = false;
  bool bias = false;
};

struct SelfAttention : torch::nn::Module {
  explicit SelfAttention(const AttentionConfig& config);
  at::Tensor forward(const at::Tensor& x);

  AttentionConfig config;
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, c_attn{nullptr}, o_proj{nullptr};
};

// Rejects head layouts that cannot work (n_head not a multiple of n_kv_head).
void check_attention_layout(const AttentionLayout& layout);

}  // namespace blockscope::models
