// Exact checkpoints: a resumed run is bitwise identical to an uninterrupted
// one for every preset; a checkpoint of another model, partition or spec is
// rejected with one line and changes nothing.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/h5_file.h"
#include "optimizers/checkpoint.h"
#include "test_support.h"

namespace blockscope::optimizers {
namespace {

using namespace testing;

BlockOptimizerOptions options() { return BlockOptimizerOptions(3e-3).betas({0.9, 0.99}).weight_decay(0.05); }

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()) + ".h5");
}

void expect_same_state(const BlockOptimizer& a, const BlockOptimizer& b) {
  const OptimizerState &x = a.state_tensors(), &y = b.state_tensors();
  ASSERT_EQ(x.tensors.size(), y.tensors.size());
  for (std::size_t i = 0; i < x.tensors.size(); ++i) {
    EXPECT_TRUE(bitwise_equal(x.tensors[i].m, y.tensors[i].m));
    EXPECT_TRUE(bitwise_equal(x.tensors[i].m_scale, y.tensors[i].m_scale));
    EXPECT_TRUE(bitwise_equal(x.tensors[i].v, y.tensors[i].v));
    EXPECT_TRUE(bitwise_equal(x.tensors[i].v_scale, y.tensors[i].v_scale));
    EXPECT_TRUE(bitwise_equal(x.tensors[i].rho, y.tensors[i].rho));
    EXPECT_EQ(x.tensors[i].step, y.tensors[i].step);
  }
  EXPECT_TRUE(bitwise_equal(x.shared_v, y.shared_v));
  EXPECT_EQ(x.codebook, y.codebook);
}

TEST(Checkpoint, ResumeIsBitwiseIdentical) {
  for (const std::string spec :
       {"adamw", "adam-mini", "gefen", "flash-adamw", "v=element,m=bf16,w=bf16+int16", "sgd", "flash-lion"}) {
    const auto path = temp_file("resume");
    auto straight = make_params(default_specs(), 21);
    const partition::Partition p = partition::per_tensor(infos(straight));
    BlockOptimizer a(straight, p, parse_optimizer_spec(spec), options());
    for (int t = 0; t < 8; ++t) {
      set_gradients(straight, t);
      a.step();
      if (t == 3) save_checkpoint(path, a);
    }
    auto resumed = make_params(default_specs(), 99);  // other values: all must come from the file
    BlockOptimizer b(resumed, p, parse_optimizer_spec(spec), options());
    load_checkpoint(path, b);
    for (int t = 4; t < 8; ++t) {
      set_gradients(resumed, t);
      b.step();
    }
    for (std::size_t i = 0; i < straight.size(); ++i) {
      EXPECT_TRUE(bitwise_equal(straight[i].tensor.detach(), resumed[i].tensor.detach()))
          << spec << " " << straight[i].name;
    }
    expect_same_state(a, b);
    std::filesystem::remove(path);
  }
}

std::string load_error(const std::filesystem::path& path, BlockOptimizer& opt) {
  try {
    load_checkpoint(path, opt);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Checkpoint, WrongCheckpointsAreRejectedWithOneLine) {
  const auto path = temp_file("wrong");
  auto params = make_params(default_specs(), 22);
  const partition::Partition p = partition::per_tensor(infos(params));
  BlockOptimizer a(params, p, parse_optimizer_spec("gefen"), options());
  set_gradients(params, 0);
  a.step();
  save_checkpoint(path, a);

  auto expect_rejected = [&](BlockOptimizer& opt, const std::string& fragment) {
    const OptimizerState before = opt.state_tensors();
    const std::string error = load_error(path, opt);
    EXPECT_NE(error.find(fragment), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    EXPECT_EQ(opt.state_tensors().tensors.front().step, before.tensors.front().step);
  };
  {  // another model
    auto specs = default_specs();
    specs[4].shape = {8, 32};
    auto other = make_params(specs, 1);
    BlockOptimizer opt(other, partition::per_tensor(infos(other)), parse_optimizer_spec("gefen"), options());
    expect_rejected(opt, "was written for another model: parameter 'head.weight' is [8, 64] there, [8, 32] here");
  }
  {  // another partition
    auto same = make_params(default_specs(), 1);
    BlockOptimizer opt(same, partition::per_element(infos(same)), parse_optimizer_spec("gefen"), options());
    expect_rejected(opt, "another partition");
  }
  {  // another spec
    auto same = make_params(default_specs(), 1);
    BlockOptimizer opt(same, p, parse_optimizer_spec("adam-mini"), options());
    expect_rejected(opt, "was written by optimizer rule=adam,v=shared,m=codebook");
  }
  {  // other betas
    auto same = make_params(default_specs(), 1);
    BlockOptimizer opt(same, p, parse_optimizer_spec("gefen"), options().betas({0.8, 0.99}));
    expect_rejected(opt, "beta1 = 0.9");
  }
  {  // not a checkpoint
    const auto other = temp_file("notckpt");
    {
      io::AtomicH5Writer w(other, "blockscope.params/1");
      w.commit();
    }
    auto same = make_params(default_specs(), 1);
    BlockOptimizer opt(same, p, parse_optimizer_spec("gefen"), options());
    const std::string error = load_error(other, opt);
    EXPECT_NE(error.find("not blockscope.checkpoint/1"), std::string::npos) << error;
    std::filesystem::remove(other);
  }
  std::filesystem::remove(path);
}

TEST(Checkpoint, CodebookIndicesWithoutCodebookAreRefused) {
  auto params = make_params(default_specs(), 23);
  BlockOptimizer a(params, partition::per_tensor(infos(params)), parse_optimizer_spec("gefen"), options());
  set_gradients(params, 0);
  a.step();
  OptimizerState state = a.state_tensors();
  state.codebook.clear();
  EXPECT_THROW(a.restore_state(state), std::runtime_error);
  EXPECT_EQ(a.state_tensors().codebook.size(), 256u);
}

}  // namespace
}  // namespace blockscope::optimizers
