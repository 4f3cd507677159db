// Parameter tables of the gpt zoo model, copied from
//   blockscope info --model gpt
//   blockscope info --model gpt:fused_qkv=true,gated=true,bias=true
// (n_layer=2, n_head=4, n_kv_head=2, head_dim=16, d_model=64, d_ff=256,
// vocab=256, context=64). Regenerate with those commands if the zoo changes.
#pragma once

#include <string>
#include <vector>

#include "partition/partition.h"

namespace blockscope::partition::testing {

inline std::vector<TensorInfo> gpt_model() {
  std::vector<TensorInfo> model = {{"wte.weight", {256, 64}}, {"wpe.weight", {64, 64}}};
  for (int layer = 0; layer < 2; ++layer) {
    std::string p = "layers." + std::to_string(layer) + ".";
    std::vector<TensorInfo> block = {{p + "attn_norm.weight", {64}},        {p + "attn_norm.bias", {64}},
                                     {p + "attn.q_proj.weight", {64, 64}},  {p + "attn.k_proj.weight", {32, 64}},
                                     {p + "attn.v_proj.weight", {32, 64}},  {p + "attn.o_proj.weight", {64, 64}},
                                     {p + "mlp_norm.weight", {64}},         {p + "mlp_norm.bias", {64}},
                                     {p + "mlp.up_proj.weight", {256, 64}}, {p + "mlp.down_proj.weight", {64, 256}}};
    model.insert(model.end(), block.begin(), block.end());
  }
  model.push_back({"final_norm.weight", {64}});
  model.push_back({"final_norm.bias", {64}});
  model.push_back({"lm_head.weight", {256, 64}});
  return model;
}

inline std::vector<TensorInfo> gpt_fused_gated_bias_model() {
  std::vector<TensorInfo> model = {{"wte.weight", {256, 64}}, {"wpe.weight", {64, 64}}};
  for (int layer = 0; layer < 2; ++layer) {
    std::string p = "layers." + std::to_string(layer) + ".";
    std::vector<TensorInfo> block = {{p + "attn_norm.weight", {64}},          {p + "attn_norm.bias", {64}},
                                     {p + "attn.c_attn.weight", {128, 64}},   {p + "attn.c_attn.bias", {128}},
                                     {p + "attn.o_proj.weight", {64, 64}},    {p + "attn.o_proj.bias", {64}},
                                     {p + "mlp_norm.weight", {64}},           {p + "mlp_norm.bias", {64}},
                                     {p + "mlp.up_proj.weight", {256, 64}},   {p + "mlp.up_proj.bias", {256}},
                                     {p + "mlp.gate_proj.weight", {256, 64}}, {p + "mlp.gate_proj.bias", {256}},
                                     {p + "mlp.down_proj.weight", {64, 256}}, {p + "mlp.down_proj.bias", {64}}};
    model.insert(model.end(), block.begin(), block.end());
  }
  model.push_back({"final_norm.weight", {64}});
  model.push_back({"final_norm.bias", {64}});
  model.push_back({"lm_head.weight", {256, 64}});
  return model;
}

}  // namespace blockscope::partition::testing
