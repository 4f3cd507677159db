// Optimizer specification: one kernel family configured by three orthogonal
// storage choices plus the weight-decay mask (docs/algorithms.md §5–7).
//
//   v (second moment)  element    per-element fp32 (AdamW)
//                      shared     one fp32 scalar per Partition block (Adam-mini, Gefen)
//                      companded  per-element uint8 on √v, groups of 32, fp16 scale (FlashOptim)
//   m (first moment)   fp32 | bf16 (round to nearest even)
//                      codebook   8-bit Gefen codebook, fp32 absmax scale per Partition
//                                 range (for a period-1 tensor: per chunk of the largest
//                                 divisor of numel ≤ 256, as Gefen does)
//                      companded  int8 companded, groups of 32, fp16 scale (FlashOptim)
//   w (weights)        fp32 | bf16+int8 | bf16+int16 (parameter holds bf16(θ) exactly,
//                      the optimizer keeps the ULP correction ρ, FlashOptim)
//   exclude            lower-cased name substrings that get no weight decay
//                      (':'-separated, or "none")
//   p1                 Gefen codebook histogram for period-1 tensors: "reference"
//                      normalises each element by itself (Gefen v1.2.3 quirk),
//                      "fixed" normalises by the tensor's momentum-scale chunk
//
// A spec string is a preset name and/or comma-separated key=value pairs applied
// on top of it (default preset adamw), e.g. "v=shared,m=codebook,w=fp32" or
// "gefen,exclude=none". Presets:
//   adamw        v=element,m=fp32,w=fp32,exclude=none          (torch.optim.AdamW decays
//                                                               every parameter it is given)
//   adam-mini    v=shared,m=fp32,w=fp32,exclude=norm:ln:bias    (zyushun/Adam-mini)
//   gefen        v=shared,m=codebook,w=fp32,exclude=norm:ln:bias,p1=reference (ndvbd/Gefen)
//   flash-adamw  v=companded,m=companded,w=bf16+int8,exclude=none (databricks/flashoptim)
// v and every scale are fp32 except the fp16 group scales of the companded states.
// Where the parameter moves by: codebook m moves it by the QUANTISED momentum
// (Gefen); every other m moves it by the fp32 momentum of this step, then stores
// it in its format (FlashOptim, bf16). No torch here.
#pragma once

#include <string>
#include <vector>

namespace blockscope::optimizers {

enum class SecondMoment { element, shared, companded };
enum class FirstMoment { fp32, bf16, codebook, companded };
enum class WeightStorage { fp32, bf16_int8, bf16_int16 };

struct OptimizerSpec {
  SecondMoment v = SecondMoment::element;
  FirstMoment m = FirstMoment::fp32;
  WeightStorage w = WeightStorage::fp32;
  std::vector<std::string> decay_exclude;  // lower-cased substrings
  bool codebook_p1_quirk = true;

  // Canonical "v=…,m=…,w=…,exclude=…,p1=…" (parse_optimizer_spec of it gives *this).
  std::string to_string() const;
  // False for names containing any excluded substring (case-insensitive).
  bool decays(const std::string& parameter_name) const;
  bool operator==(const OptimizerSpec& other) const;
  bool operator!=(const OptimizerSpec& other) const { return !(*this == other); }
};

// Parses a preset name or spec string (see above). Throws std::invalid_argument
// with one line listing the valid presets, keys or values.
OptimizerSpec parse_optimizer_spec(const std::string& text);

std::vector<std::string> optimizer_preset_names();

// The partition strategy a preset is meant for: per-element (adamw, flash-adamw,
// and any spec without shared v), adam-mini, gefen (codebook m).
std::string default_partition_strategy(const OptimizerSpec& spec);

}  // namespace blockscope::optimizers
