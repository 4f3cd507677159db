// Adam-mini partition: the rule table on the gpt zoo models (ground truth
// from docs/algorithms.md §5 worked by hand), GQA with head_dim ≠ d_model/n_head,
// fused qkv sections, the reference's check order and the head-config errors.
#include "partition/adam_mini.h"

#include <gtest/gtest.h>

#include <map>

#include "gpt_models.h"

namespace blockscope::partition {
namespace {

using testing::gpt_fused_gated_bias_model;
using testing::gpt_model;

struct Expected {
  AdamMiniRule rule;
  std::int64_t ranges;
  std::int64_t period;  // 0: explicit boundaries
};

// "layers.1.attn.q_proj.weight" → "attn.q_proj.weight".
std::string short_name(const std::string& name) {
  if (name.rfind("layers.", 0) != 0) return name;
  return name.substr(name.find('.', 7) + 1);
}

HeadConfig gpt_heads() { return {4, 2, 16}; }

void expect_table(const Partition& p, const std::map<std::string, Expected>& table) {
  for (const TensorBlocks& t : p.tensors()) {
    auto it = table.find(short_name(t.tensor.name));
    ASSERT_NE(it, table.end()) << t.tensor.name << " missing from the expected table";
    const Expected& e = it->second;
    EXPECT_EQ(adam_mini_rule(t.tensor.name, t.tensor.shape.size(), AdamMiniNames{}), e.rule)
        << t.tensor.name << " got " << rule_name(adam_mini_rule(t.tensor.name, t.tensor.shape.size(), AdamMiniNames{}));
    EXPECT_EQ(t.num_ranges(), e.ranges) << t.tensor.name;
    EXPECT_EQ(t.period, e.period) << t.tensor.name;
  }
}

TEST(AdamMini, GptRuleTable) {
  Partition p = adam_mini(gpt_model(), {AdamMiniNames{}, gpt_heads()});
  using R = AdamMiniRule;
  expect_table(p, {{"wte.weight", {R::per_row, 256, 64}},       // one block per token
                   {"wpe.weight", {R::whole_tensor, 1, 4096}},  // positional: no rule matches
                   {"attn_norm.weight", {R::whole_tensor, 1, 64}},
                   {"attn_norm.bias", {R::per_element, 64, 1}},
                   {"attn.q_proj.weight", {R::per_head, 4, 1024}},  // n_head=4 × (16·64)
                   {"attn.k_proj.weight", {R::per_head, 2, 1024}},  // n_kv_head=2 under GQA
                   {"attn.v_proj.weight", {R::per_row, 32, 64}},
                   {"attn.o_proj.weight", {R::per_row, 64, 64}},
                   {"mlp_norm.weight", {R::whole_tensor, 1, 64}},  // "mlp" but 1-D
                   {"mlp_norm.bias", {R::per_element, 64, 1}},
                   {"mlp.up_proj.weight", {R::per_row, 256, 64}},
                   {"mlp.down_proj.weight", {R::per_row, 64, 256}},
                   {"final_norm.weight", {R::whole_tensor, 1, 64}},
                   {"final_norm.bias", {R::per_element, 64, 1}},
                   {"lm_head.weight", {R::per_row, 256, 64}}});
  // 256 + 1 + 2·(1 + 64 + 4 + 2 + 32 + 64 + 1 + 64 + 256 + 64) + 1 + 64 + 256.
  EXPECT_EQ(p.num_blocks(), 1682);
  EXPECT_EQ(p.num_parameters(), 127616);
  EXPECT_EQ(p.strategy(), "adam-mini");
  EXPECT_EQ(p.settings()["n_kv_head"], 2);
  // Block ids run consecutively in model order.
  EXPECT_EQ(p.block_of(0, 0), 0);
  EXPECT_EQ(p.block_of(0, 64), 1);
  EXPECT_EQ(p.block_of(1, 4095), 256);
  EXPECT_EQ(p.block_of(p.num_tensors() - 1, 16383), 1681);
}

TEST(AdamMini, FusedQkvGatedBiasGpt) {
  Partition p = adam_mini(gpt_fused_gated_bias_model(), {AdamMiniNames{}, gpt_heads()});
  using R = AdamMiniRule;
  expect_table(p, {{"wte.weight", {R::per_row, 256, 64}},
                   {"wpe.weight", {R::whole_tensor, 1, 4096}},
                   {"attn_norm.weight", {R::whole_tensor, 1, 64}},
                   {"attn_norm.bias", {R::per_element, 64, 1}},
                   {"attn.c_attn.weight", {R::fused_qkv, 4 + 2 + 32, 0}},
                   {"attn.c_attn.bias", {R::per_element, 128, 1}},
                   {"attn.o_proj.weight", {R::per_row, 64, 64}},
                   {"attn.o_proj.bias", {R::per_element, 64, 1}},
                   {"mlp_norm.weight", {R::whole_tensor, 1, 64}},
                   {"mlp_norm.bias", {R::per_element, 64, 1}},
                   {"mlp.up_proj.weight", {R::per_row, 256, 64}},
                   {"mlp.up_proj.bias", {R::per_element, 256, 1}},
                   {"mlp.gate_proj.weight", {R::per_row, 256, 64}},
                   {"mlp.gate_proj.bias", {R::per_element, 256, 1}},
                   {"mlp.down_proj.weight", {R::per_row, 64, 256}},
                   {"mlp.down_proj.bias", {R::per_element, 64, 1}},
                   {"final_norm.weight", {R::whole_tensor, 1, 64}},
                   {"final_norm.bias", {R::per_element, 64, 1}},
                   {"lm_head.weight", {R::per_row, 256, 64}}});
  EXPECT_EQ(p.num_blocks(), 3730);
  EXPECT_EQ(p.num_parameters(), 161920);

  // c_attn [128, 64] = q rows 0..63 (4 heads), k rows 64..95 (2 kv heads),
  // v rows 96..127 (one block per row).
  const TensorBlocks& qkv = p.tensors()[p.tensor_index("layers.0.attn.c_attn.weight")];
  for (std::int64_t k = 0; k < 6; ++k) {
    EXPECT_EQ(qkv.range(k).begin, k * 1024);
    EXPECT_EQ(qkv.range(k).size(), 1024);
  }
  for (std::int64_t k = 6; k < 38; ++k) {
    EXPECT_EQ(qkv.range(k).begin, 6144 + (k - 6) * 64);
    EXPECT_EQ(qkv.range(k).size(), 64);
  }
  EXPECT_EQ(qkv.range(37).end, 8192);
}

TEST(AdamMini, GqaWithHeadDimNotDModelOverNHead) {
  // d_model = 48, n_head = 4, n_kv_head = 2, head_dim = 16 (48/4 = 12 ≠ 16).
  // The reference would cut q into runs of 48·48/4 = 576 elements, which is
  // not a head; a head here is 16 rows · 48 inputs = 768 elements.
  std::vector<TensorInfo> model = {{"attn.q_proj.weight", {64, 48}},
                                   {"attn.k_proj.weight", {32, 48}},
                                   {"attn.v_proj.weight", {32, 48}},
                                   {"attn.o_proj.weight", {48, 64}}};
  Partition p = adam_mini(model, {AdamMiniNames{}, HeadConfig{4, 2, 16}});
  EXPECT_EQ(p.tensors()[0].num_ranges(), 4);
  EXPECT_EQ(p.tensors()[0].period, 768);
  EXPECT_EQ(p.tensors()[1].num_ranges(), 2);
  EXPECT_EQ(p.tensors()[1].period, 768);
  EXPECT_EQ(p.tensors()[2].num_ranges(), 32);
  EXPECT_EQ(p.tensors()[3].num_ranges(), 48);
  EXPECT_EQ(p.tensors()[3].period, 64);
  EXPECT_EQ(p.block_of(0, 767), 0);
  EXPECT_EQ(p.block_of(0, 768), 1);
  EXPECT_EQ(p.block_of(1, 0), 4);
  EXPECT_EQ(p.num_blocks(), 4 + 2 + 32 + 48);
}

TEST(AdamMini, CheckOrderAndLowerCasedNames) {
  AdamMiniNames names;
  using R = AdamMiniRule;
  EXPECT_EQ(adam_mini_rule("Model.Embed_Tokens.weight", 2, names), R::per_row);
  EXPECT_EQ(adam_mini_rule("blocks.0.attn.qkv.bias", 1, names), R::per_element);  // bias first
  EXPECT_EQ(adam_mini_rule("h.0.attn.c_attn.weight", 2, names), R::fused_qkv);
  EXPECT_EQ(adam_mini_rule("h.0.self_attn.Q_PROJ.weight", 2, names), R::per_head);
  EXPECT_EQ(adam_mini_rule("h.0.attention.wo.weight", 2, names), R::per_row);
  EXPECT_EQ(adam_mini_rule("blocks.0.attn.proj.weight", 2, names), R::per_row);
  EXPECT_EQ(adam_mini_rule("h.0.mlp.c_fc.weight", 2, names), R::per_row);
  EXPECT_EQ(adam_mini_rule("h.0.ln_1.weight", 1, names), R::whole_tensor);
  EXPECT_EQ(adam_mini_rule("output.weight", 2, names), R::per_row);
  EXPECT_EQ(adam_mini_rule("output.scale", 1, names), R::whole_tensor);  // 1-D never per row
  EXPECT_EQ(adam_mini_rule("h.0.attn.q_proj.weight", 0, names), R::whole_tensor);
  EXPECT_EQ(adam_mini_rule("conv1.weight", 4, names), R::whole_tensor);
  // An empty fused list is the reference: a fused qkv stays whole.
  names.fused_qkv.clear();
  EXPECT_EQ(adam_mini_rule("h.0.attn.c_attn.weight", 2, names), R::whole_tensor);
  // Configurable lists, compared lower-cased.
  names.mlp.push_back("C_FC");
  names.embedding.clear();
  EXPECT_EQ(adam_mini_rule("h.0.c_fc.weight", 2, names), R::per_row);
  EXPECT_EQ(adam_mini_rule("wte.weight", 2, names), R::whole_tensor);
}

TEST(AdamMini, PerRowOnConvWeightsCutsOutputChannels) {
  Partition p = adam_mini({{"features.mlp.weight", {8, 3, 3, 3}}}, {});
  EXPECT_EQ(p.tensors()[0].num_ranges(), 8);
  EXPECT_EQ(p.tensors()[0].period, 27);
}

// A user who knows only the head count: head_dim = q rows / n_head (64 / 4),
// the same partition as the full geometry; likewise n_head from head_dim.
TEST(AdamMini, DerivesTheMissingHeadDimensionFromTheQueryRows) {
  const Partition full = adam_mini(gpt_model(), {AdamMiniNames{}, HeadConfig{4, 2, 16}});
  const Partition from_heads = adam_mini(gpt_model(), {AdamMiniNames{}, HeadConfig{4, 2, 0}});
  const Partition from_dim = adam_mini(gpt_model(), {AdamMiniNames{}, HeadConfig{0, 2, 16}});
  EXPECT_TRUE(from_heads == full);
  EXPECT_EQ(from_heads.settings()["head_dim"], 16);
  EXPECT_TRUE(from_dim == full);
  EXPECT_EQ(from_dim.settings()["n_head"], 4);
}

// torch.nn.MultiheadAttention names: in_proj_weight is a fused qkv [3E, E],
// out_proj.weight the attention output; a weight no rule knows is reported.
TEST(AdamMini, MultiheadAttentionNamesAndUnmatchedWeights) {
  const std::vector<TensorInfo> model = {{"attn.in_proj_weight", {96, 32}},
                                         {"attn.in_proj_bias", {96}},
                                         {"attn.out_proj.weight", {32, 32}},
                                         {"wpe", {16, 32}},
                                         {"gate.scores", {8, 32}}};
  const Partition p = adam_mini(model, {AdamMiniNames{}, HeadConfig{4, 0, 0}});
  EXPECT_EQ(p.tensors()[0].num_ranges(), 4 + 4 + 32);  // q per head, k per head, v per row (head_dim 96 / 12 = 8)
  EXPECT_EQ(p.tensors()[1].num_ranges(), 96);          // bias: per element
  EXPECT_EQ(p.tensors()[2].num_ranges(), 32);          // attention output: per row
  EXPECT_EQ(p.settings()["unmatched"], nlohmann::json::array({"gate.scores"}));  // wpe is positional, by design whole
  const std::vector<std::string> warnings = unmatched_tensor_warnings(p);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("'gate.scores'"), std::string::npos);
}

TEST(AdamMini, HeadConfigErrorsNameTheTensor) {
  std::vector<TensorInfo> model = gpt_model();
  try {
    adam_mini(model, {});
    FAIL() << "expected a missing head config to throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "adam-mini: tensor 'layers.0.attn.q_proj.weight' [64, 64] is split per attention head, but the "
                 "heads are not known (n_head=0, n_kv_head=0, head_dim=0): give the number of heads n-heads (and "
                 "the head width head-dim unless it divides the rows; n-kv-heads under grouped-query attention)");
  }
  try {
    adam_mini(model, {AdamMiniNames{}, HeadConfig{4, 2, 8}});
    FAIL() << "expected a wrong head_dim to throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "adam-mini: tensor 'layers.0.attn.q_proj.weight' [64, 64] has 64 rows, neither "
                 "n_head·head_dim = 32 nor n_kv_head·head_dim = 16; give the model's n_head, "
                 "n_kv_head and head_dim");
  }
  EXPECT_THROW(adam_mini(gpt_fused_gated_bias_model(), {AdamMiniNames{}, HeadConfig{4, 4, 16}}), std::runtime_error);
}

}  // namespace
}  // namespace blockscope::partition
