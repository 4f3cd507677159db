#include "data/synthetic.h"

#include <fmt/format.h>

namespace blockscope::data {
namespace {
at::Generator generator(std::uint64_t seed) { return at::detail::createCPUGenerator(seed); }
const at::TensorOptions kFloat = at::TensorOptions().dtype(at::kFloat);
const at::TensorOptions kLong = at::TensorOptions().dtype(at::kLong);
}  // namespace

Dataset gaussian_mixture(std::int64_t examples, std::int64_t dim, std::int64_t classes, std::uint64_t seed) {
  at::Generator gen = generator(seed);
  at::Tensor means = at::normal(0.0, 1.5, {classes, dim}, gen, kFloat);
  at::Tensor labels = at::randint(classes, {examples}, gen, kLong);
  at::Tensor inputs = means.index_select(0, labels) + at::randn({examples, dim}, gen, kFloat);
  return {inputs, labels,
          fmt::format("mixture(examples={}, dim={}, classes={}, seed={})", examples, dim, classes, seed)};
}

Dataset template_images(std::int64_t examples, std::int64_t channels, std::int64_t height, std::int64_t width,
                        std::int64_t classes, std::uint64_t seed) {
  at::Generator gen = generator(seed);
  const std::int64_t cell = 4;
  at::Tensor coarse =
      at::randn({classes, channels, (height + cell - 1) / cell, (width + cell - 1) / cell}, gen, kFloat);
  at::Tensor templates =
      coarse.repeat_interleave(cell, 2).repeat_interleave(cell, 3).slice(2, 0, height).slice(3, 0, width).contiguous();
  at::Tensor labels = at::randint(classes, {examples}, gen, kLong);
  at::Tensor inputs =
      templates.index_select(0, labels) + 0.5 * at::randn({examples, channels, height, width}, gen, kFloat);
  return {inputs, labels,
          fmt::format("images(examples={}, shape={}x{}x{}, classes={}, seed={})", examples, channels, height, width,
                      classes, seed)};
}

Dataset markov_tokens(std::int64_t examples, std::int64_t length, std::int64_t vocab, std::uint64_t seed) {
  at::Generator gen = generator(seed);
  at::Tensor transition = at::softmax(3.0 * at::randn({vocab, vocab}, gen, kFloat), 1);
  at::Tensor tokens = at::empty({examples, length + 1}, kLong);
  tokens.select(1, 0).copy_(at::randint(vocab, {examples}, gen, kLong));
  for (std::int64_t t = 1; t <= length; ++t) {
    at::Tensor rows = transition.index_select(0, tokens.select(1, t - 1));
    tokens.select(1, t).copy_(at::multinomial(rows, 1, /*replacement=*/true, gen).squeeze(1));
  }
  return {tokens.slice(1, 0, length).contiguous(), tokens.slice(1, 1, length + 1).contiguous(),
          fmt::format("markov(examples={}, length={}, vocab={}, seed={})", examples, length, vocab, seed)};
}

}  // namespace blockscope::data
