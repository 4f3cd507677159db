// The Partition type: the simple strategies, shared ids, validation of the
// contract and against a model, HDF5 round trips and load errors, the JSON
// summary and the strategy factory.
#include <gtest/gtest.h>

#include <unistd.h>
#include "tests/cpp/error_message.h"

#include <fstream>

#include "gpt_models.h"
#include "io/h5_file.h"
#include "partition/strategies.h"

namespace blockscope::partition {
namespace {

using testing::gpt_fused_gated_bias_model;
using testing::gpt_model;

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("blockscope_partition_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

// Removes this process's temp_dir() after the last test.
class RemoveTempDir : public ::testing::Environment {
 public:
  void TearDown() override { std::filesystem::remove_all(temp_dir()); }
};
const ::testing::Environment* const kRemoveTempDir = ::testing::AddGlobalTestEnvironment(new RemoveTempDir);

// A matrix, a vector, a scalar and an empty tensor.
std::vector<TensorInfo> small_model() {
  return {{"a.weight", {2, 3}}, {"b.bias", {4}}, {"s", {}}, {"e.weight", {0, 5}}};
}

using blockscope::testing::error_of;

TEST(Partition, SimpleStrategies) {
  Partition element = per_element(small_model());
  EXPECT_EQ(element.num_blocks(), 11);
  EXPECT_EQ(element.num_parameters(), 11);
  EXPECT_EQ(element.block_sizes(), std::vector<std::int64_t>(11, 1));
  EXPECT_EQ(element.block_of(1, 2), 8);
  EXPECT_EQ(element.block_of(2, 0), 10);
  EXPECT_EQ(element.tensors()[3].num_ranges(), 0);

  Partition tensor = per_tensor(small_model());
  EXPECT_EQ(tensor.num_blocks(), 3);
  EXPECT_EQ(tensor.block_sizes(), (std::vector<std::int64_t>{6, 4, 1}));
  EXPECT_EQ(tensor.block_of(0, 5), 0);
  EXPECT_EQ(tensor.block_of(1, 0), 1);

  Partition whole = whole_model(small_model());
  EXPECT_EQ(whole.num_blocks(), 1);
  EXPECT_EQ(whole.block_sizes(), (std::vector<std::int64_t>{11}));
  EXPECT_EQ(whole.block_of(1, 3), 0);
  EXPECT_EQ(whole.block_of(2, 0), 0);
}

TEST(Partition, ExplicitIdsSharedAcrossTensors) {
  TensorBlocks w = TensorBlocks::explicit_ranges({"w", {2, 4}}, {0, 3, 8});
  w.block_ids = {1, 0};
  TensorBlocks v = TensorBlocks::uniform({"v", {4}}, 2);
  v.block_ids = {0, 1};
  Partition p("manual", {{"note", "shared"}}, {w, v});
  EXPECT_EQ(p.num_blocks(), 2);
  EXPECT_EQ(p.block_sizes(), (std::vector<std::int64_t>{5 + 2, 3 + 2}));
  EXPECT_EQ(p.block_of(0, 2), 1);
  EXPECT_EQ(p.block_of(0, 3), 0);
  EXPECT_EQ(p.block_of(1, 3), 1);
  BlockRange r = p.tensors()[0].range(1);
  EXPECT_EQ(r.begin, 3);
  EXPECT_EQ(r.end, 8);
  EXPECT_EQ(r.block, 0);
  EXPECT_EQ(p.tensor_index("v"), 1u);
  EXPECT_EQ(error_of([&] { p.tensor_index("x"); }),
            "tensor 'x' is not in the partition (made by 'manual' for 2 tensors); check the name "
            "or re-run blockscope partition for this model");
  EXPECT_THROW(p.block_of(0, 8), std::out_of_range);
  EXPECT_THROW(p.block_of(2, 0), std::out_of_range);
}

// place_blocks against brute force: every flat index of a layout (here the
// partition's tensors in reverse order) lies in exactly the block block_of says.
TEST(Partition, PlacedBlocksCoverTheFlatLayoutAsBlockOfSays) {
  TensorBlocks w = TensorBlocks::explicit_ranges({"w", {2, 4}}, {0, 3, 8});
  w.block_ids = {1, 0};
  TensorBlocks v = TensorBlocks::uniform({"v", {4}}, 2);
  v.block_ids = {0, 1};
  const Partition p("manual", {}, {w, v});
  const std::vector<TensorInfo> layout = {{"v", {4}}, {"w", {2, 4}}};  // v at [0, 4), w at [4, 12)
  const auto placed = place_blocks(p, layout);
  ASSERT_EQ(placed.size(), 2u);
  std::vector<std::int64_t> block_at(12, -1);
  for (std::size_t b = 0; b < placed.size(); ++b) {
    std::int64_t last_end = -1;
    for (const PlacedRange& r : placed[b]) {
      EXPECT_GE(r.global_begin(), last_end) << "ranges ascend";
      last_end = r.global_end();
      for (std::int64_t i = r.global_begin(); i < r.global_end(); ++i) {
        EXPECT_EQ(block_at[i], -1) << "index " << i << " placed twice";
        block_at[i] = static_cast<std::int64_t>(b);
      }
    }
  }
  for (std::int64_t i = 0; i < 4; ++i) EXPECT_EQ(block_at[i], p.block_of(p.tensor_index("v"), i)) << i;
  for (std::int64_t i = 0; i < 8; ++i) EXPECT_EQ(block_at[4 + i], p.block_of(p.tensor_index("w"), i)) << i;
  EXPECT_THROW(place_blocks(p, {{"v", {4}}}), std::runtime_error);  // a layout without w
}

TEST(Partition, ContractViolationsAreRejected) {
  TensorBlocks gap = TensorBlocks::uniform({"w", {6}}, 2);
  gap.block_ids = {0, 2, 2};
  EXPECT_EQ(error_of([&] { Partition("manual", {}, {gap}); }),
            "invalid partition: block id 1 is unused although ids go up to 2; ids must be 0..2");
  TensorBlocks huge = TensorBlocks::uniform({"w", {4}}, 2);
  huge.block_ids = {0, std::int64_t{1} << 50};  // rejected before any [num_blocks] allocation
  EXPECT_EQ(error_of([&] { Partition("manual", {}, {huge}); }),
            "invalid partition: block ids go up to 1125899906842624 but there are only 2 ranges; "
            "ids must be 0..B-1, each used");
  EXPECT_EQ(error_of([] {
              Partition("manual", {}, {TensorBlocks::uniform({"w", {10}}, 3)});
            }),
            "invalid partition: tensor 'w' has 10 elements, not a multiple of its period 3");
  EXPECT_EQ(error_of([] {
              Partition("manual", {}, {TensorBlocks::explicit_ranges({"w", {10}}, {0, 4, 9})});
            }),
            "invalid partition: tensor 'w' boundaries must run from 0 to its 10 elements");
  EXPECT_EQ(error_of([] {
              Partition("manual", {}, {TensorBlocks::explicit_ranges({"w", {10}}, {0, 4, 4, 10})});
            }),
            "invalid partition: tensor 'w' boundaries are not strictly increasing at index 2");
  EXPECT_EQ(error_of([] {
              Partition("manual", {}, {TensorBlocks::uniform({"w", {4}}, 1), TensorBlocks::uniform({"w", {4}}, 1)});
            }),
            "invalid partition: tensor 'w' appears twice");
  EXPECT_EQ(error_of([] {
              Partition("manual", {{"nested", {{"a", 1}}}}, {});
            }),
            "invalid partition: setting 'nested' must be a string, number, boolean or list of "
            "strings");
}

TEST(Partition, ValidateAgainstModel) {
  Partition p = adam_mini(gpt_model(), {AdamMiniNames{}, HeadConfig{4, 2, 16}});
  std::vector<TensorInfo> model = gpt_model();
  EXPECT_NO_THROW(p.validate_against(model));
  std::reverse(model.begin(), model.end());  // order does not matter, names do
  EXPECT_NO_THROW(p.validate_against(model));

  // gpt:d_model=128 has the same names and other shapes.
  std::vector<TensorInfo> wider = gpt_model();
  wider[0].shape = {256, 128};
  EXPECT_EQ(error_of([&] { p.validate_against(wider); }),
            "partition was made for another model: tensor 'wte.weight' has shape [256, 64] in the "
            "partition but [256, 128] in the model; re-run blockscope partition for this model");
  // gpt:fused_qkv=true,... has tensors the partition lacks.
  EXPECT_EQ(error_of([&] { p.validate_against(gpt_fused_gated_bias_model()); }),
            "partition was made for another model: the model's tensor "
            "'layers.0.attn.c_attn.weight' [128, 64] is not in the partition; re-run blockscope "
            "partition for this model");
  std::vector<TensorInfo> fewer = gpt_model();
  fewer.pop_back();
  EXPECT_EQ(error_of([&] { p.validate_against(fewer); }),
            "partition was made for another model: tensor 'lm_head.weight' of the partition is not "
            "in the model; re-run blockscope partition for this model");
}

TEST(Partition, Summary) {
  nlohmann::json s = per_tensor(small_model()).summary();
  EXPECT_EQ(s["strategy"], "per-tensor");
  EXPECT_EQ(s["v_scalars"], 3);
  EXPECT_EQ(s["num_parameters"], 11);
  ASSERT_EQ(s["tensors"].size(), 4u);
  EXPECT_EQ(s["tensors"][0]["name"], "a.weight");
  EXPECT_EQ(s["tensors"][0]["shape"], (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(s["tensors"][0]["blocks"], 1);
  EXPECT_EQ(s["tensors"][0]["period"], 6);
  nlohmann::json a = adam_mini(gpt_model(), {AdamMiniNames{}, HeadConfig{4, 2, 16}}).summary();
  EXPECT_EQ(a["v_scalars"], 1682);
  EXPECT_EQ(a["settings"]["query_key_names"][0], "k_proj");
  EXPECT_EQ(nlohmann::json::parse(a.dump()), a);
}

TEST(PartitionFile, RoundTrips) {
  TensorBlocks w = TensorBlocks::explicit_ranges({"w", {2, 4}}, {0, 3, 8});
  w.block_ids = {1, 0};
  TensorBlocks v = TensorBlocks::uniform({"v", {4}}, 2);
  v.block_ids = {0, 1};
  nlohmann::json settings = {{"flag", true}, {"off", false},        {"ratio", 0.125},
                             {"count", 7},   {"names", {"a", "b"}}, {"none", nlohmann::json::array()}};
  std::vector<float> gradient(16 * 24, 1.0f);
  std::vector<Partition> partitions = {Partition("manual", settings, {w, v}),
                                       adam_mini(gpt_fused_gated_bias_model(), {AdamMiniNames{}, HeadConfig{4, 2, 16}}),
                                       whole_model(small_model()), per_element(small_model()),
                                       gefen({{"g", {16, 24}}}, {{gradient.data(), 16 * 24}}, {GefenRule::v1_1_1})};
  for (const Partition& p : partitions) {
    auto path = temp_dir() / (p.strategy() + ".h5");
    p.save(path);
    Partition loaded = Partition::load(path);
    EXPECT_TRUE(loaded == p) << p.strategy();
    EXPECT_EQ(loaded.summary(), p.summary()) << p.strategy();
    EXPECT_EQ(loaded.block_sizes(), p.block_sizes()) << p.strategy();
  }
}

TEST(PartitionFile, LoadErrors) {
  auto dir = temp_dir();
  auto missing = dir / "missing.h5";
  EXPECT_EQ(error_of([&] { Partition::load(missing); }), "file not found: " + missing.string() + " (check the path)");

  auto garbage = dir / "garbage.h5";
  std::ofstream(garbage) << "not an hdf5 file at all";
  EXPECT_EQ(error_of([&] { Partition::load(garbage); }),
            garbage.string() + " is not an HDF5 file (corrupt or another format; blockscope reads .h5 files)");

  auto spectrum = dir / "spectrum.h5";
  {
    io::AtomicH5Writer writer(spectrum, "blockscope.spectrum/1");
    writer.commit();
  }
  EXPECT_EQ(error_of([&] { Partition::load(spectrum); }),
            spectrum.string() +
                " is not a partition file this blockscope reads: its schema is "
                "'blockscope.spectrum/1', expected 'blockscope.partition/1' (make one with blockscope "
                "partition)");

  // A saved file edited afterwards: tensor 0's period no longer divides it.
  auto edited = dir / "edited.h5";
  per_tensor(small_model()).save(edited);
  {
    H5::H5File file(edited.string(), H5F_ACC_RDWR);
    H5::Group group = file.openGroup("/tensors/0");
    io::set_attribute(group, "period", std::int64_t{4});
  }
  EXPECT_EQ(error_of([&] { Partition::load(edited); }),
            "partition file " + edited.string() +
                " is inconsistent: invalid partition: tensor "
                "'a.weight' has 6 elements, not a multiple of its period 4 (the file is damaged; re-run "
                "blockscope partition)");

  // A tensor group removed.
  per_tensor(small_model()).save(edited);
  {
    H5::H5File file(edited.string(), H5F_ACC_RDWR);
    file.unlink("/tensors/2");
  }
  EXPECT_EQ(error_of([&] { Partition::load(edited); }), "partition file " + edited.string() +
                                                            " is inconsistent: group /tensors/2 is missing "
                                                            "(the file is damaged; re-run blockscope partition)");

  // The recorded block count disagrees with the ranges.
  per_tensor(small_model()).save(edited);
  {
    H5::H5File file(edited.string(), H5F_ACC_RDWR);
    H5::Group root = file.openGroup("/");
    io::set_attribute(root, "num_blocks", std::int64_t{5});
  }
  EXPECT_EQ(error_of([&] { Partition::load(edited); }),
            "partition file " + edited.string() +
                " is inconsistent: it records 5 blocks but its "
                "ranges use 3 (the file is damaged; re-run blockscope partition)");
}

TEST(StrategyRegistry, NamesUnknownNameAndExtension) {
  StrategyRegistry registry;
  EXPECT_EQ(registry.names(),
            (std::vector<std::string>{"per-element", "per-tensor", "whole-model", "adam-mini", "gefen"}));
  StrategyInputs inputs;
  inputs.model = gpt_model();
  inputs.adam_mini.heads = {4, 2, 16};
  EXPECT_EQ(error_of([&] { registry.make("adam_mini", inputs); }),
            "unknown partition strategy 'adam_mini' (valid: per-element, per-tensor, whole-model, "
            "adam-mini, gefen)");
  EXPECT_TRUE(registry.make("adam-mini", inputs) == adam_mini(inputs.model, inputs.adam_mini));
  EXPECT_EQ(registry.make("whole-model", inputs).num_blocks(), 1);
  EXPECT_THROW(registry.make("gefen", inputs), std::runtime_error);  // no gradients given

  // A strategy with its own data (as the Hessian-driven one will be) is added
  // by capturing that data.
  std::int64_t period = 64;
  registry.add("fixed-period", "blocks of a fixed period", [period](const StrategyInputs& in) {
    std::vector<TensorBlocks> tensors;
    for (const TensorInfo& t : in.model) {
      tensors.push_back(TensorBlocks::uniform(t, t.numel() % period == 0 ? period : t.numel()));
    }
    number_consecutively(tensors);
    return Partition("fixed-period", {{"period", period}}, std::move(tensors));
  });
  EXPECT_EQ(registry.help("fixed-period"), "blocks of a fixed period");
  EXPECT_EQ(registry.make("fixed-period", inputs).num_blocks(), 127616 / 64);
  EXPECT_EQ(error_of([&] { registry.add("gefen", "", {}); }), "partition strategy 'gefen' is already registered");
}

}  // namespace
}  // namespace blockscope::partition
