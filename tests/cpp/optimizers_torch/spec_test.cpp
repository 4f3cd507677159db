// Optimizer spec strings: presets, overrides, canonical round trip, errors.
#include <gtest/gtest.h>

#include "optimizers/spec.h"

namespace blockscope::optimizers {
namespace {

TEST(OptimizerSpec, PresetsMatchTheReferences) {
  EXPECT_EQ(parse_optimizer_spec("adamw").to_string(), "v=element,m=fp32,w=fp32,exclude=none,p1=reference");
  EXPECT_EQ(parse_optimizer_spec("adam-mini").to_string(), "v=shared,m=fp32,w=fp32,exclude=norm:ln:bias,p1=reference");
  EXPECT_EQ(parse_optimizer_spec("gefen").to_string(), "v=shared,m=codebook,w=fp32,exclude=norm:ln:bias,p1=reference");
  EXPECT_EQ(parse_optimizer_spec("flash-adamw").to_string(),
            "v=companded,m=companded,w=bf16+int8,exclude=none,p1=reference");
}

TEST(OptimizerSpec, OverridesAndRoundTrip) {
  const OptimizerSpec s = parse_optimizer_spec("v=shared,m=codebook,w=fp32");
  EXPECT_EQ(s.v, SecondMoment::shared);
  EXPECT_EQ(s.m, FirstMoment::codebook);
  EXPECT_TRUE(s.decay_exclude.empty());  // on top of adamw: no exclusion
  const OptimizerSpec g = parse_optimizer_spec("gefen,exclude=none,p1=fixed,w=bf16+int16");
  EXPECT_EQ(g.w, WeightStorage::bf16_int16);
  EXPECT_FALSE(g.codebook_p1_quirk);
  EXPECT_EQ(parse_optimizer_spec(g.to_string()), g);
  EXPECT_EQ(default_partition_strategy(parse_optimizer_spec("gefen")), "gefen");
  EXPECT_EQ(default_partition_strategy(parse_optimizer_spec("adam-mini")), "adam-mini");
  EXPECT_EQ(default_partition_strategy(parse_optimizer_spec("flash-adamw")), "per-element");
}

TEST(OptimizerSpec, DecayMaskIsCaseInsensitiveSubstring) {
  const OptimizerSpec s = parse_optimizer_spec("adam-mini");
  EXPECT_FALSE(s.decays("layers.0.attn_norm.weight"));
  EXPECT_FALSE(s.decays("ln_f.weight"));
  EXPECT_FALSE(s.decays("fc.Bias"));
  EXPECT_TRUE(s.decays("fc.weight"));
  EXPECT_TRUE(parse_optimizer_spec("adamw").decays("fc.bias"));
}

TEST(OptimizerSpec, UnknownNamesListTheValidOnes) {
  try {
    parse_optimizer_spec("lion");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("adamw, adam-mini, gefen, flash-adamw"), std::string::npos) << e.what();
  }
  try {
    parse_optimizer_spec("v=half");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("valid: element, shared, companded"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_optimizer_spec("q=1"), std::invalid_argument);
  EXPECT_THROW(parse_optimizer_spec("v=shared,adamw"), std::invalid_argument);  // preset only first
  EXPECT_THROW(parse_optimizer_spec("exclude=norm::ln"), std::invalid_argument);
}

}  // namespace
}  // namespace blockscope::optimizers
