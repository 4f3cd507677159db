// CPU kernels of the optimizer family; contract in step.h.
#include "optimizers/cpu/step.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "optimizers/math/bf16.h"
#include "optimizers/math/codebook.h"
#include "optimizers/math/companding.h"
#include "optimizers/math/fp16.h"
#include "optimizers/math/ulp_split.h"

namespace blockscope::optimizers {
namespace {

constexpr std::int64_t kSumChunk = 4096;   // fixed chunking of the Σ g² reductions
constexpr std::int64_t kTile = math::kStateGroupSize;
constexpr std::int64_t kTilesPerTask = 256; // parallel work item: 8192 elements
constexpr std::int64_t kParallelSegments = 64;

// Σ g² over [begin, end) in float64: chunk sums, then their ordered sum.
double square_sum(const float* g, std::int64_t begin, std::int64_t end, bool parallel) {
  const std::int64_t chunks = (end - begin + kSumChunk - 1) / kSumChunk;
  std::vector<double> partial(static_cast<std::size_t>(chunks));
#pragma omp parallel for schedule(static) if (parallel && chunks > 1)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t b = begin + c * kSumChunk, e = std::min(end, b + kSumChunk);
    double s = 0.0;
    for (std::int64_t i = b; i < e; ++i) s += static_cast<double>(g[i]) * static_cast<double>(g[i]);
    partial[static_cast<std::size_t>(c)] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

// Per range of tensor t: Σ g² (sums[k] for range k).
std::vector<double> range_square_sums(const TensorLayout& t, const float* g) {
  const std::int64_t ranges = t.blocks.num_ranges();
  std::vector<double> sums(static_cast<std::size_t>(ranges));
  if (ranges >= kParallelSegments) {
#pragma omp parallel for schedule(static)
    for (std::int64_t k = 0; k < ranges; ++k) {
      const partition::BlockRange r = t.blocks.range(k);
      sums[static_cast<std::size_t>(k)] = square_sum(g, r.begin, r.end, false);
    }
  } else {
    for (std::int64_t k = 0; k < ranges; ++k) {
      const partition::BlockRange r = t.blocks.range(k);
      sums[static_cast<std::size_t>(k)] = square_sum(g, r.begin, r.end, true);
    }
  }
  return sums;
}

void update_shared_v(const StateLayout& layout, const std::vector<TensorStep>& tensors, const GlobalState& global) {
  const std::size_t blocks = static_cast<std::size_t>(layout.num_blocks);
  std::vector<double> sum(blocks, 0.0);
  std::vector<std::int64_t> count(blocks, 0);
  std::vector<const math::StepScalars*> scalars(blocks, nullptr);  // β2 of the block's first active tensor
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].active) continue;
    const TensorLayout& t = layout.tensors[i];
    const std::vector<double> sums = range_square_sums(t, tensors[i].grad);
    for (std::int64_t k = 0; k < t.blocks.num_ranges(); ++k) {
      const partition::BlockRange r = t.blocks.range(k);
      const std::size_t b = static_cast<std::size_t>(r.block);
      sum[b] += sums[static_cast<std::size_t>(k)];
      count[b] += r.size();
      if (scalars[b] == nullptr) scalars[b] = &tensors[i].scalars;
    }
  }
  for (std::size_t b = 0; b < blocks; ++b) {
    global.v_out[b] = count[b] > 0 ? math::second_moment(global.v_in[b],
                                                         static_cast<float>(sum[b] / static_cast<double>(count[b])),
                                                         *scalars[b])
                                   : global.v_in[b];
  }
}

// max over the scale group of |new m| (codebook pass A), per group.
std::vector<float> codebook_scales(const TensorLayout& t, const TensorStep& s, const float* codebook) {
  const Segments& groups = t.scale_groups;
  const std::int64_t count = groups.count();
  std::vector<float> scales(static_cast<std::size_t>(count));
  auto group_max = [&](std::int64_t k, bool parallel) {
    const std::int64_t b = groups.begin(k), e = groups.end(k);
    const float old_scale = s.in.m_scale[k];
    float absmax = 0.0f;
#pragma omp parallel for reduction(max : absmax) schedule(static) if (parallel)
    for (std::int64_t i = b; i < e; ++i) {
      absmax = std::max(absmax, std::fabs(math::gefen_momentum(s.grad[i], s.in.m_code[i], old_scale, codebook, s.scalars)));
    }
    scales[static_cast<std::size_t>(k)] = absmax;
  };
  if (count >= kParallelSegments) {
#pragma omp parallel for schedule(static)
    for (std::int64_t k = 0; k < count; ++k) group_max(k, false);
  } else {
    for (std::int64_t k = 0; k < count; ++k) group_max(k, true);
  }
  return scales;
}

// The update pass over tiles [tile_begin, tile_end) of one tensor.
template <FirstMoment M, SecondMoment V, WeightStorage W>
void update_tiles(const TensorLayout& t, const TensorStep& s, const GlobalState& global, const float* new_scales,
                  std::int64_t tile_begin, std::int64_t tile_end) {
  constexpr std::int32_t levels = W == WeightStorage::bf16_int16 ? math::kRhoLevelsInt16 : math::kRhoLevelsInt8;
  const math::StepScalars& sc = s.scalars;
  float m_new[kTile], v_new[kTile], m_used[kTile];
  std::int64_t range = 0, group = 0;
  for (std::int64_t tile = tile_begin; tile < tile_end; ++tile) {
    const std::int64_t b = tile * kTile, e = std::min(t.numel, b + kTile), len = e - b;
    if (V == SecondMoment::shared) range = t.blocks.range_of(b);
    if (M == FirstMoment::codebook) group = t.scale_groups.index_of(b);
    float m_scale16 = 0.0f, v_scale16 = 0.0f;
    if (M == FirstMoment::companded) m_scale16 = math::fp16_to_float(s.in.m_scale16[tile]);
    if (V == SecondMoment::companded) v_scale16 = math::fp16_to_float(s.in.v_scale16[tile]);
    // Moments.
    for (std::int64_t j = 0; j < len; ++j) {
      const std::int64_t i = b + j;
      const float g = s.grad[i];
      float m_old = 0.0f;
      if (M == FirstMoment::fp32) m_old = s.in.m_fp32[i];
      if (M == FirstMoment::bf16) m_old = math::bf16_to_float(s.in.m_bf16[i]);
      if (M == FirstMoment::companded) m_old = math::expand_m(s.in.m_q8[i], m_scale16);
      if (M == FirstMoment::codebook) {
        while (i >= t.scale_groups.end(group)) ++group;
        const float m = math::gefen_momentum(g, s.in.m_code[i], s.in.m_scale[group], global.codebook, sc);
        m_new[j] = m;
        const std::uint8_t q = math::gefen_code(m, new_scales[group], global.codebook);
        s.out.m_code[i] = q;
        m_used[j] = global.codebook[q] * new_scales[group];
      } else {
        m_new[j] = math::first_moment(m_old, g, sc);
        m_used[j] = m_new[j];
      }
      if (V == SecondMoment::element) v_new[j] = math::second_moment(s.in.v_fp32[i], g * g, sc);
      if (V == SecondMoment::companded) v_new[j] = math::second_moment(math::dequantize_v(s.in.v_q8[i], v_scale16), g * g, sc);
      if (V == SecondMoment::shared) {
        while (i >= t.blocks.range(range).end) ++range;
        v_new[j] = global.v_out[t.blocks.range(range).block];
      }
    }
    // Parameters.
    for (std::int64_t j = 0; j < len; ++j) {
      const std::int64_t i = b + j;
      float theta = s.param_in[i];
      if (W == WeightStorage::bf16_int8) theta = math::join_weight(math::float_to_bf16(theta), s.in.rho8[i], levels);
      if (W == WeightStorage::bf16_int16) theta = math::join_weight(math::float_to_bf16(theta), s.in.rho16[i], levels);
      theta = math::apply_update(theta, m_used[j], v_new[j], sc);
      if (W == WeightStorage::fp32) {
        s.param_out[i] = theta;
      } else {
        const math::SplitWeight split = math::split_weight(theta, levels);
        s.param_out[i] = math::bf16_to_float(split.hi);
        if (W == WeightStorage::bf16_int8) s.out.rho8[i] = static_cast<std::int8_t>(split.rho);
        if (W == WeightStorage::bf16_int16) s.out.rho16[i] = static_cast<std::int16_t>(split.rho);
      }
    }
    // Stored moments.
    if (M == FirstMoment::fp32) std::copy(m_new, m_new + len, s.out.m_fp32 + b);
    if (M == FirstMoment::bf16) {
      for (std::int64_t j = 0; j < len; ++j) s.out.m_bf16[b + j] = math::float_to_bf16(m_new[j]);
    }
    if (M == FirstMoment::companded) {
      float absmax = 0.0f;
      for (std::int64_t j = 0; j < len; ++j) absmax = std::max(absmax, std::fabs(m_new[j]));
      const float scale = math::state_group_scale(absmax);
      for (std::int64_t j = 0; j < len; ++j) s.out.m_q8[b + j] = math::compand_m(m_new[j], scale);
      s.out.m_scale16[tile] = math::float_to_fp16(scale);
    }
    if (V == SecondMoment::element) std::copy(v_new, v_new + len, s.out.v_fp32 + b);
    if (V == SecondMoment::companded) {
      float absmax = 0.0f;
      for (std::int64_t j = 0; j < len; ++j) absmax = std::max(absmax, std::sqrt(v_new[j]));
      const float scale = math::state_group_scale(absmax);
      for (std::int64_t j = 0; j < len; ++j) s.out.v_q8[b + j] = math::quantize_sqrt_v(std::sqrt(v_new[j]), scale);
      s.out.v_scale16[tile] = math::float_to_fp16(scale);
    }
  }
}

template <FirstMoment M, SecondMoment V, WeightStorage W>
void update_tensor(const TensorLayout& t, const TensorStep& s, const GlobalState& global) {
  std::vector<float> scales;
  if (M == FirstMoment::codebook) scales = codebook_scales(t, s, global.codebook);
  const std::int64_t tiles = t.groups32();
  const std::int64_t tasks = (tiles + kTilesPerTask - 1) / kTilesPerTask;
#pragma omp parallel for schedule(static)
  for (std::int64_t task = 0; task < tasks; ++task) {
    update_tiles<M, V, W>(t, s, global, scales.data(), task * kTilesPerTask,
                          std::min(tiles, (task + 1) * kTilesPerTask));
  }
  if (M == FirstMoment::codebook) std::copy(scales.begin(), scales.end(), s.out.m_scale);
}

using UpdateFn = void (*)(const TensorLayout&, const TensorStep&, const GlobalState&);

template <FirstMoment M, SecondMoment V>
UpdateFn pick_w(WeightStorage w) {
  switch (w) {
    case WeightStorage::fp32: return update_tensor<M, V, WeightStorage::fp32>;
    case WeightStorage::bf16_int8: return update_tensor<M, V, WeightStorage::bf16_int8>;
    case WeightStorage::bf16_int16: return update_tensor<M, V, WeightStorage::bf16_int16>;
  }
  throw std::logic_error("step_cpu: unknown weight storage");
}

template <FirstMoment M>
UpdateFn pick_v(SecondMoment v, WeightStorage w) {
  switch (v) {
    case SecondMoment::element: return pick_w<M, SecondMoment::element>(w);
    case SecondMoment::shared: return pick_w<M, SecondMoment::shared>(w);
    case SecondMoment::companded: return pick_w<M, SecondMoment::companded>(w);
  }
  throw std::logic_error("step_cpu: unknown second moment");
}

UpdateFn pick(const OptimizerSpec& spec) {
  switch (spec.m) {
    case FirstMoment::fp32: return pick_v<FirstMoment::fp32>(spec.v, spec.w);
    case FirstMoment::bf16: return pick_v<FirstMoment::bf16>(spec.v, spec.w);
    case FirstMoment::codebook: return pick_v<FirstMoment::codebook>(spec.v, spec.w);
    case FirstMoment::companded: return pick_v<FirstMoment::companded>(spec.v, spec.w);
  }
  throw std::logic_error("step_cpu: unknown first moment");
}

}  // namespace

void step_cpu(const StateLayout& layout, const std::vector<TensorStep>& tensors, const GlobalState& global) {
  if (tensors.size() != layout.tensors.size()) {
    throw std::invalid_argument("step_cpu: one TensorStep per layout tensor is needed");
  }
  if (layout.spec.v == SecondMoment::shared) update_shared_v(layout, tensors, global);
  const UpdateFn update = pick(layout.spec);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].active && layout.tensors[i].numel > 0) update(layout.tensors[i], tensors[i], global);
  }
}

std::vector<float> learn_codebook_cpu(const StateLayout& layout, const std::vector<const float*>& grads) {
  std::vector<std::int64_t> counts(math::kHistogramBins, 0);
  bool any = false;
  for (std::size_t i = 0; i < layout.tensors.size(); ++i) {
    const TensorLayout& t = layout.tensors[i];
    if (grads[i] == nullptr || t.numel == 0) continue;
    any = true;
    const Segments& h = t.histogram_groups;
    if (h.period > 0) {
      math::histogram_add(grads[i], t.numel, h.period, counts);
    } else {
      for (std::int64_t k = 0; k < h.count(); ++k) {
        math::histogram_add(grads[i] + h.begin(k), h.end(k) - h.begin(k), h.end(k) - h.begin(k), counts);
      }
    }
  }
  if (!any) throw std::invalid_argument("learn_codebook_cpu: no finite first-step gradient to learn the codebook from");
  return math::learn_codebook(counts);
}

bool all_finite_cpu(const float* values, std::int64_t n) {
  bool finite = true;
#pragma omp parallel for reduction(&& : finite) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) finite = finite && std::isfinite(values[i]);
  return finite;
}

void split_weights_cpu(WeightStorage w, float* params, std::int64_t n, std::int8_t* rho8, std::int16_t* rho16) {
  if (w == WeightStorage::fp32) return;
  const std::int32_t levels = w == WeightStorage::bf16_int16 ? math::kRhoLevelsInt16 : math::kRhoLevelsInt8;
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    const math::SplitWeight split = math::split_weight(params[i], levels);
    params[i] = math::bf16_to_float(split.hi);
    if (rho8 != nullptr) rho8[i] = static_cast<std::int8_t>(split.rho);
    if (rho16 != nullptr) rho16[i] = static_cast<std::int16_t>(split.rho);
  }
}

}  // namespace blockscope::optimizers
