// Optimizer specification: one kernel family configured by an update rule,
// three orthogonal storage choices and the weight-decay mask
// (docs/algorithms.md §5–7, §11; Nesterov momentum is not offered).
//
//   rule               adam       m, v; θ ← θ·(1−lr·wd) − lr/(1−β1^t)·m/(√v̂ + eps)
//                      sgd        heavy-ball momentum as torch.optim.SGD (dampening 0,
//                                 no Nesterov): d = g + wd·θ, m ← β1 m + d, θ ← θ − lr·m
//                                 (β1 is the momentum; weight decay coupled, L2)
//                      lion       Lion (arXiv 2302.06675 Alg. 2): θ ← θ·(1−lr·wd)
//                                 − lr·sign(β1 m + (1−β1) g), then m ← β2 m + (1−β2) g
//                      sgd and lion keep no second moment (v=none) and take
//                      m=fp32|bf16|companded; adam needs a v other than none.
//   v (second moment)  element    per-element fp32 (AdamW)
//                      shared     one fp32 scalar per Partition block (Adam-mini, Gefen)
//                      companded  per-element uint8 on √v, groups of 32, fp16 scale (FlashOptim)
//                      none       no second moment (rules sgd, lion)
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
//   sgd          rule=sgd,v=none,m=fp32,w=fp32,exclude=none      (torch.optim.SGD)
//   lion         rule=lion,v=none,m=fp32,w=fp32,exclude=none     (Lion, lucidrains/lion-pytorch)
//   flash-sgd    rule=sgd,v=none,m=companded,w=bf16+int8,exclude=none  (FlashOptim's SGD:
//   flash-lion   rule=lion,v=none,m=companded,w=bf16+int8,exclude=none  2.0625 B/param)
// Keys not given keep the preset's value (default preset adamw: rule=adam).
// v and every scale are fp32 except the fp16 group scales of the companded states.
// Where the parameter moves by: codebook m moves it by the QUANTISED momentum
// (Gefen); every other m moves it by the fp32 momentum of this step, then stores
// it in its format (FlashOptim, bf16). No torch here.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace blockscope::optimizers {

enum class UpdateRule { adam, sgd, lion };
enum class SecondMoment { element, shared, companded, none };
enum class FirstMoment { fp32, bf16, codebook, companded };
enum class WeightStorage { fp32, bf16_int8, bf16_int16 };

struct OptimizerSpec {
  UpdateRule rule = UpdateRule::adam;
  SecondMoment v = SecondMoment::element;
  FirstMoment m = FirstMoment::fp32;
  WeightStorage w = WeightStorage::fp32;
  std::vector<std::string> decay_exclude;  // lower-cased substrings
  bool codebook_p1_quirk = true;

  // Canonical "rule=…,v=…,m=…,w=…,exclude=…,p1=…" (parse_optimizer_spec of it gives *this).
  std::string to_string() const;
  // False for names containing any excluded substring (case-insensitive).
  bool decays(const std::string& parameter_name) const;
  bool operator==(const OptimizerSpec& other) const;
  bool operator!=(const OptimizerSpec& other) const { return !(*this == other); }
};

// Parses a preset name or spec string (see above). Throws std::invalid_argument
// with one line listing the valid presets, keys or values, or naming a rule
// and storage that do not go together (sgd with a v, adam without one,
// sgd/lion with codebook m).
OptimizerSpec parse_optimizer_spec(const std::string& text);

std::vector<std::string> optimizer_preset_names();

// (β1, β2) a rule starts from when none are given: adam (0.9, 0.999) as
// torch.optim.AdamW; sgd (0.9, 0), β1 being its momentum; lion (0.9, 0.99) as
// arXiv 2302.06675.
std::pair<double, double> default_betas(UpdateRule rule);

// The partition strategy a preset is meant for: per-element (adamw, flash-adamw,
// sgd, lion and any spec without shared v), adam-mini, gefen (codebook m).
std::string default_partition_strategy(const OptimizerSpec& spec);

}  // namespace blockscope::optimizers
