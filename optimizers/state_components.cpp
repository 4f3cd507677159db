// The state component table; contract in state_components.h.
#include "optimizers/state_components.h"

#include <stdexcept>

#include "optimizers/state_layout.h"

namespace blockscope::optimizers {

std::int64_t dtype_bytes(StateDtype dtype) {
  switch (dtype) {
    case StateDtype::fp32:
      return 4;
    case StateDtype::uint8:
    case StateDtype::int8:
      return 1;
    case StateDtype::bits16:
    case StateDtype::int16:
      return 2;
  }
  throw std::logic_error("unknown state dtype");
}

const char* slot_name(StateSlot slot) {
  static const char* const names[kStateSlots] = {"m", "m_scale", "v", "v_scale", "rho"};
  return names[static_cast<int>(slot)];
}

std::int64_t StateComponent::bytes() const { return elements * dtype_bytes(dtype); }

void StateComponent::bind(TensorState& s, void* data) const {
  auto* u16 = static_cast<std::uint16_t*>(data);
  switch (slot) {
    case StateSlot::m:
      if (dtype == StateDtype::fp32) s.m_fp32 = static_cast<float*>(data);
      if (dtype == StateDtype::bits16) s.m_bf16 = u16;
      if (dtype == StateDtype::uint8) s.m_code = static_cast<std::uint8_t*>(data);
      if (dtype == StateDtype::int8) s.m_q8 = static_cast<std::int8_t*>(data);
      return;
    case StateSlot::m_scale:
      if (dtype == StateDtype::fp32) s.m_scale = static_cast<float*>(data);
      if (dtype == StateDtype::bits16) s.m_scale16 = u16;
      return;
    case StateSlot::v:
      if (dtype == StateDtype::fp32) s.v_fp32 = static_cast<float*>(data);
      if (dtype == StateDtype::uint8) s.v_q8 = static_cast<std::uint8_t*>(data);
      return;
    case StateSlot::v_scale:
      s.v_scale16 = u16;
      return;
    case StateSlot::rho:
      if (dtype == StateDtype::int8) s.rho8 = static_cast<std::int8_t*>(data);
      if (dtype == StateDtype::int16) s.rho16 = static_cast<std::int16_t*>(data);
      return;
  }
}

std::vector<StateComponent> tensor_components(const OptimizerSpec& spec, const TensorLayout& t) {
  const std::int64_t n = t.numel, tiles = t.groups32();
  std::vector<StateComponent> c;
  auto add = [&](StateSlot slot, StateDtype dtype, std::int64_t elements, ByteClass counts_as) {
    c.push_back({slot, slot_name(slot), dtype, elements, counts_as});
  };
  switch (spec.m) {
    case FirstMoment::fp32:
      add(StateSlot::m, StateDtype::fp32, n, ByteClass::m);
      break;
    case FirstMoment::bf16:
      add(StateSlot::m, StateDtype::bits16, n, ByteClass::m);
      break;
    case FirstMoment::codebook:
      add(StateSlot::m, StateDtype::uint8, n, ByteClass::m);
      add(StateSlot::m_scale, StateDtype::fp32, t.scale_groups.count(), ByteClass::scales);
      break;
    case FirstMoment::companded:
      add(StateSlot::m, StateDtype::int8, n, ByteClass::m);
      add(StateSlot::m_scale, StateDtype::bits16, tiles, ByteClass::scales);
      break;
  }
  switch (spec.v) {
    case SecondMoment::element:
      add(StateSlot::v, StateDtype::fp32, n, ByteClass::v);
      break;
    case SecondMoment::shared:  // the global v [num_blocks]
    case SecondMoment::none:
      break;
    case SecondMoment::companded:
      add(StateSlot::v, StateDtype::uint8, n, ByteClass::v);
      add(StateSlot::v_scale, StateDtype::bits16, tiles, ByteClass::scales);
      break;
  }
  if (spec.w == WeightStorage::bf16_int8) add(StateSlot::rho, StateDtype::int8, n, ByteClass::weight_correction);
  if (spec.w == WeightStorage::bf16_int16) add(StateSlot::rho, StateDtype::int16, n, ByteClass::weight_correction);
  return c;
}

}  // namespace blockscope::optimizers
