// The loss convention: integer targets → cross-entropy (per position for
// sequences), float targets → MSE; checked against the formulas.
#include <gtest/gtest.h>

#include "data/loss.h"

namespace blockscope::data {
namespace {

TEST(Loss, CrossEntropyPerPositionIsTheMeanNegativeLogLikelihood) {
  at::Tensor logits = at::randn({2, 3, 5}, at::kDouble);
  at::Tensor targets = at::randint(5, {2, 3}, at::kLong);
  at::Tensor log_p = at::log_softmax(logits, -1);
  double expected = 0;
  for (int n = 0; n < 2; ++n)
    for (int t = 0; t < 3; ++t) expected -= log_p[n][t][targets[n][t].item<std::int64_t>()].item<double>();
  EXPECT_NEAR(mean_loss(logits, targets).item<double>(), expected / 6, 1e-12);
  EXPECT_EQ(loss_name(targets), "cross_entropy");
}

TEST(Loss, MseIsTheMeanSquaredError) {
  at::Tensor out = at::randn({4, 2}, at::kDouble), y = at::randn({4, 2}, at::kDouble);
  EXPECT_NEAR(mean_loss(out, y).item<double>(), (out - y).pow(2).mean().item<double>(), 1e-14);
  EXPECT_EQ(loss_name(y), "mse");
}

TEST(Loss, ShapeMismatchesAreNamed) {
  EXPECT_THROW(mean_loss(at::randn({4, 2}), at::randn({4, 3})), std::runtime_error);
  EXPECT_THROW(mean_loss(at::randn({4, 2}), at::randint(2, {5}, at::kLong)), std::runtime_error);
}

}  // namespace
}  // namespace blockscope::data
