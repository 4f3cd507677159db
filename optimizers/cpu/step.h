// CPU reference of the partition-driven optimizer kernel family (the
// specification the CUDA kernels follow; docs/style.md 1–2). Pure functions over
// state views: every step reads (state in, gradient, parameters in) and
// writes (state out, parameters out); `out` may alias `in` component by
// component (commit in place) or point to scratch buffers (shadow mode:
// compare candidates from one state and gradient without committing).
//
// One step (StateLayout l, per tensor TensorStep, fp32 throughout; per-element
// math from optimizers/math/adam_update.h, formats from companding.h, bf16.h,
// ulp_split.h, codebook.h):
//   shared v, pass 1: per range, Σ g² in float64 over fixed 4096-element chunks
//     (chunk sums by math::square_sum_piece, then summed in order), ranges added into their
//     global block in tensor order then range order; v_b ← β2 v_b + (1−β2)·
//     fp32(Σ/count), β2 from the block's first active tensor. Ranges of
//     inactive tensors do not count; a block with no active range keeps its v.
//   codebook m, pass A: per scale group, s_new = max |β1·c[q]·s_old + (1−β1) g|.
//   update pass, over runs of elements that share a v block and a codebook
//     scale group (and a 32-element tile, the companded groups), as simd
//     loops (the codebook search, cpu/codebook_lookup.h, scalar): θ from the
//     parameter (+ ULP correction), m and v dequantised, m ← β1 m + (1−β1) g,
//     v ← β2 v + (1−β2) g² (per element) or v_b; θ ← θ·(1−lr·wd) − step_size·
//     m_used / (√v/√(1−β2^t) + eps) with m_used = c[q_new]·s_new for the
//     codebook, else the fp32 m; then m, v, θ stored in their formats.
//     Rules sgd and lion (math/momentum_update.h) have no v and move θ by
//     their momentum (sgd) or its sign (lion) in the same pass.
// Results are identical for any OpenMP thread count: every reduction has a
// fixed order (sums) or is exact (max). Inactive tensors (active false or
// skip_if set: a non-finite gradient under policy skip) are not touched. Not
// here: allocation, device routing, non-fp32 gradients, the step counter
// (scalars come in per tensor).
#pragma once

#include <cstdint>
#include <vector>

#include "optimizers/math/adam_update.h"
#include "optimizers/state_layout.h"
#include "optimizers/state_views.h"

namespace blockscope::optimizers {

// One step of every tensor (layout.tensors[i] ↔ tensors[i]).
void step_cpu(const StateLayout& layout, const std::vector<TensorStep>& tensors, const GlobalState& global);

// Gefen's codebook from first-step gradients (grads[i] of layout.tensors[i],
// nullptr = left out): each histogram group normalised by its absmax, 4096-bin
// histogram, math::learn_codebook. Throws when every gradient is left out.
std::vector<float> learn_codebook_cpu(const StateLayout& layout, const std::vector<const float*>& grads);

// True when all n values are finite.
bool all_finite_cpu(const float* values, std::int64_t n);

// Splits fp32 weights into bf16 values (written back to params) and ρ
// (rho8 or rho16 by spec.w); no-op for fp32 weights.
void split_weights_cpu(WeightStorage w, float* params, std::int64_t n, std::int8_t* rho8, std::int16_t* rho16);

}  // namespace blockscope::optimizers
