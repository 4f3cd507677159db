// The optimizer state components of a spec (spec.h), one table that
// allocation, state views, bytes(), checkpoints and byte reports all read:
// per tensor of numel n (flattened row-major),
//   slot     name      spec                   field       dtype  elements
//   m        m         m=fp32                 m_fp32      fp32   n
//                      m=bf16                 m_bf16      bits16 n  (bf16 bit patterns)
//                      m=codebook             m_code      uint8  n  (codebook index)
//                      m=companded            m_q8        int8   n
//   m_scale  m_scale   m=codebook             m_scale     fp32   scale groups
//                      m=companded            m_scale16   bits16 ceil(n/32)  (fp16 bits)
//   v        v         v=element              v_fp32      fp32   n
//                      v=companded            v_q8        uint8  n
//   v_scale  v_scale   v=companded            v_scale16   bits16 ceil(n/32)  (fp16 bits)
//   rho      rho       w=bf16+int8            rho8        int8   n
//                      w=bf16+int16           rho16       int16  n
// Global: shared v fp32 [num_blocks] (v=shared); codebook fp32 [256]
// (m=codebook). Each component counts towards one StateBytes class (m, v,
// scales, weight_correction). No torch.
#pragma once

#include <cstdint>
#include <vector>

#include "optimizers/spec.h"
#include "optimizers/state_views.h"

namespace blockscope::optimizers {

struct TensorLayout;
struct StateLayout;

enum class StateSlot { m, m_scale, v, v_scale, rho };
constexpr int kStateSlots = 5;
enum class StateDtype { fp32, uint8, int8, bits16, int16 };
enum class ByteClass { m, v, scales, weight_correction };

struct StateComponent {
  StateSlot slot;
  const char* name;  // the slot's name ("m", "m_scale", …): checkpoint datasets, messages
  StateDtype dtype;
  std::int64_t elements;
  ByteClass counts_as;
  // Points the matching TensorState field (m_fp32, m_code, …) at `data`.
  void bind(TensorState& state, void* data) const;
  std::int64_t bytes() const;
};

std::int64_t dtype_bytes(StateDtype dtype);
const char* slot_name(StateSlot slot);

// The components one tensor has under layout.spec, in slot order.
std::vector<StateComponent> tensor_components(const OptimizerSpec& spec, const TensorLayout& tensor);

}  // namespace blockscope::optimizers
