// The one dispatch from a runtime OptimizerSpec to code templated on its
// storage choices: visit_spec(spec, f) calls f(m, v, w) with
// std::integral_constant tags, so f reads the choices as constants
// (decltype(m)::value). Used by the CPU and CUDA kernels to pick their
// instantiation; every combination is instantiated, so f must return one type.
#pragma once

#include <stdexcept>
#include <type_traits>

#include "optimizers/spec.h"

namespace blockscope::optimizers {

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

template <class F>
decltype(auto) visit_second_moment(SecondMoment v, F&& f) {
  switch (v) {
    case SecondMoment::element:
      return f(std::integral_constant<SecondMoment, SecondMoment::element>{});
    case SecondMoment::shared:
      return f(std::integral_constant<SecondMoment, SecondMoment::shared>{});
    case SecondMoment::companded:
      return f(std::integral_constant<SecondMoment, SecondMoment::companded>{});
  }
  throw std::logic_error("unknown second moment storage");
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
  return visit_first_moment(spec.m, [&](auto m) {
    return visit_second_moment(
        spec.v, [&](auto v) { return visit_weight_storage(spec.w, [&](auto w) { return f(m, v, w); }); });
  });
}

}  // namespace blockscope::optimizers
