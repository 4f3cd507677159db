// Optimizer spec strings: presets, overrides, canonical round trip, errors.
#include <gtest/gtest.h>

#include <utility>

#include "optimizers/spec.h"

namespace blockscope::optimizers {
namespace {

TEST(OptimizerSpec, PresetsMatchTheReferences) {
  EXPECT_EQ(parse_optimizer_spec("adamw").to_string(), "rule=adam,v=element,m=fp32,w=fp32,exclude=none,p1=reference");
  EXPECT_EQ(parse_optimizer_spec("adam-mini").to_string(),
            "rule=adam,v=shared,m=fp32,w=fp32,exclude=norm:ln:bias,p1=reference");
  EXPECT_EQ(parse_optimizer_spec("gefen").to_string(),
            "rule=adam,v=shared,m=codebook,w=fp32,exclude=norm:ln:bias,p1=reference");
  EXPECT_EQ(parse_optimizer_spec("flash-adamw").to_string(),
            "rule=adam,v=companded,m=companded,w=bf16+int8,exclude=none,p1=reference");
  EXPECT_EQ(parse_optimizer_spec("sgd").to_string(), "rule=sgd,v=none,m=fp32,w=fp32,exclude=none,p1=reference");
  EXPECT_EQ(parse_optimizer_spec("lion").to_string(), "rule=lion,v=none,m=fp32,w=fp32,exclude=none,p1=reference");
  EXPECT_EQ(parse_optimizer_spec("flash-sgd").to_string(),
            "rule=sgd,v=none,m=companded,w=bf16+int8,exclude=none,p1=reference");
  EXPECT_EQ(parse_optimizer_spec("flash-lion").to_string(),
            "rule=lion,v=none,m=companded,w=bf16+int8,exclude=none,p1=reference");
  // Spec strings written before the rule key existed read as rule adam.
  EXPECT_EQ(parse_optimizer_spec("v=element,m=fp32,w=fp32,exclude=none,p1=reference"), parse_optimizer_spec("adamw"));
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
  EXPECT_EQ(default_partition_strategy(parse_optimizer_spec("flash-lion")), "per-element");
  const OptimizerSpec l = parse_optimizer_spec("lion,m=bf16,w=bf16+int16");
  EXPECT_EQ(l.rule, UpdateRule::lion);
  EXPECT_EQ(l.m, FirstMoment::bf16);
  EXPECT_EQ(parse_optimizer_spec(l.to_string()), l);
}

TEST(OptimizerSpec, RulesAndStorageThatDoNotGoTogetherAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {"adamw,rule=sgd", "rule sgd keeps no second moment; set v=none"},
      {"lion,v=shared", "rule lion keeps no second moment; set v=none"},
      {"sgd,m=codebook", "rule sgd takes m=fp32, bf16 or companded"},
      {"v=none", "rule adam needs a second moment; set v=element, shared or companded"},
      {"rule=momentum", "unknown value 'momentum' for optimizer key 'rule' (valid: adam, sgd, lion)"},
  };
  for (const auto& [text, message] : cases) {
    try {
      parse_optimizer_spec(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << text << ": " << e.what();
    }
  }
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
    parse_optimizer_spec("adagrad");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("adamw, adam-mini, gefen, flash-adamw, sgd, lion, flash-sgd, flash-lion"),
              std::string::npos)
        << e.what();
  }
  try {
    parse_optimizer_spec("v=half");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("valid: element, shared, companded, none"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_optimizer_spec("q=1"), std::invalid_argument);
  EXPECT_THROW(parse_optimizer_spec("v=shared,adamw"), std::invalid_argument);  // preset only first
  EXPECT_THROW(parse_optimizer_spec("exclude=norm::ln"), std::invalid_argument);
}

}  // namespace
}  // namespace blockscope::optimizers
