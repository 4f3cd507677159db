// Adam-mini partition (reference: zyushun/Adam-mini v1.1.x;
// docs/algorithms.md §5). Each tensor gets one rule from its lower-cased
// name, checked in this order (substrings are lower-cased too):
//   1. bias          → per element (plain Adam)
//   2. fused qkv     → rows split into q | k | v sections ([(n_head + 2·n_kv_head)·head_dim,
//   d_in]):
//                      q one block per head, k one per kv head, v one per row.
//                      Not in the reference (which leaves a fused qkv whole);
//                      an empty fused_qkv list restores that.
//   3. q / k         → one block per head: contiguous runs of head_dim·d_in
//                      elements; the number of heads is rows / head_dim, which
//                      must be n_head (q) or n_kv_head (k under GQA). Correct
//                      for head_dim ≠ d_model / n_head, unlike the reference.
//   4. embedding, output, value, attention output, MLP → one block per row
//      (token or output neuron); weights are [out, in], a row is numel / shape[0].
//   5. anything else (norms, positional embeddings) → the whole tensor; a
//      tensor of ≥ 2 dimensions that lands here is listed in the settings'
//      "unmatched" entry, since it is usually a weight whose name no rule knows.
// Names cover the zoo, the reference's models and torch.nn.MultiheadAttention
// (in_proj_weight is a fused qkv [3·E, E]; out_proj the attention output).
// Head geometry: a missing head_dim is derived from the q (or fused qkv)
// rows when they divide by n_head; a missing n_head likewise from head_dim;
// n_kv_head defaults to n_head.
// Rules 2–4 need ndim ≥ 2: a 0-D or 1-D tensor never takes a per-row or
// per-head rule (the reference crashes there) and falls to rule 5.
// Weight decay masks (norm / ln / bias) are the optimizer's business, not the
// partition's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partition/partition.h"

namespace blockscope::partition {

// The reference's default name sets, plus the fused-qkv set.
struct AdamMiniNames {
  std::vector<std::string> bias = {"bias"};
  std::vector<std::string> fused_qkv = {"c_attn", "qkv", "in_proj"};
  std::vector<std::string> query_key = {"k_proj", "q_proj", "wq", "wk", "query", "key"};
  std::vector<std::string> embedding = {"embed", "embd", "wte"};
  std::vector<std::string> output = {"lm_head", "output", "final_layer"};
  std::vector<std::string> value = {"v_proj", "wv", "value"};
  std::vector<std::string> attention_output = {"o_proj", "wo", "attn.proj", "out_proj"};
  std::vector<std::string> mlp = {"feed_forward", "linear", "mlp"};
  // Whole tensor by design (rule 5), not reported as unmatched.
  std::vector<std::string> positional = {"wpe", "pos_emb", "position"};
};

// One attention configuration shared by every layer (0 = not given; needed
// only when a q/k or fused-qkv tensor is present).
struct HeadConfig {
  std::int64_t n_head = 0;
  std::int64_t n_kv_head = 0;  // grouped-query attention: n_head % n_kv_head == 0
  std::int64_t head_dim = 0;   // need not be d_model / n_head
};

// `base` with every positive field of `given` taken instead (a user's
// --n-heads/--n-kv-heads/--head-dim over what a zoo model declares).
HeadConfig override_heads(HeadConfig base, const HeadConfig& given);

// One warning line per entry of an adam-mini partition's "unmatched"
// setting (≥ 2-D tensors no name rule matched); empty for other partitions.
std::vector<std::string> unmatched_tensor_warnings(const Partition& partition);

struct AdamMiniOptions {
  AdamMiniNames names;
  HeadConfig heads;
};

enum class AdamMiniRule { per_element, fused_qkv, per_head, per_row, whole_tensor };

// "per-element", "fused-qkv", "per-head", "per-row", "whole-tensor".
const char* rule_name(AdamMiniRule rule);

// The rule a tensor called `name` with `ndim` dimensions gets (order above).
AdamMiniRule adam_mini_rule(const std::string& name, std::size_t ndim, const AdamMiniNames& names);

// Consecutive block ids in model order. Throws naming the tensor when a
// per-head or fused-qkv tensor does not fit `options.heads` (completed as
// above).
Partition adam_mini(const std::vector<TensorInfo>& model, const AdamMiniOptions& options);

}  // namespace blockscope::partition
