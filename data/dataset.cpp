#include "data/dataset.h"

#include <fmt/format.h>

#include <cmath>

namespace blockscope::data {

std::vector<Batch> make_batches(const Dataset& dataset, const BatchOptions& options) {
  if (options.batch_size <= 0) {
    throw std::runtime_error(fmt::format("the batch size must be positive (got {})", options.batch_size));
  }
  if (options.num_batches < 0) {
    throw std::runtime_error(fmt::format("the number of batches must be ≥ 0 (got {})", options.num_batches));
  }
  const std::int64_t n = dataset.size();
  const std::int64_t wanted = options.num_batches * options.batch_size;
  if (wanted > n) {
    throw std::runtime_error(fmt::format(
        "{} batches of {} examples need {} examples but the data has {} (use fewer or smaller batches, or more "
        "examples)",
        options.num_batches, options.batch_size, wanted, n));
  }
  at::Tensor order;
  if (options.shuffle) {
    at::Generator gen = at::detail::createCPUGenerator(options.seed);
    order = at::randperm(n, gen, at::TensorOptions().dtype(at::kLong));
  }
  const std::int64_t used = options.num_batches > 0 ? wanted : n;
  std::vector<Batch> batches;
  for (std::int64_t start = 0; start < used; start += options.batch_size) {
    const std::int64_t end = std::min(start + options.batch_size, used);
    if (options.shuffle) {
      at::Tensor idx = order.slice(0, start, end);
      batches.push_back({dataset.inputs.index_select(0, idx), dataset.targets.index_select(0, idx)});
    } else {
      batches.push_back({dataset.inputs.slice(0, start, end), dataset.targets.slice(0, start, end)});
    }
  }
  return batches;
}

HeldOutSplit split_held_out(const Dataset& dataset, double fraction) {
  if (!(fraction >= 0.0 && fraction < 1.0)) {
    throw std::runtime_error(fmt::format("the held-out fraction must lie in [0, 1) (got {})", fraction));
  }
  const std::int64_t n = dataset.size();
  // ⌈fraction·N⌉, where a product that is an integer up to rounding (0.1·30) counts as that integer
  const double exact = fraction * static_cast<double>(n), nearest = std::round(exact);
  const auto held = static_cast<std::int64_t>(std::abs(exact - nearest) <= 1e-9 * nearest ? nearest : std::ceil(exact));
  if (held >= n) {
    throw std::runtime_error(fmt::format(
        "holding out {} of {} examples leaves none to train on (hold out a smaller fraction or give more data)", held,
        n));
  }
  const std::int64_t cut = n - held;
  auto part = [&](std::int64_t begin, std::int64_t end, const char* role) {
    std::string description = fmt::format("{} [{} examples {}..{}]", dataset.description, role, begin, end);
    if (held == 0) description = begin == 0 ? dataset.description : "none";
    return Dataset{dataset.inputs.slice(0, begin, end), dataset.targets.slice(0, begin, end), description};
  };
  return {part(0, cut, "train"), part(cut, n, "held-out")};
}

Dataset to_dtype(const Dataset& dataset, at::ScalarType dtype) {
  Dataset out = dataset;
  if (at::isFloatingType(out.inputs.scalar_type())) out.inputs = out.inputs.to(dtype);
  if (at::isFloatingType(out.targets.scalar_type())) out.targets = out.targets.to(dtype);
  return out;
}

}  // namespace blockscope::data
