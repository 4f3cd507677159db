#include "models/data_fit.h"

#include <c10/core/GradMode.h>
#include <fmt/format.h>

#include "data/loss.h"
#include "data/sources.h"
#include "io/h5_tensor.h"
#include "models/torch_error.h"

namespace blockscope::models {
namespace {

std::string describe(const at::Tensor& t) {
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return fmt::format("{} {}", io::dtype_name(t.scalar_type()), s + "]");
}

}  // namespace

void check_data_fits(Model& model, const data::Dataset& d) {
  data::check_dataset_fits(d, model.input_spec());
  // The first example, and the one with the largest input (for token ids: the id an embedding must hold).
  const std::int64_t largest = d.inputs.reshape({d.size(), -1}).amax(1).argmax().item<std::int64_t>();
  const at::Tensor rows = at::tensor(std::vector<std::int64_t>{0, largest}, at::kLong);
  const at::Tensor inputs = d.inputs.index_select(0, rows), targets = d.targets.index_select(0, rows);
  at::Tensor outputs;
  {
    at::NoGradGuard no_grad;
    model.set_training(false);
    try {
      outputs = model.forward(inputs);
    } catch (const std::exception& e) {
      const bool tokens = !at::isFloatingType(d.inputs.scalar_type());
      const std::string hint =
          tokens ? fmt::format(
                       "token ids must lie below the model's vocabulary and sequences fit its position table; "
                       "the data has ids up to {} and length {}",
                       d.inputs.max().item<std::int64_t>(), d.inputs.dim() > 1 ? d.inputs.size(1) : 1)
                 : "give data shaped and typed as the model's forward(x) expects";
      throw std::runtime_error(
          fmt::format("{}: dataset 'inputs' ({}) does not fit model {}: its forward pass fails "
                      "with \"{}\" ({})",
                      d.description, describe(d.inputs), model.description(), torch_error_message(e), hint));
    }
  }
  if (!at::isFloatingType(d.targets.scalar_type()) && outputs.dim() > 0) {
    const std::int64_t classes = outputs.size(-1);
    const std::int64_t lo = d.targets.min().item<std::int64_t>(), hi = d.targets.max().item<std::int64_t>();
    if (lo < 0 || hi >= classes) {
      throw std::runtime_error(
          fmt::format("{}: dataset 'targets' holds class ids in [{}, {}] but model {} has {} "
                      "outputs, so ids must lie in [0, {})",
                      d.description, lo, hi, model.description(), classes, classes));
    }
  }
  try {
    (void)data::mean_loss(outputs, targets);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: dataset 'targets' ({}) does not fit the outputs {} of model {}: {}",
                                         d.description, describe(d.targets), describe(outputs), model.description(),
                                         torch_error_message(e)));
  }
}

}  // namespace blockscope::models
