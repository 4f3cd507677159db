// CPU kernels of the optimizer family; contract in step.h.
#include "optimizers/cpu/step.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "optimizers/cpu/codebook_lookup.h"
#include "optimizers/element_update.h"
#include "optimizers/math/bf16.h"
#include "optimizers/math/codebook.h"
#include "optimizers/math/companding.h"
#include "optimizers/math/fp16.h"
#include "optimizers/math/square_sum.h"
#include "optimizers/math/ulp_split.h"
#include "optimizers/spec_dispatch.h"

// The update loops are compiled twice, for x86-64-v3 (AVX2: 8 fp32 lanes) and
// for the x86-64 baseline (SSE2: 4), and picked at load time (GCC ifunc). Both
// clones do the same IEEE operations in the same order (no FMA contraction:
// -ffp-contract=off), so their results are bitwise identical. update_run and
// finish_element are force-inlined (and the small math helpers inline into
// them) so that the loops are compiled into each clone.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BLOCKSCOPE_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define BLOCKSCOPE_CPU_CLONES
#endif
#define BLOCKSCOPE_ALWAYS_INLINE inline __attribute__((always_inline))

namespace blockscope::optimizers {
namespace {

constexpr std::int64_t kSumChunk = 4096;               // fixed chunking of the Σ g² reductions
constexpr std::int64_t kTile = math::kStateGroupSize;  // companded state group
constexpr std::int64_t kTaskElements = 256 * kTile;    // parallel work item, a whole number of tiles
constexpr std::int64_t kCodebookChunk = 64;            // codebook m: elements per search batch
constexpr std::int64_t kParallelSegments = 64;

// Σ g² over [begin, end) in float64: math::square_sum_piece per chunk, then
// the chunk sums in order.
double square_sum(const float* g, std::int64_t begin, std::int64_t end, bool parallel) {
  const std::int64_t chunks = (end - begin + kSumChunk - 1) / kSumChunk;
  auto chunk_sum = [&](std::int64_t c) {
    const std::int64_t b = begin + c * kSumChunk;
    return math::square_sum_piece(g, b, std::min(end, b + kSumChunk));
  };
  double total = 0.0;
  if (!parallel || chunks == 1) {
    for (std::int64_t c = 0; c < chunks; ++c) total += chunk_sum(c);
    return total;
  }
  std::vector<double> partial(static_cast<std::size_t>(chunks));
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c) partial[static_cast<std::size_t>(c)] = chunk_sum(c);
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
    if (!tensors[i].runs()) continue;
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
    global.v_out[b] = count[b] > 0
                          ? math::second_moment(global.v_in[b],
                                                static_cast<float>(sum[b] / static_cast<double>(count[b])), *scalars[b])
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
      absmax =
          std::max(absmax, std::fabs(math::gefen_momentum(s.grad[i], s.in.m_code[i], old_scale, codebook, s.scalars)));
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

// What is constant over a run of elements: the shared v of their block and
// the old and new codebook scales of their group.
struct RunConstants {
  float v_shared = 0.0f;
  float scale_old = 0.0f;
  float scale_new = 0.0f;
};

// Elements [b, e) of one tensor, inside one shared-v range, one codebook
// scale group and (companded states) one 32-element tile. The loops carry no
// dependence between elements (out may alias in only element for element),
// so they are marked simd; the codebook search runs as a scalar middle loop.
template <UpdateRule R, FirstMoment M, SecondMoment V, WeightStorage W>
BLOCKSCOPE_ALWAYS_INLINE void update_run(const TensorStep& step, const GlobalState& global,
                                         const CodebookLookup* lookup, const RunConstants& k, float m_scale16,
                                         float v_scale16, std::int64_t b, std::int64_t e, float* m_buf, float* v_buf,
                                         std::int64_t origin) {
  // A local copy: stores through the byte-sized state pointers cannot alias
  // it, so the pointers stay in registers and the loops vectorise.
  const TensorStep s = step;
  const math::StepScalars& sc = s.scalars;
  if constexpr (M == FirstMoment::codebook) {
    const float* codebook = global.codebook;
    float x[kCodebookChunk];
    std::uint8_t q[kCodebookChunk];
    for (std::int64_t c = b; c < e; c += kCodebookChunk) {
      const std::int64_t len = std::min(e - c, kCodebookChunk);
#pragma omp simd
      for (std::int64_t j = 0; j < len; ++j) {
        x[j] = math::gefen_momentum(s.grad[c + j], s.in.m_code[c + j], k.scale_old, codebook, sc) / k.scale_new;
      }
      for (std::int64_t j = 0; j < len; ++j) {  // math::gefen_code: 0 for a zero scale
        q[j] = k.scale_new == 0.0f ? 0 : static_cast<std::uint8_t>(lookup->nearest(x[j]));
      }
#pragma omp simd
      for (std::int64_t j = 0; j < len; ++j) {
        const std::int64_t i = c + j;
        s.out.m_code[i] = q[j];
        const float v_new = finish_element<R, M, V, W>(s, i, s.grad[i], stored_weight<W>(s, i), 0.0f,
                                                       codebook[q[j]] * k.scale_new, k.v_shared, v_scale16);
        if constexpr (V == SecondMoment::companded) v_buf[i - origin] = v_new;
      }
    }
  } else {
#pragma omp simd
    for (std::int64_t i = b; i < e; ++i) {
      const float g = s.grad[i], theta = stored_weight<W>(s, i);
      const ElementMoments moments = rule_moments<R>(stored_first_moment<M>(s.in, i, m_scale16), g, theta, sc);
      const float v_new =
          finish_element<R, M, V, W>(s, i, g, theta, moments.m_new, moments.m_used, k.v_shared, v_scale16);
      if constexpr (M == FirstMoment::companded) m_buf[i - origin] = moments.m_new;
      if constexpr (V == SecondMoment::companded) v_buf[i - origin] = v_new;
    }
  }
}

// The update pass over elements [begin, end) of one tensor (begin a multiple
// of 32): cut into runs of constant RunConstants, and for companded states
// into 32-element tiles whose group scale is taken once the tile is done.
template <UpdateRule R, FirstMoment M, SecondMoment V, WeightStorage W>
BLOCKSCOPE_CPU_CLONES void update_span(const TensorLayout& t, const TensorStep& s, const GlobalState& global,
                                       const CodebookLookup* lookup, const float* new_scales, std::int64_t begin,
                                       std::int64_t end) {
  constexpr bool tiled = M == FirstMoment::companded || V == SecondMoment::companded;
  float m_buf[kTile], v_buf[kTile];
  std::int64_t range = V == SecondMoment::shared ? t.blocks.range_of(begin) : 0;
  partition::BlockRange r = V == SecondMoment::shared ? t.blocks.range(range) : partition::BlockRange{0, end, 0};
  std::int64_t group = M == FirstMoment::codebook ? t.scale_groups.index_of(begin) : 0;
  std::int64_t group_end = M == FirstMoment::codebook ? t.scale_groups.end(group) : end;
  for (std::int64_t unit = begin; unit < end;) {
    const std::int64_t unit_end = tiled ? std::min(end, unit + kTile) : end, tile = unit / kTile;
    const float m_scale16 = M == FirstMoment::companded ? math::fp16_to_float(s.in.m_scale16[tile]) : 0.0f;
    const float v_scale16 = V == SecondMoment::companded ? math::fp16_to_float(s.in.v_scale16[tile]) : 0.0f;
    for (std::int64_t i = unit; i < unit_end;) {
      RunConstants k;
      if constexpr (V == SecondMoment::shared) {
        while (i >= r.end) r = t.blocks.range(++range);
        k.v_shared = global.v_out[r.block];
      }
      if constexpr (M == FirstMoment::codebook) {
        while (i >= group_end) group_end = t.scale_groups.end(++group);
        k.scale_old = s.in.m_scale[group];
        k.scale_new = new_scales[group];
      }
      const std::int64_t run_end = std::min({unit_end, r.end, group_end});
      update_run<R, M, V, W>(s, global, lookup, k, m_scale16, v_scale16, i, run_end, m_buf, v_buf, unit);
      i = run_end;
    }
    const std::int64_t len = unit_end - unit;
    if constexpr (M == FirstMoment::companded) {
      float absmax = 0.0f;
#pragma omp simd reduction(max : absmax)
      for (std::int64_t j = 0; j < len; ++j) absmax = std::max(absmax, std::fabs(m_buf[j]));
      const float scale = math::state_group_scale(absmax);
      std::int8_t* const m_q8 = s.out.m_q8 + unit;
#pragma omp simd
      for (std::int64_t j = 0; j < len; ++j) m_q8[j] = math::compand_m(m_buf[j], scale);
      s.out.m_scale16[tile] = math::float_to_fp16(scale);
    }
    if constexpr (V == SecondMoment::companded) {
      float absmax = 0.0f;
#pragma omp simd reduction(max : absmax)
      for (std::int64_t j = 0; j < len; ++j) {
        v_buf[j] = std::sqrt(v_buf[j]);
        absmax = std::max(absmax, v_buf[j]);
      }
      const float scale = math::state_group_scale(absmax);
      std::uint8_t* const v_q8 = s.out.v_q8 + unit;
#pragma omp simd
      for (std::int64_t j = 0; j < len; ++j) v_q8[j] = math::quantize_sqrt_v(v_buf[j], scale);
      s.out.v_scale16[tile] = math::float_to_fp16(scale);
    }
    unit = unit_end;
  }
}

template <UpdateRule R, FirstMoment M, SecondMoment V, WeightStorage W>
void update_tensor(const TensorLayout& t, const TensorStep& s, const GlobalState& global,
                   const CodebookLookup* lookup) {
  std::vector<float> scales;
  if (M == FirstMoment::codebook) scales = codebook_scales(t, s, global.codebook);
  const std::int64_t tasks = (t.numel + kTaskElements - 1) / kTaskElements;
#pragma omp parallel for schedule(static)
  for (std::int64_t task = 0; task < tasks; ++task) {
    update_span<R, M, V, W>(t, s, global, lookup, scales.data(), task * kTaskElements,
                            std::min(t.numel, (task + 1) * kTaskElements));
  }
  if (M == FirstMoment::codebook) std::copy(scales.begin(), scales.end(), s.out.m_scale);
}

using UpdateFn = void (*)(const TensorLayout&, const TensorStep&, const GlobalState&, const CodebookLookup*);

UpdateFn pick(const OptimizerSpec& spec) {
  return visit_spec(spec, [](auto r, auto m, auto v, auto w) -> UpdateFn {
    return update_tensor<decltype(r)::value, decltype(m)::value, decltype(v)::value, decltype(w)::value>;
  });
}

}  // namespace

void step_cpu(const StateLayout& layout, const std::vector<TensorStep>& tensors, const GlobalState& global) {
  if (tensors.size() != layout.tensors.size()) {
    throw std::invalid_argument("step_cpu: one TensorStep per layout tensor is needed");
  }
  if (layout.spec.v == SecondMoment::shared) update_shared_v(layout, tensors, global);
  std::optional<CodebookLookup> lookup;
  if (layout.spec.m == FirstMoment::codebook) lookup.emplace(global.codebook);
  const UpdateFn update = pick(layout.spec);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].runs() && layout.tensors[i].numel > 0) {
      update(layout.tensors[i], tensors[i], global, lookup ? &*lookup : nullptr);
    }
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
  // An exponent field of all ones is ±Inf or NaN; an integer OR-reduction of
  // that test, with no early exit, vectorises.
  std::uint32_t non_finite = 0;
#pragma omp parallel for simd reduction(| : non_finite) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    non_finite |= static_cast<std::uint32_t>((math::float_bits(values[i]) & 0x7F800000u) == 0x7F800000u);
  }
  return non_finite == 0;
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
