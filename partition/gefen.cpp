#include "partition/gefen.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace blockscope::partition {
namespace {

// v1.2.3 takes peaks with p > 8 only; v1.1.1 turns a best p < 8 into 1.
constexpr std::int64_t kMinPeriod = 8;
constexpr std::int64_t kPeriodCap = 1024;  // v1.2.3
constexpr std::int64_t kMinBlocks = 4;     // v1.2.3: n / p ≥ 4
constexpr double kLogFloor = 1e-12;        // v1.2.3: log(g² + 1e-12)
constexpr double kFirstScore = 1e-12;      // v1.1.1: score of the first candidate

// Divisors of n ≥ 1, ascending.
std::vector<std::int64_t> divisors(std::int64_t n) {
  std::vector<std::int64_t> small, large;
  for (std::int64_t i = 1; i * i <= n; ++i) {
    if (n % i != 0) continue;
    small.push_back(i);
    if (i != n / i) large.push_back(n / i);
  }
  small.insert(small.end(), large.rbegin(), large.rend());
  return small;
}

// g² squared in fp32 (as the reference does), widened to float64.
double square(float g) { return static_cast<double>(g * g); }

double block_mean(const std::vector<double>& values, std::int64_t begin, std::int64_t p) {
  double sum = 0.0;
  for (std::int64_t i = begin; i < begin + p; ++i) sum += values[static_cast<std::size_t>(i)];
  return sum / static_cast<double>(p);
}

PeriodSearch search_v1_2_3(GradientView g) {
  std::int64_t n = g.size;
  std::vector<double> logs(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    logs[static_cast<std::size_t>(i)] = std::log(square(g.data[i]) + kLogFloor);
  }
  PeriodSearch search;
  std::vector<std::int64_t> all = divisors(n);
  for (std::int64_t p : all) {
    if (n / p < kMinBlocks) break;
    std::int64_t blocks = n / p;
    double previous = block_mean(logs, 0, p), total = 0.0;
    for (std::int64_t k = 1; k < blocks; ++k) {
      double mean = block_mean(logs, k * p, p);
      total += std::fabs(mean - previous);
      previous = mean;
    }
    search.candidates.push_back(p);
    search.scores.push_back(total / static_cast<double>(blocks - 1));
  }
  std::int64_t best = 0;
  double best_score = 0.0;
  const auto& c = search.candidates;
  const auto& s = search.scores;
  for (std::size_t i = 1; i + 1 < c.size(); ++i) {
    bool peak = c[i] > kMinPeriod && s[i] > s[i - 1] && s[i] > s[i + 1];
    if (peak && (best == 0 || s[i] >= best_score)) {  // ascending, so ties go to the larger p
      best = c[i];
      best_score = s[i];
    }
  }
  if (best == 0) return search;
  search.period = best;
  if (best > kPeriodCap) {
    for (std::int64_t p : all) {
      if (p > kPeriodCap && p <= best && best % p == 0) {
        search.period = p;
        break;
      }
    }
  }
  return search;
}

PeriodSearch search_v1_1_1(GradientView g) {
  std::int64_t n = g.size;
  std::vector<double> squares(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) squares[static_cast<std::size_t>(i)] = square(g.data[i]);
  PeriodSearch search;
  double previous_error = 0.0;
  std::int64_t best = 0;
  double best_score = 0.0;
  for (std::int64_t p : divisors(n)) {
    if (p == n) break;
    std::int64_t blocks = n / p;
    double variance_sum = 0.0;
    for (std::int64_t k = 0; k < blocks; ++k) {
      double mean = block_mean(squares, k * p, p), sum = 0.0;
      for (std::int64_t i = k * p; i < (k + 1) * p; ++i) {
        double d = squares[static_cast<std::size_t>(i)] - mean;
        sum += d * d;
      }
      variance_sum += sum / static_cast<double>(p);
    }
    double error = std::sqrt(variance_sum / static_cast<double>(blocks));
    double score = search.candidates.empty() ? kFirstScore : error - previous_error;
    previous_error = error;
    if (best == 0 || score < best_score) {  // ascending, so ties go to the smaller p
      best = p;
      best_score = score;
    }
    search.candidates.push_back(p);
    search.scores.push_back(score);
  }
  search.period = best < kMinPeriod ? 1 : best;
  return search;
}

}  // namespace

const char* rule_name(GefenRule rule) { return rule == GefenRule::v1_1_1 ? "v1.1.1" : "v1.2.3"; }

GefenRule parse_gefen_rule(const std::string& name) {
  if (name == "v1.2.3") return GefenRule::v1_2_3;
  if (name == "v1.1.1") return GefenRule::v1_1_1;
  throw std::runtime_error(fmt::format("unknown Gefen period rule '{}' (valid: v1.2.3, v1.1.1)", name));
}

PeriodSearch search_period(GradientView gradient, GefenRule rule) {
  if (gradient.size <= 1) return {};
  return rule == GefenRule::v1_1_1 ? search_v1_1_1(gradient) : search_v1_2_3(gradient);
}

Partition gefen(const std::vector<TensorInfo>& model, const std::vector<GradientView>& gradients,
                const GefenOptions& options) {
  if (gradients.size() != model.size()) {
    throw std::runtime_error(
        fmt::format("gefen needs one first-step gradient per tensor: got {} gradients for {} tensors", gradients.size(),
                    model.size()));
  }
  std::vector<TensorBlocks> tensors;
  tensors.reserve(model.size());
  for (std::size_t i = 0; i < model.size(); ++i) {
    const TensorInfo& t = model[i];
    GradientView g = gradients[i];
    if (g.size != t.numel() || (g.size > 0 && g.data == nullptr)) {
      throw std::runtime_error(fmt::format("gefen: the gradient of tensor '{}' has {} values but the tensor {} has {}",
                                           t.name, g.size, shape_string(t.shape), t.numel()));
    }
    for (std::int64_t e = 0; e < g.size; ++e) {
      if (!std::isfinite(g.data[e])) {
        throw std::runtime_error(
            fmt::format("gefen: the first-step gradient of tensor '{}' is not finite at element {} ({}); "
                        "compute it from a batch with a finite loss",
                        t.name, e, g.data[e]));
      }
    }
    tensors.push_back(TensorBlocks::uniform(t, search_period(g, options.rule).period));
  }
  number_consecutively(tensors);
  nlohmann::json settings = {{"reference", "ndvbd/Gefen"}, {"period_rule", rule_name(options.rule)}};
  return Partition("gefen", std::move(settings), std::move(tensors));
}

}  // namespace blockscope::partition
