// What a model consumes per example, so a data source can be matched to it.
#pragma once

#include <cstdint>
#include <vector>

namespace blockscope::data {

struct InputSpec {
  enum class Kind { kFeatures, kImage, kTokens, kUnknown };
  Kind kind = Kind::kUnknown;               // kUnknown: a TorchScript model
  std::vector<std::int64_t> example_shape;  // [d] | [C, H, W] | [T] (T = max context)
  std::int64_t vocab = 0;                   // kTokens: token ids lie in [0, vocab)
  std::int64_t num_classes = 0;             // classifier outputs (kTokens: = vocab)
};

}  // namespace blockscope::data
