// The HVP engine against ground truth: central finite differences of the
// gradient, symmetry ⟨u, Hv⟩ = ⟨Hu, v⟩, block restriction = sub-block of the
// full Hessian, graph reuse = rebuilding, and the mean-over-batches convention.
#include <gtest/gtest.h>

#include <random>

#include "hessian/dense.h"
#include "hessian_fixture.h"

namespace blockscope::hessian {
namespace {

using testing::kSmallMlp;
using testing::kTinyGpt;
using testing::make_problem;

Eigen::VectorXd random_vector(Eigen::Index n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Eigen::VectorXd v(n);
  for (Eigen::Index i = 0; i < n; ++i) v[i] = normal(rng);
  return v;
}

Eigen::VectorXd flat_gradient(const LossHessian& h) {
  Eigen::VectorXd out(h.layout().total());
  std::vector<at::Tensor> g = h.gradient();
  for (std::size_t t = 0; t < g.size(); ++t) {
    at::Tensor flat = g[t].reshape({-1}).contiguous();
    std::copy(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel(), out.data() + h.layout().offsets[t]);
  }
  return out;
}

// θ += step · v (all parameters, in place).
void shift_parameters(const models::Model& model, const Eigen::VectorXd& v, double step) {
  at::NoGradGuard no_grad;
  std::int64_t offset = 0;
  for (const auto& p : model.parameters()) {
    at::Tensor part = at::from_blob(const_cast<double*>(v.data()) + offset, p.tensor.sizes(), at::kDouble);
    p.tensor.add_(part, step);
    offset += p.tensor.numel();
  }
}

class HvpOnModels : public ::testing::TestWithParam<const char*> {};

TEST_P(HvpOnModels, MatchesCentralFiniteDifferencesOfTheGradient) {
  auto p = make_problem(GetParam(), 24, 8);
  const Eigen::Index n = p.hessian->layout().total();
  BlockHessian full(*p.hessian, {{0, n}}, "all");
  Eigen::VectorXd v = random_vector(n, 1).normalized(), hv(n);
  full.perform_op(v.data(), hv.data());
  const double eps = 1e-5;
  shift_parameters(*p.model, v, eps);
  Eigen::VectorXd g_plus = flat_gradient(*p.hessian);
  shift_parameters(*p.model, v, -2 * eps);
  Eigen::VectorXd g_minus = flat_gradient(*p.hessian);
  shift_parameters(*p.model, v, eps);
  Eigen::VectorXd fd = (g_plus - g_minus) / (2 * eps);
  // Central differences: O(ε²·‖∇³L‖) truncation + O(1e-16/ε) rounding ≈ 1e-10
  // relative in fp64; 1e-6 leaves room for the third derivatives of attention.
  EXPECT_LT((fd - hv).norm(), 1e-6 * hv.norm()) << "‖Hv‖ = " << hv.norm();
}

TEST_P(HvpOnModels, IsSymmetric) {
  auto p = make_problem(GetParam(), 16, 8);
  const Eigen::Index n = p.hessian->layout().total();
  BlockHessian full(*p.hessian, {{0, n}}, "all");
  Eigen::VectorXd u = random_vector(n, 2), v = random_vector(n, 3), hu(n), hv(n);
  full.perform_op(u.data(), hu.data());
  full.perform_op(v.data(), hv.data());
  // Exact math is symmetric; fp64 rounding over n ≈ 10³ terms: ~1e-13 relative.
  EXPECT_NEAR(u.dot(hv), hu.dot(v), 1e-11 * std::abs(u.dot(hv)) + 1e-14);
}

TEST_P(HvpOnModels, BlockRestrictionIsTheSubBlockOfTheFullHessian) {
  auto p = make_problem(GetParam(), 16, 8);
  const auto& layout = p.hessian->layout();
  const Eigen::Index n = layout.total();
  Eigen::MatrixXd h = dense_matrix(BlockHessian(*p.hessian, {{0, n}}, "all")).matrix;
  // A block made of a slice of tensor 0 and all of tensor 2.
  const std::int64_t a0 = layout.offsets[0] + 3, a1 = layout.offsets[1] - 2;
  BlockRanges ranges = {{a0, a1}, {layout.offsets[2], layout.offsets[3]}};
  BlockHessian block(*p.hessian, ranges, "mixed");
  std::vector<Eigen::Index> index;
  for (const auto& r : ranges)
    for (Eigen::Index i = r.begin; i < r.end; ++i) index.push_back(i);
  Eigen::VectorXd x = random_vector(Eigen::Index(index.size()), 4), y(x.size()), expected(x.size());
  block.perform_op(x.data(), y.data());
  for (std::size_t a = 0; a < index.size(); ++a) {
    expected[a] = 0;
    for (std::size_t b = 0; b < index.size(); ++b) expected[a] += h(index[a], index[b]) * x[b];
  }
  EXPECT_LT((y - expected).norm(), 1e-12 * expected.norm());
}

TEST_P(HvpOnModels, RebuildingTheGraphGivesTheSameProducts) {
  auto reused = make_problem(GetParam(), 16, 8, 0, true);
  auto rebuilt = make_problem(GetParam(), 16, 8, 0, false);
  ASSERT_TRUE(reused.hessian->graph_reused());
  ASSERT_FALSE(rebuilt.hessian->graph_reused());
  const Eigen::Index n = reused.hessian->layout().total();
  Eigen::VectorXd v = random_vector(n, 5), a(n), b(n);
  BlockHessian(*reused.hessian, {{0, n}}, "all").perform_op(v.data(), a.data());
  BlockHessian(*rebuilt.hessian, {{0, n}}, "all").perform_op(v.data(), b.data());
  EXPECT_LT((a - b).norm(), 1e-13 * a.norm());
}

INSTANTIATE_TEST_SUITE_P(SmallModels, HvpOnModels, ::testing::Values(kSmallMlp, kTinyGpt));

TEST(Hvp, TheHessianIsOfTheMeanLossOverAllExamples) {
  // Unequal batches (8 + 8 + 4): weights n_b/N make the Hessian equal to the
  // one of a single batch holding all 20 examples.
  auto split = make_problem(kSmallMlp, 20, 8);
  auto whole = make_problem(kSmallMlp, 20, 20);
  ASSERT_EQ(split.hessian->num_batches(), 3u);
  EXPECT_NEAR(split.hessian->loss(), whole.hessian->loss(), 1e-14);
  const Eigen::Index n = split.hessian->layout().total();
  Eigen::VectorXd v = random_vector(n, 6), a(n), b(n);
  BlockHessian(*split.hessian, {{0, n}}, "all").perform_op(v.data(), a.data());
  BlockHessian(*whole.hessian, {{0, n}}, "all").perform_op(v.data(), b.data());
  EXPECT_LT((a - b).norm(), 1e-12 * b.norm());
}

TEST(Hvp, NonFiniteLossIsAClearError) {
  auto model = models::load_model(kSmallMlp);
  model->to(at::kDouble);
  at::Tensor x = at::full({4, 5}, std::numeric_limits<double>::quiet_NaN(), at::kDouble);
  at::Tensor y = at::zeros({4}, at::kLong);
  try {
    LossHessian h(*model, {{x, y}}, {});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("the loss is not finite"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace blockscope::hessian
