// Sharing diagnostics against a brute-force computation that walks every
// element through Partition::block_of, on small random arrays with zeros,
// for per-element, per-tensor, whole-model and explicit shared-id
// partitions; numpy's quantile rule on hand-worked values; the state bytes.
#include "partition/diagnostics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "partition/strategies.h"

namespace blockscope::partition {
namespace {

// Diagnostics and brute force sum the same float64 terms in different orders
// over ≤ 64 elements: relative differences ≲ 64 ε ≈ 1.4e-14; 1e-12 leaves room.
constexpr double kRtol = 1e-12;

void expect_close(double expected, double actual, const std::string& what) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << what;
    return;
  }
  if (std::isinf(expected)) {
    EXPECT_EQ(expected, actual) << what;
    return;
  }
  EXPECT_NEAR(actual, expected, kRtol * std::max(1.0, std::abs(expected))) << what;
}

std::vector<TensorInfo> small_model() { return {{"a.weight", {4, 6}}, {"b.bias", {5}}, {"c.weight", {3, 2}}}; }

// Log-normal v over three decades with about one zero in eight.
std::vector<std::vector<double>> random_v(const std::vector<TensorInfo>& model, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 3.0);
  std::vector<std::vector<double>> v;
  for (const TensorInfo& t : model) {
    std::vector<double> x(static_cast<std::size_t>(t.numel()));
    for (double& e : x) e = rng() % 8 == 0 ? 0.0 : std::exp(normal(rng));
    v.push_back(x);
  }
  return v;
}

std::vector<TensorValues> views(const std::vector<TensorInfo>& model, const std::vector<std::vector<double>>& v) {
  std::vector<TensorValues> out;
  for (std::size_t t = 0; t < model.size(); ++t) out.push_back({model[t].name, v[t].data(), model[t].numel()});
  return out;
}

std::vector<double> brute_quantiles(std::vector<double> x, const std::vector<double>& levels) {
  std::sort(x.begin(), x.end());
  std::vector<double> out;
  for (double q : levels) {
    if (x.empty()) {
      out.push_back(std::nan(""));
      continue;
    }
    const double h = (double(x.size()) - 1) * q;
    const std::size_t lo = std::size_t(h), hi = std::min(lo + 1, x.size() - 1);
    out.push_back(x[lo] + (h - double(lo)) * (x[hi] - x[lo]));
  }
  return out;
}

// Every statistic of diagnose_partition recomputed from the element lists.
void check_against_brute_force(const Partition& p, const std::vector<std::vector<double>>& v) {
  const DiagnosticsOptions options;
  std::vector<TensorInfo> model;
  for (const auto& t : p.tensors()) model.push_back(t.tensor);
  const PartitionDiagnostics d = diagnose_partition(p, views(model, v), options);
  const std::size_t B = std::size_t(p.num_blocks());
  std::vector<std::vector<double>> members(B);
  for (std::size_t t = 0; t < p.num_tensors(); ++t)
    for (std::int64_t i = 0; i < model[t].numel(); ++i) members[p.block_of(t, i)].push_back(v[t][i]);
  ASSERT_EQ(d.blocks.size(), B);
  std::vector<double> mean(B), cv(B), all_logs;
  for (std::size_t b = 0; b < B; ++b) {
    const auto& x = members[b];
    double s = 0, lo = INFINITY, hi = 0, ss = 0, dev = 0;
    std::int64_t zeros = 0;
    for (double e : x) s += e;
    mean[b] = s / double(x.size());
    std::vector<double> logs;
    for (double e : x) {
      ss += (e - mean[b]) * (e - mean[b]);
      if (mean[b] > 0) dev += std::abs(e / mean[b] - 1);
      if (e == 0) {
        ++zeros;
        continue;
      }
      lo = std::min(lo, e), hi = std::max(hi, e);
      logs.push_back(std::log(e / mean[b]));
    }
    all_logs.insert(all_logs.end(), logs.begin(), logs.end());
    cv[b] = mean[b] > 0 ? std::sqrt(ss / double(x.size())) / mean[b] : 0.0;
    const BlockStats& got = d.blocks[b];
    const std::string what = "block " + std::to_string(b);
    EXPECT_EQ(got.size, std::int64_t(x.size())) << what;
    EXPECT_EQ(got.zeros, zeros) << what;
    expect_close(mean[b], got.mean_v, what + " mean");
    expect_close(cv[b], got.cv, what + " cv");
    expect_close(logs.empty() ? 1.0 : hi / lo, got.max_min_ratio, what + " max/min");
    expect_close(dev / double(x.size()), got.mean_abs_dev, what + " mean |v/v̄ − 1|");
    const auto q = brute_quantiles(logs, options.quantile_levels);
    for (std::size_t k = 0; k < q.size(); ++k) expect_close(q[k], got.log_quantiles[k], what + " quantile");
  }
  double total_dev = 0;
  for (std::size_t t = 0; t < p.num_tensors(); ++t) {
    double dev = 0, max_ratio = 1;
    std::vector<double> logs, cvs;
    std::vector<std::int64_t> ids;
    for (std::int64_t i = 0; i < model[t].numel(); ++i) {
      const std::int64_t b = p.block_of(t, i);
      const double e = v[t][i];
      if (mean[b] > 0) dev += std::abs(e / mean[b] - 1);
      if (mean[b] > 0 && e > 0) logs.push_back(std::log(e / mean[b]));
      if (std::find(ids.begin(), ids.end(), b) == ids.end()) ids.push_back(b);
    }
    for (std::int64_t b : ids) cvs.push_back(cv[b]), max_ratio = std::max(max_ratio, d.blocks[b].max_min_ratio);
    total_dev += dev;
    const AggregateStats& a = d.tensors[t];
    EXPECT_EQ(a.name, model[t].name);
    EXPECT_EQ(a.blocks, std::int64_t(ids.size()));
    expect_close(dev / double(model[t].numel()), a.mean_abs_dev, a.name);
    expect_close(brute_quantiles(cvs, {0.5})[0], a.median_cv, a.name + " median cv");
    expect_close(*std::max_element(cvs.begin(), cvs.end()), a.max_cv, a.name + " max cv");
    expect_close(max_ratio, a.max_min_ratio, a.name + " max/min");
    const auto q = brute_quantiles(logs, options.quantile_levels);
    for (std::size_t k = 0; k < q.size(); ++k) expect_close(q[k], a.log_quantiles[k], a.name + " quantile");
  }
  EXPECT_EQ(d.total.blocks, p.num_blocks());
  expect_close(total_dev / double(p.num_parameters()), d.total.mean_abs_dev, "total");
  const auto q = brute_quantiles(all_logs, options.quantile_levels);
  for (std::size_t k = 0; k < q.size(); ++k) expect_close(q[k], d.total.log_quantiles[k], "total quantile");
  std::int64_t histogram = 0;
  for (std::int64_t c : d.histogram) histogram += c;
  EXPECT_EQ(histogram, std::int64_t(all_logs.size()));
}

TEST(Diagnostics, MatchesBruteForceOnSimpleStrategies) {
  const auto model = small_model();
  for (unsigned seed = 1; seed <= 3; ++seed) {
    const auto v = random_v(model, seed);
    check_against_brute_force(per_element(model), v);
    check_against_brute_force(per_tensor(model), v);
    check_against_brute_force(whole_model(model), v);
  }
}

TEST(Diagnostics, MatchesBruteForceOnSharedIdsAcrossTensors) {
  const auto model = small_model();
  std::vector<TensorBlocks> tensors = {TensorBlocks::explicit_ranges(model[0], {0, 5, 12, 24}),
                                       TensorBlocks::uniform(model[1], 5), TensorBlocks::uniform(model[2], 2)};
  tensors[0].block_ids = {0, 1, 2};
  tensors[1].block_ids = {1};        // b.bias shares block 1 with a middle range of a.weight
  tensors[2].block_ids = {3, 0, 3};  // c.weight's first and last rows share; its middle row joins block 0
  Partition p("mixed", nullptr, tensors);
  auto v = random_v(model, 7);
  check_against_brute_force(p, v);
  v[1].assign(5, 0.0);  // a block that is all zero except a.weight's part
  check_against_brute_force(p, v);
  for (auto& t : v) t.assign(t.size(), 0.0);  // everything zero: sharing exact, no logs
  check_against_brute_force(p, v);
}

TEST(Diagnostics, HandWorkedBlock) {
  // One block of v = (1, 2, 3, 6, 0): v̄ = 2.4, |v/v̄ − 1| = (1.4, 0.4, 0.6, 3.6, 2.4)/2.4.
  const std::vector<TensorInfo> model = {{"w", {5}}};
  const std::vector<double> v = {1, 2, 3, 6, 0};
  PartitionDiagnostics d = diagnose_partition(per_tensor(model), {{"w", v.data(), 5}});
  EXPECT_DOUBLE_EQ(d.blocks[0].mean_v, 2.4);
  EXPECT_DOUBLE_EQ(d.blocks[0].mean_abs_dev, 8.4 / 2.4 / 5);
  EXPECT_DOUBLE_EQ(d.blocks[0].max_min_ratio, 6.0);
  EXPECT_EQ(d.blocks[0].zeros, 1);
  // numpy.quantile(log([1, 2, 3, 6] / 2.4), 0.5) = (log(2/2.4) + log(3/2.4)) / 2 = log(√6 / 2.4);
  // 1e-15: a few ulp of the logs (≈ 0.02).
  EXPECT_NEAR(d.blocks[0].log_quantiles[2], std::log(std::sqrt(6.0) / 2.4), 1e-15);
}

TEST(Diagnostics, LinearQuantileFollowsNumpy) {
  // numpy.quantile([1, 2, 3, 4], [0, 0.1, 0.5, 0.9, 1]) = [1, 1.3, 2.5, 3.7, 4]
  const std::vector<double> x = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(linear_quantile(x, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(linear_quantile(x, 0.1), 1.3);
  EXPECT_DOUBLE_EQ(linear_quantile(x, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(linear_quantile(x, 0.9), 3.7);
  EXPECT_DOUBLE_EQ(linear_quantile(x, 1.0), 4.0);
  EXPECT_TRUE(std::isnan(linear_quantile({}, 0.5)));
}

TEST(Diagnostics, MeanSquareOverMinibatches) {
  const std::vector<float> g = {1, -2, 3, 3, 0, -1};  // [K = 2, n = 3]
  EXPECT_EQ(mean_square_over_minibatches(g.data(), 2, 3), (std::vector<double>{5.0, 2.0, 5.0}));
}

TEST(Diagnostics, RejectsMismatchedInput) {
  const auto model = small_model();
  auto v = random_v(model, 1);
  auto error_of = [&](const std::vector<TensorValues>& values) {
    try {
      diagnose_partition(per_tensor(model), values);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  auto values = views(model, v);
  values.pop_back();
  EXPECT_EQ(error_of(values), "no second moments for tensor 'c.weight' of the partition");
  values = views(model, v);
  values[1].size = 4;
  EXPECT_EQ(error_of(values), "second moments of 'b.bias' have 4 values; the partition's tensor has 5");
  v[0][3] = -1.0;
  EXPECT_EQ(error_of(views(model, v)), "second moment 3 of 'a.weight' is -1 (must be finite and ≥ 0)");
}

}  // namespace
}  // namespace blockscope::partition
