// Data sources: determinism, shapes, the text corpus against its raw bytes,
// batching arithmetic, and fit checks against a model's input spec.
#include <gtest/gtest.h>

#include "tests/cpp/error_message.h"

#include "data/sources.h"
#include "data/text_corpus.h"

namespace blockscope::data {
namespace {

const InputSpec kFeatures{InputSpec::Kind::kFeatures, {6}, 0, 3};
const InputSpec kImages{InputSpec::Kind::kImage, {3, 8, 8}, 0, 5};
const InputSpec kTokens{InputSpec::Kind::kTokens, {16}, 256, 256};

using blockscope::testing::error_of;

TEST(Sources, SameSeedSameData) {
  for (const char* name : {"mixture", "images", "markov", "text"}) {
    SCOPED_TRACE(name);
    const InputSpec& spec = std::string(name) == "mixture"  ? kFeatures
                            : std::string(name) == "images" ? kImages
                                                            : kTokens;
    SourceOptions a{64, 0, 11}, b{64, 0, 11}, c{64, 0, 12};
    Dataset x = load_dataset(name, spec, a), y = load_dataset(name, spec, b), z = load_dataset(name, spec, c);
    EXPECT_TRUE(at::equal(x.inputs, y.inputs));
    EXPECT_TRUE(at::equal(x.targets, y.targets));
    EXPECT_FALSE(at::equal(x.inputs, z.inputs));
    EXPECT_NO_THROW(check_dataset_fits(x, spec));
  }
}

TEST(Sources, ShapesFollowTheModel) {
  Dataset m = load_dataset("auto", kFeatures, {32, 0, 0});
  EXPECT_EQ(m.inputs.sizes(), (at::IntArrayRef{32, 6}));
  EXPECT_EQ(m.targets.sizes(), (at::IntArrayRef{32}));
  Dataset i = load_dataset("auto", kImages, {10, 0, 0});
  EXPECT_EQ(i.inputs.sizes(), (at::IntArrayRef{10, 3, 8, 8}));
  EXPECT_LT(i.targets.max().item<std::int64_t>(), 5);
  Dataset t = load_dataset("markov", kTokens, {7, 12, 0});
  EXPECT_EQ(t.inputs.sizes(), (at::IntArrayRef{7, 12}));
  EXPECT_TRUE(at::equal(t.inputs.slice(1, 1), t.targets.slice(1, 0, 11))) << "targets = next token";
}

TEST(Sources, TextWindowsAreSlicesOfTheCorpus) {
  const std::string corpus = read_text_corpus();
  EXPECT_GT(corpus.size(), 200'000u);
  EXPECT_NE(corpus.find("GNU GENERAL PUBLIC LICENSE"), std::string::npos);
  Dataset d = load_dataset("text", kTokens, {20, 0, 3});
  for (std::int64_t e = 0; e < d.size(); ++e) {
    std::string window;
    for (std::int64_t t = 0; t < 16; ++t) window += static_cast<char>(d.inputs[e][t].item<std::int64_t>());
    window += static_cast<char>(d.targets[e][15].item<std::int64_t>());
    EXPECT_NE(corpus.find(window), std::string::npos) << "window " << e << " not in corpus";
  }
  EXPECT_TRUE(at::equal(d.inputs.slice(1, 1), d.targets.slice(1, 0, 15)));
}

TEST(Sources, TextIsCappedByTheCorpusSize) {
  Dataset d = load_dataset("text", kTokens, {1'000'000, 64, 0});
  EXPECT_EQ(d.size(), (static_cast<std::int64_t>(read_text_corpus().size()) - 1) / 64);
}

TEST(Sources, MismatchedSourcesAndUnknownNamesAreErrors) {
  EXPECT_NE(error_of([] { load_dataset("images", kFeatures, {}); }).find("does not fit this model"), std::string::npos);
  EXPECT_NE(error_of([] {
              load_dataset("text", InputSpec{InputSpec::Kind::kTokens, {8}, 100, 100}, {});
            }).find("vocab ≥ 256"),
            std::string::npos);
  EXPECT_EQ(error_of([] { load_dataset("wikipedia", kTokens, {}); }),
            "unknown data source 'wikipedia' (valid: auto, mixture, images, markov, text, FILE.h5)");
  EXPECT_NE(error_of([] { load_dataset("auto", InputSpec{}, {}); }).find("give an HDF5 data file"), std::string::npos);
}

TEST(Sources, FitCheckCatchesWrongShapesAndRanges) {
  Dataset d = load_dataset("mixture", kFeatures, {8, 0, 0});
  EXPECT_NE(error_of([&] {
              check_dataset_fits(d, InputSpec{InputSpec::Kind::kFeatures, {7}, 0, 3});
            }).find("do not fit the model"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              check_dataset_fits(d, InputSpec{InputSpec::Kind::kFeatures, {6}, 0, 2});
            }).find("class ids in 'targets' must lie in [0, 2)"),
            std::string::npos);
  Dataset t = load_dataset("markov", kTokens, {4, 0, 0});
  EXPECT_NE(error_of([&] {
              check_dataset_fits(t, InputSpec{InputSpec::Kind::kTokens, {8}, 256, 256});
            }).find("T ≤ 8"),
            std::string::npos);
}

TEST(Batching, ConsecutiveBatchesCoverTheData) {
  Dataset d = load_dataset("mixture", kFeatures, {10, 0, 0});
  std::vector<Batch> all = make_batches(d, {4, 0, false, 0});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].size(), 2);
  EXPECT_TRUE(at::equal(all[1].inputs, d.inputs.slice(0, 4, 8)));
  std::vector<Batch> two = make_batches(d, {3, 2, false, 0});
  ASSERT_EQ(two.size(), 2u);
  EXPECT_TRUE(at::equal(two[1].targets, d.targets.slice(0, 3, 6)));
}

TEST(Batching, ShuffleIsAPermutationFixedBySeed) {
  Dataset d = load_dataset("mixture", kFeatures, {12, 0, 0});
  auto a = make_batches(d, {12, 1, true, 5}), b = make_batches(d, {12, 1, true, 5});
  EXPECT_TRUE(at::equal(a[0].inputs, b[0].inputs));
  EXPECT_FALSE(at::equal(a[0].inputs, d.inputs));
  EXPECT_TRUE(at::allclose(std::get<0>(a[0].inputs.sum(1).sort()), std::get<0>(d.inputs.sum(1).sort())));
}

TEST(Batching, TooFewExamplesIsAnError) {
  Dataset d = load_dataset("mixture", kFeatures, {10, 0, 0});
  EXPECT_EQ(
      error_of([&] {
        make_batches(d, {4, 3, false, 0});
      }),
      "3 batches of 4 examples need 12 examples but the data has 10 (use fewer or smaller batches, or more examples)");
  EXPECT_NE(error_of([&] {
              make_batches(d, {0, 1, false, 0});
            }).find("the batch size must be positive"),
            std::string::npos);
}

TEST(HeldOut, TheTailIsHeldOutAndThePartsCoverTheData) {
  Dataset d = load_dataset("text", kTokens, {30, 0, 4});
  for (auto [fraction, held] : std::vector<std::pair<double, std::int64_t>>{{0.0, 0}, {0.1, 3}, {0.15, 5}, {0.5, 15}}) {
    SCOPED_TRACE(fraction);
    HeldOutSplit s = split_held_out(d, fraction);
    ASSERT_EQ(s.held_out.size(), held) << "⌈fraction·30⌉ examples";
    EXPECT_EQ(s.train.size(), 30 - held);
    EXPECT_TRUE(at::equal(at::cat({s.train.inputs, s.held_out.inputs}), d.inputs));
    EXPECT_TRUE(at::equal(at::cat({s.train.targets, s.held_out.targets}), d.targets));
    EXPECT_EQ(s.train.description == d.description, held == 0) << s.train.description;
  }
}

TEST(HeldOut, FixedDataHoldsOutATenthAndSyntheticSourcesNothing) {
  EXPECT_EQ(default_held_out_fraction("text", kTokens), 0.1);
  EXPECT_EQ(default_held_out_fraction("auto", kTokens), 0.1) << "auto is the text corpus for a token model";
  EXPECT_EQ(default_held_out_fraction("mine.h5", kFeatures), 0.1);
  EXPECT_EQ(default_held_out_fraction("data/mine", kFeatures), 0.1);
  for (const char* synthetic : {"mixture", "images", "markov"})
    EXPECT_EQ(default_held_out_fraction(synthetic, kTokens), 0.0);
  EXPECT_EQ(default_held_out_fraction("auto", kImages), 0.0);
}

TEST(HeldOut, AFractionOutsideTheRangeOrAnEmptyTrainingPartIsAnError) {
  Dataset d = load_dataset("mixture", kFeatures, {4, 0, 0});
  EXPECT_EQ(error_of([&] { split_held_out(d, 1.0); }), "the held-out fraction must lie in [0, 1) (got 1)");
  EXPECT_NE(error_of([&] { split_held_out(d, -0.1); }).find("[0, 1)"), std::string::npos);
  Dataset one = load_dataset("mixture", kFeatures, {1, 0, 0});
  EXPECT_EQ(error_of([&] { split_held_out(one, 0.1); }),
            "holding out 1 of 1 examples leaves none to train on (hold out a smaller fraction or give more data)");
}

}  // namespace
}  // namespace blockscope::data
