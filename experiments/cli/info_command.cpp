// `blockscope info --model NAME|FILE.pt [--data SOURCE|FILE.h5]`: the
// parameter table of a model and, with --data, a check that the data fits
// it plus the mean loss at the current parameters.
#include <ATen/core/grad_mode.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "data/loss.h"
#include "data/sources.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/validators.h"
#include "models/data_fit.h"
#include "models/model.h"

namespace blockscope::cli {
namespace {

struct InfoOptions {
  std::string model;
  std::string data;
  std::int64_t examples = 512;
  std::uint64_t seed = 0;
};

std::string shape_string(at::IntArrayRef sizes) {
  std::string s = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

void print_parameters(const models::Model& model) {
  const auto& params = model.parameters();
  std::size_t width = 4;
  for (const auto& p : params) width = std::max(width, p.name.size());
  fmt::print("model: {}\n\n", model.description());
  fmt::print("{:<{}}  {:<18} {:>12}\n", "name", width, "shape", "numel");
  for (const auto& p : params) {
    fmt::print("{:<{}}  {:<18} {:>12}", p.name, width, shape_string(p.tensor.sizes()), p.tensor.numel());
    if (!p.aliases.empty()) fmt::print("  (tied: {})", fmt::join(p.aliases, ", "));
    fmt::print("\n");
  }
  fmt::print("\ntotal: {} parameters in {} tensors\n", model.num_parameters(), params.size());
}

// Mean loss over the whole dataset, in chunks so large files fit in memory.
double dataset_loss(models::Model& model, const data::Dataset& dataset) {
  at::NoGradGuard no_grad;
  double weighted = 0;
  for (const data::Batch& batch : data::make_batches(dataset, {256, 0, false, 0})) {
    weighted += data::mean_loss(model.forward(batch.inputs), batch.targets).item<double>() * batch.size();
  }
  return weighted / static_cast<double>(dataset.size());
}

void run_info(const InfoOptions& o) {
  std::unique_ptr<models::Model> model = models::load_model(o.model, o.seed);
  data::Dataset dataset;
  if (!o.data.empty()) {
    dataset = data::load_dataset(o.data, model->input_spec(), {o.examples, 0, o.seed});
    models::check_data_fits(*model, dataset);
  }
  print_parameters(*model);
  if (o.data.empty()) return;
  const double loss = dataset_loss(*model, dataset);
  if (!std::isfinite(loss)) {
    throw std::runtime_error(fmt::format("the loss on {} is not finite ({}): check the data's scale and the model",
                                         dataset.description, loss));
  }
  fmt::print("\ndata: {}\n  inputs {} {}, targets {} {}\n  loss: {} (mean over {} examples) = {:.6f}\n",
             dataset.description, shape_string(dataset.inputs.sizes()), std::string(dataset.inputs.dtype().name()),
             shape_string(dataset.targets.sizes()), std::string(dataset.targets.dtype().name()),
             data::loss_name(dataset.targets), dataset.size(), loss);
}

}  // namespace

void register_info(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info",
                                     "Print a model's parameter table (name, shape, numel, total); with --data, check "
                                     "the data fits and print the loss");
  auto o = std::make_shared<InfoOptions>();
  cmd->add_option("--model,-m", o->model,
                  "zoo model (see `blockscope models`), e.g. gpt:n_layer=4, or a TorchScript .pt")
      ->required();
  cmd->add_option("--data,-d", o->data, "data source (auto, mixture, images, markov, text) or FILE.h5");
  cmd->add_option("--examples", o->examples, "examples drawn from a synthetic source")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--seed", o->seed, "seed for model initialisation and synthetic data")->capture_default_str();
  cmd->callback([o] { run_info(*o); });
}

}  // namespace blockscope::cli
