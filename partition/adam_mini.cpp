#include "partition/adam_mini.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace blockscope::partition {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool contains_any(const std::string& lowered, const std::vector<std::string>& substrings) {
  return std::any_of(substrings.begin(), substrings.end(),
                     [&](const std::string& s) { return lowered.find(lower(s)) != std::string::npos; });
}

void check_heads(const HeadConfig& heads, const TensorInfo& t) {
  if (heads.n_head <= 0 || heads.n_kv_head <= 0 || heads.head_dim <= 0 || heads.n_head % heads.n_kv_head != 0) {
    throw std::runtime_error(
        fmt::format("adam-mini: tensor '{}' {} is split per attention head, but the heads are not known (n_head={}, "
                    "n_kv_head={}, head_dim={}): give the number of heads n-heads (and the "
                    "head width head-dim unless it divides the rows; n-kv-heads under grouped-query attention)",
                    t.name, shape_string(t.shape), heads.n_head, heads.n_kv_head, heads.head_dim));
  }
}

// Fills in head_dim (or n_head) from the largest q/k tensor — a query has at
// least as many rows as a grouped key — or from a fused qkv tensor.
HeadConfig complete_heads(const std::vector<TensorInfo>& model, HeadConfig heads, const AdamMiniNames& names) {
  const bool kv_given = heads.n_kv_head > 0;
  if (!kv_given) heads.n_kv_head = heads.n_head;
  if ((heads.n_head > 0) == (heads.head_dim > 0)) return heads;  // both given, or nothing to derive from
  std::int64_t q_rows = 0, fused_rows = 0;
  for (const TensorInfo& t : model) {
    const AdamMiniRule rule = adam_mini_rule(t.name, t.shape.size(), names);
    if (rule == AdamMiniRule::per_head) q_rows = std::max(q_rows, t.shape[0]);
    if (rule == AdamMiniRule::fused_qkv && fused_rows == 0) fused_rows = t.shape[0];
  }
  if (heads.n_head > 0) {
    const std::int64_t ratio = heads.n_head + 2 * heads.n_kv_head;  // fused rows per head_dim
    if (q_rows > 0 && q_rows % heads.n_head == 0)
      heads.head_dim = q_rows / heads.n_head;
    else if (fused_rows > 0 && fused_rows % ratio == 0)
      heads.head_dim = fused_rows / ratio;
  } else if (q_rows > 0 && q_rows % heads.head_dim == 0) {
    heads.n_head = q_rows / heads.head_dim;
    if (!kv_given) heads.n_kv_head = heads.n_head;
  } else if (fused_rows > 0 && fused_rows % (3 * heads.head_dim) == 0) {
    heads.n_head = fused_rows / (3 * heads.head_dim);
    if (!kv_given) heads.n_kv_head = heads.n_head;
  }
  return heads;
}

// Elements in one row ([out, ...] → numel / out); 1 for an empty tensor.
std::int64_t row_length(const TensorInfo& t) { return t.shape[0] > 0 ? t.numel() / t.shape[0] : 1; }

TensorBlocks per_head_blocks(const TensorInfo& t, const HeadConfig& heads) {
  check_heads(heads, t);
  std::int64_t rows = t.shape[0];
  if (rows != heads.n_head * heads.head_dim && rows != heads.n_kv_head * heads.head_dim) {
    throw std::runtime_error(fmt::format(
        "adam-mini: tensor '{}' {} has {} rows, neither n_head·head_dim = {} nor "
        "n_kv_head·head_dim = {}; give the model's n_head, n_kv_head and head_dim",
        t.name, shape_string(t.shape), rows, heads.n_head * heads.head_dim, heads.n_kv_head * heads.head_dim));
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

nlohmann::json settings_json(const AdamMiniOptions& options, const HeadConfig& heads,
                             const std::vector<std::string>& unmatched) {
  const AdamMiniNames& n = options.names;
  return {{"reference", "zyushun/Adam-mini v1.1.x"},
          {"n_head", heads.n_head},
          {"n_kv_head", heads.n_kv_head},
          {"head_dim", heads.head_dim},
          {"unmatched", unmatched},
          {"bias_names", n.bias},
          {"fused_qkv_names", n.fused_qkv},
          {"query_key_names", n.query_key},
          {"embedding_names", n.embedding},
          {"output_names", n.output},
          {"value_names", n.value},
          {"attention_output_names", n.attention_output},
          {"mlp_names", n.mlp},
          {"positional_names", n.positional}};
}

}  // namespace

HeadConfig override_heads(HeadConfig base, const HeadConfig& given) {
  if (given.n_head > 0) base.n_head = given.n_head;
  if (given.n_kv_head > 0) base.n_kv_head = given.n_kv_head;
  if (given.head_dim > 0) base.head_dim = given.head_dim;
  return base;
}

std::vector<std::string> unmatched_tensor_warnings(const Partition& partition) {
  std::vector<std::string> lines;
  if (partition.strategy() != "adam-mini" || !partition.settings().contains("unmatched")) return lines;
  for (const auto& name : partition.settings()["unmatched"]) {
    lines.push_back(
        fmt::format("adam-mini: no name rule matched tensor '{}', so it shares one v over the whole tensor "
                    "(rename it, or check it is not an attention or MLP weight)",
                    name.get<std::string>()));
  }
  return lines;
}

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
  if (contains_any(n, names.embedding) || contains_any(n, names.output) || contains_any(n, names.value) ||
      contains_any(n, names.attention_output) || contains_any(n, names.mlp)) {
    return AdamMiniRule::per_row;
  }
  return AdamMiniRule::whole_tensor;
}

Partition adam_mini(const std::vector<TensorInfo>& model, const AdamMiniOptions& options) {
  const HeadConfig heads = complete_heads(model, options.heads, options.names);
  std::vector<TensorBlocks> tensors;
  std::vector<std::string> unmatched;
  tensors.reserve(model.size());
  for (const TensorInfo& t : model) {
    const AdamMiniRule rule = adam_mini_rule(t.name, t.shape.size(), options.names);
    if (rule == AdamMiniRule::whole_tensor && t.shape.size() >= 2 &&
        !contains_any(lower(t.name), options.names.positional)) {
      unmatched.push_back(t.name);
    }
    tensors.push_back(blocks_for(t, rule, heads));
  }
  number_consecutively(tensors);
  return Partition("adam-mini", settings_json(options, heads, unmatched), std::move(tensors));
}

}  // namespace blockscope::partition
