// Gefen partition (reference: ndvbd/Gefen; docs/algorithms.md §6):
// each tensor, flattened row-major, is cut into contiguous blocks of P
// elements, P chosen once per tensor from the FIRST-step gradient; blocks never
// cross tensors; block ids are consecutive in model order. P = 1 means no v
// sharing (per-element blocks). The optimizer additionally shares the m scale
// over chunks of the largest divisor of n that is ≤ 256 when P = 1; that chunk
// is state layout, derived from P by the optimizer, not part of the partition.
//
// Period rules (both read g² = (fp32 g)², as the reference squares the fp32
// gradient; everything after that is float64):
//   v1.2.3 (default): candidates p = divisors of n with n/p ≥ 4, ascending;
//     S(p) = mean over adjacent block pairs k of |mean_{k+1} L − mean_k L| with
//     L = log(g² + 1e-12). Candidates are strict interior local maxima of S
//     over that list with p > 8; best = argmax S (ties → larger p); none →
//     P = 1. Cap: best > 1024 → the smallest divisor p of n with
//     1024 < p ≤ best and best % p == 0.
//   v1.1.1: candidates = every divisor p < n, ascending; E(p) = sqrt(mean over
//     blocks of the population variance of g² within the block); score = E(p)
//     − E(previous p) (1e-12 for the first); best = the lowest score (ties →
//     smaller p); best < 8 → P = 1. No cap.
// A tensor of 0 or 1 elements gets P = 1. Cost O(n · number of candidates).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partition/partition.h"

namespace blockscope::partition {

enum class GefenRule { v1_2_3, v1_1_1 };

// "v1.2.3" / "v1.1.1"; parse_gefen_rule throws listing the valid names.
const char* rule_name(GefenRule rule);
GefenRule parse_gefen_rule(const std::string& name);

struct GefenOptions {
  GefenRule rule = GefenRule::v1_2_3;
};

// A read-only view of one tensor's gradient: `size` fp32 values, row-major.
struct GradientView {
  const float* data = nullptr;
  std::int64_t size = 0;
};

// One tensor's period search: the candidates, their scores (S for v1.2.3, the
// score E(p) − E(prev) for v1.1.1) and the chosen period.
struct PeriodSearch {
  std::vector<std::int64_t> candidates;
  std::vector<double> scores;
  std::int64_t period = 1;
};

// Runs `rule` on a finite gradient (callers check finiteness; gefen() does).
PeriodSearch search_period(GradientView gradient, GefenRule rule);

// gradients[i] is the first-step gradient of model[i]. Throws naming the
// tensor on a size mismatch or a non-finite value.
Partition gefen(const std::vector<TensorInfo>& model, const std::vector<GradientView>& gradients,
                const GefenOptions& options);

}  // namespace blockscope::partition
