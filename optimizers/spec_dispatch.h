// The one dispatch from a runtime OptimizerSpec to code templated on its rule
// and storage choices: visit_spec(spec, f) calls f(r, m, v, w) with
// std::integral_constant tags, so f reads the choices as constants
// (decltype(m)::value). Used by the CPU and CUDA kernels to pick their
// instantiation. Only the combinations parse_optimizer_spec accepts are
// instantiated (rule adam: every m, v element|shared|companded; sgd and
// lion: m fp32|bf16|companded, v none), all of them, so f must return one type.
#pragma once

#include <stdexcept>
#include <type_traits>

#include "optimizers/spec.h"

namespace blockscope::optimizers {

template <auto Value>
using Tag = std::integral_constant<decltype(Value), Value>;

template <class F>
decltype(auto) visit_first_moment(FirstMoment m, F&& f) {
  switch (m) {
    case FirstMoment::fp32:
      return f(std::integral_constant<FirstMoment, FirstMoment::fp32>{});
    case FirstMoment::bf16:
      return f(std::integral_constant<FirstMoment, FirstMoment::bf16>{});
    case FirstMoment::codebook:
      return f(std::integral_constant<FirstMoment, FirstMoment::codebook>{});
    case FirstMoment::companded:
      return f(std::integral_constant<FirstMoment, FirstMoment::companded>{});
  }
  throw std::logic_error("unknown first moment storage");
}

// The first moments of the momentum-only rules (no codebook).
template <class F>
decltype(auto) visit_momentum_first_moment(FirstMoment m, F&& f) {
  switch (m) {
    case FirstMoment::fp32:
      return f(Tag<FirstMoment::fp32>{});
    case FirstMoment::bf16:
      return f(Tag<FirstMoment::bf16>{});
    case FirstMoment::companded:
      return f(Tag<FirstMoment::companded>{});
    case FirstMoment::codebook:
      break;
  }
  throw std::logic_error("rules sgd and lion take no codebook m");
}

// The second moments of rule adam (not none).
template <class F>
decltype(auto) visit_second_moment(SecondMoment v, F&& f) {
  switch (v) {
    case SecondMoment::element:
      return f(std::integral_constant<SecondMoment, SecondMoment::element>{});
    case SecondMoment::shared:
      return f(std::integral_constant<SecondMoment, SecondMoment::shared>{});
    case SecondMoment::companded:
      return f(std::integral_constant<SecondMoment, SecondMoment::companded>{});
    case SecondMoment::none:
      break;
  }
  throw std::logic_error("rule adam needs a second moment");
}

template <class F>
decltype(auto) visit_weight_storage(WeightStorage w, F&& f) {
  switch (w) {
    case WeightStorage::fp32:
      return f(std::integral_constant<WeightStorage, WeightStorage::fp32>{});
    case WeightStorage::bf16_int8:
      return f(std::integral_constant<WeightStorage, WeightStorage::bf16_int8>{});
    case WeightStorage::bf16_int16:
      return f(std::integral_constant<WeightStorage, WeightStorage::bf16_int16>{});
  }
  throw std::logic_error("unknown weight storage");
}

template <class F>
decltype(auto) visit_spec(const OptimizerSpec& spec, F&& f) {
  return visit_weight_storage(spec.w, [&](auto w) {
    auto momentum_only = [&](auto r) {
      if (spec.v != SecondMoment::none) throw std::logic_error("rules sgd and lion keep no second moment");
      return visit_momentum_first_moment(spec.m, [&](auto m) { return f(r, m, Tag<SecondMoment::none>{}, w); });
    };
    switch (spec.rule) {
      case UpdateRule::sgd:
        return momentum_only(Tag<UpdateRule::sgd>{});
      case UpdateRule::lion:
        return momentum_only(Tag<UpdateRule::lion>{});
      case UpdateRule::adam:
        break;
    }
    return visit_first_moment(spec.m, [&](auto m) {
      return visit_second_moment(spec.v, [&](auto v) { return f(Tag<UpdateRule::adam>{}, m, v, w); });
    });
  });
}

}  // namespace blockscope::optimizers
