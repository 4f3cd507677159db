#include "partition/hessian_strategy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <stdexcept>
#include <tuple>

namespace blockscope::partition {
namespace {

// A run of neighbouring candidates of one tensor: elements [begin, end).
struct Segment {
  std::size_t tensor = 0;
  std::int64_t begin = 0, end = 0;
  double sum = 0.0;
  std::int64_t prev = -1, next = -1;  // neighbours in the same tensor
  std::int64_t version = 0;           // bumped on every merge into this segment
  bool alive = true;
};

// (Ward cost, left, right, left version, right version): the smallest cost,
// then the earliest pair in model order, comes first.
using Candidate = std::tuple<double, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;

}  // namespace

Partition hessian_partition(const std::vector<TensorInfo>& model, const std::vector<std::vector<double>>& statistics,
                            const HessianStrategyOptions& options) {
  if (statistics.size() != model.size()) {
    throw std::runtime_error(
        fmt::format("hessian partition: {} statistics for {} tensors", statistics.size(), model.size()));
  }
  const double threshold = options.merge_threshold.value_or(
      options.target_blocks > 0 ? std::numeric_limits<double>::infinity() : kDefaultMergeThreshold);
  if (options.target_blocks < 0 || !(threshold >= 0.0)) {
    throw std::runtime_error("hessian partition: the target block count and the merge threshold must be ≥ 0");
  }
  double abs_total = 0.0;
  std::int64_t elements = 0;
  std::vector<Segment> segs;
  for (std::size_t t = 0; t < model.size(); ++t) {
    const std::int64_t numel = model[t].numel();
    if (static_cast<std::int64_t>(statistics[t].size()) != numel) {
      throw std::runtime_error(fmt::format("hessian partition: tensor '{}' has {} elements but {} statistics",
                                           model[t].name, numel, statistics[t].size()));
    }
    if (numel == 0) continue;
    const std::int64_t row = model[t].shape.size() >= 2 ? numel / model[t].shape[0] : numel;
    for (std::int64_t begin = 0; begin < numel; begin += row) {
      Segment s{t, begin, begin + row};
      for (std::int64_t i = begin; i < begin + row; ++i) {
        const double x = statistics[t][i];
        if (!std::isfinite(x)) {
          throw std::runtime_error(
              fmt::format("hessian partition: statistic {} of tensor '{}' is {}", i, model[t].name, x));
        }
        s.sum += x;
        abs_total += std::abs(x);
      }
      const std::int64_t id = static_cast<std::int64_t>(segs.size());
      if (begin > 0) {
        s.prev = id - 1;
        segs.back().next = id;
      }
      segs.push_back(s);
    }
    elements += numel;
  }
  const std::int64_t candidates = static_cast<std::int64_t>(segs.size());
  const double floor = std::max(1e-12 * (elements > 0 ? abs_total / static_cast<double>(elements) : 0.0),
                                std::numeric_limits<double>::min());
  auto log_level = [&](const Segment& s) {
    return std::log(std::max(std::abs(s.sum) / static_cast<double>(s.end - s.begin), floor));
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](std::int64_t left) {
    if (left < 0 || segs[left].next < 0) return;
    const Segment& a = segs[left];
    const Segment& b = segs[a.next];
    const double gap = std::abs(log_level(a) - log_level(b));
    if (gap > threshold) return;
    const double na = static_cast<double>(a.end - a.begin), nb = static_cast<double>(b.end - b.begin);
    queue.emplace(na * nb / (na + nb) * gap * gap, left, a.next, a.version, b.version);
  };
  for (std::int64_t i = 0; i < candidates; ++i) consider(i);

  std::int64_t blocks = candidates, merges = 0;
  while (!queue.empty() && (options.target_blocks == 0 || blocks > options.target_blocks)) {
    const auto [cost, left, right, left_version, right_version] = queue.top();
    queue.pop();
    Segment& a = segs[left];
    Segment& b = segs[right];
    if (!a.alive || !b.alive || a.version != left_version || b.version != right_version) continue;
    a.end = b.end;
    a.sum += b.sum;
    a.next = b.next;
    if (b.next >= 0) segs[b.next].prev = left;
    b.alive = false;
    ++a.version;
    --blocks;
    ++merges;
    consider(a.prev);
    consider(left);
  }

  std::vector<TensorBlocks> tensors;
  std::size_t s = 0;
  for (std::size_t t = 0; t < model.size(); ++t) {
    if (model[t].numel() == 0) {
      tensors.push_back(TensorBlocks::uniform(model[t], 1));
      continue;
    }
    std::vector<std::int64_t> boundaries{0};
    for (; s < segs.size() && segs[s].tensor == t; ++s) {
      if (segs[s].alive) boundaries.push_back(segs[s].end);
    }
    tensors.push_back(TensorBlocks::explicit_ranges(model[t], std::move(boundaries)));
  }
  number_consecutively(tensors);
  nlohmann::json settings = options.settings.is_null() ? nlohmann::json::object() : options.settings;
  settings["target_blocks"] = options.target_blocks;
  settings["merge_threshold"] = threshold;
  settings["candidates"] = "rows (ndim >= 2), whole tensor (ndim <= 1)";
  settings["candidate_blocks"] = candidates;
  settings["merges"] = merges;
  return Partition("hessian", std::move(settings), std::move(tensors));
}

}  // namespace blockscope::partition
