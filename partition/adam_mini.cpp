#include "partition/adam_mini.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace blockscope::partition {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool contains_any(const std::string& lowered, const std::vector<std::string>& substrings) {
  return std::any_of(substrings.begin(), substrings.end(), [&](const std::string& s) {
    return lowered.find(lower(s)) != std::string::npos;
  });
}

void check_heads(const HeadConfig& heads, const TensorInfo& t) {
  if (heads.n_head <= 0 || heads.n_kv_head <= 0 || heads.head_dim <= 0 ||
      heads.n_head % heads.n_kv_head != 0) {
    throw std::runtime_error(fmt::format(
        "adam-mini: tensor '{}' needs the attention heads but got n_head={}, n_kv_head={}, "
        "head_dim={}; give positive values with n_head a multiple of n_kv_head",
        t.name, heads.n_head, heads.n_kv_head, heads.head_dim));
  }
}

// Elements in one row ([out, ...] → numel / out); 1 for an empty tensor.
std::int64_t row_length(const TensorInfo& t) { return t.shape[0] > 0 ? t.numel() / t.shape[0] : 1; }

TensorBlocks per_head_blocks(const TensorInfo& t, const HeadConfig& heads) {
  check_heads(heads, t);
  std::int64_t rows = t.shape[0];
  if (rows != heads.n_head * heads.head_dim && rows != heads.n_kv_head * heads.head_dim) {
    throw std::runtime_error(
        fmt::format("adam-mini: tensor '{}' {} has {} rows, neither n_head·head_dim = {} nor "
                    "n_kv_head·head_dim = {}; give the model's n_head, n_kv_head and head_dim",
                    t.name, shape_string(t.shape), rows, heads.n_head * heads.head_dim,
                    heads.n_kv_head * heads.head_dim));
  }
  return TensorBlocks::uniform(t, heads.head_dim * row_length(t));
}

TensorBlocks fused_qkv_blocks(const TensorInfo& t, const HeadConfig& heads) {
  check_heads(heads, t);
  std::int64_t rows = t.shape[0];
  std::int64_t expected = (heads.n_head + 2 * heads.n_kv_head) * heads.head_dim;
  if (rows != expected) {
    throw std::runtime_error(
        fmt::format("adam-mini: fused qkv tensor '{}' {} has {} rows, not "
                    "(n_head + 2·n_kv_head)·head_dim = {}; give the model's n_head, n_kv_head "
                    "and head_dim",
                    t.name, shape_string(t.shape), rows, expected));
  }
  std::int64_t row = row_length(t);
  std::int64_t head = heads.head_dim * row;
  std::vector<std::int64_t> boundaries{0};
  auto add = [&](std::int64_t count, std::int64_t size) {
    for (std::int64_t i = 0; i < count; ++i) boundaries.push_back(boundaries.back() + size);
  };
  add(heads.n_head, head);                     // q: one block per head
  add(heads.n_kv_head, head);                  // k: one block per kv head
  add(heads.n_kv_head * heads.head_dim, row);  // v: one block per row (value rule)
  return TensorBlocks::explicit_ranges(t, std::move(boundaries));
}

TensorBlocks blocks_for(const TensorInfo& t, AdamMiniRule rule, const HeadConfig& heads) {
  switch (rule) {
    case AdamMiniRule::per_element:
      return TensorBlocks::uniform(t, 1);
    case AdamMiniRule::fused_qkv:
      return fused_qkv_blocks(t, heads);
    case AdamMiniRule::per_head:
      return per_head_blocks(t, heads);
    case AdamMiniRule::per_row:
      return TensorBlocks::uniform(t, row_length(t));
    case AdamMiniRule::whole_tensor:
      break;
  }
  return TensorBlocks::uniform(t, t.numel());
}

nlohmann::json settings_json(const AdamMiniOptions& options) {
  const AdamMiniNames& n = options.names;
  return {{"reference", "zyushun/Adam-mini v1.1.x"},
          {"n_head", options.heads.n_head},
          {"n_kv_head", options.heads.n_kv_head},
          {"head_dim", options.heads.head_dim},
          {"bias_names", n.bias},
          {"fused_qkv_names", n.fused_qkv},
          {"query_key_names", n.query_key},
          {"embedding_names", n.embedding},
          {"output_names", n.output},
          {"value_names", n.value},
          {"attention_output_names", n.attention_output},
          {"mlp_names", n.mlp}};
}

}  // namespace

const char* rule_name(AdamMiniRule rule) {
  switch (rule) {
    case AdamMiniRule::per_element:
      return "per-element";
    case AdamMiniRule::fused_qkv:
      return "fused-qkv";
    case AdamMiniRule::per_head:
      return "per-head";
    case AdamMiniRule::per_row:
      return "per-row";
    case AdamMiniRule::whole_tensor:
      break;
  }
  return "whole-tensor";
}

AdamMiniRule adam_mini_rule(const std::string& name, std::size_t ndim, const AdamMiniNames& names) {
  std::string n = lower(name);
  if (contains_any(n, names.bias)) return AdamMiniRule::per_element;
  if (ndim < 2) return AdamMiniRule::whole_tensor;
  if (contains_any(n, names.fused_qkv)) return AdamMiniRule::fused_qkv;
  if (contains_any(n, names.query_key)) return AdamMiniRule::per_head;
  if (contains_any(n, names.embedding) || contains_any(n, names.output) ||
      contains_any(n, names.value) || contains_any(n, names.attention_output) ||
      contains_any(n, names.mlp)) {
    return AdamMiniRule::per_row;
  }
  return AdamMiniRule::whole_tensor;
}

Partition adam_mini(const std::vector<TensorInfo>& model, const AdamMiniOptions& options) {
  std::vector<TensorBlocks> tensors;
  tensors.reserve(model.size());
  for (const TensorInfo& t : model) {
    tensors.push_back(
        blocks_for(t, adam_mini_rule(t.name, t.shape.size(), options.names), options.heads));
  }
  number_consecutively(tensors);
  return Partition("adam-mini", settings_json(options), std::move(tensors));
}

}  // namespace blockscope::partition
