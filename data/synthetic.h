// Deterministic synthetic datasets (same seed → same tensors on CPU).
#pragma once

#include "data/dataset.h"

namespace blockscope::data {

// x = μ_y + ε, μ_k ~ N(0, 1.5²·I), ε ~ N(0, I); targets int64 [N].
Dataset gaussian_mixture(std::int64_t examples, std::int64_t dim, std::int64_t classes, std::uint64_t seed);
// x = T_y + 0.5·ε with T_k a 4×4-blocky N(0,1) template [C, H, W]; targets [N].
Dataset template_images(std::int64_t examples, std::int64_t channels, std::int64_t height, std::int64_t width,
                        std::int64_t classes, std::uint64_t seed);
// Sequences of length+1 tokens from a Markov chain whose transition rows are
// softmax(3·N(0,1)); inputs = tokens[:, :-1], targets = tokens[:, 1:].
Dataset markov_tokens(std::int64_t examples, std::int64_t length, std::int64_t vocab, std::uint64_t seed);

}  // namespace blockscope::data
