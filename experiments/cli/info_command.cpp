// `blockscope info --model NAME|FILE.pt`: the parameter table of a model.
#include <fmt/format.h>

#include "experiments/cli/commands.h"
#include "experiments/models/model.h"

namespace blockscope::cli {
namespace {

std::string shape_string(at::IntArrayRef sizes) {
  std::string s = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

void print_info(const std::string& spec) {
  std::unique_ptr<models::Model> model = models::load_model(spec);
  const auto& params = model->parameters();
  std::size_t width = 4;
  for (const auto& p : params) width = std::max(width, p.name.size());
  fmt::print("model: {}\n\n", model->description());
  fmt::print("{:<{}}  {:<18} {:>12}\n", "name", width, "shape", "numel");
  for (const auto& p : params) {
    fmt::print("{:<{}}  {:<18} {:>12}", p.name, width, shape_string(p.tensor.sizes()), p.tensor.numel());
    if (!p.aliases.empty()) fmt::print("  (tied: {})", fmt::join(p.aliases, ", "));
    fmt::print("\n");
  }
  fmt::print("\ntotal: {} parameters in {} tensors\n", model->num_parameters(), params.size());
}

}  // namespace

void register_info(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "Print a model's parameter table (name, shape, numel, total)");
  auto spec = std::make_shared<std::string>();
  cmd->add_option("--model,-m", *spec, "zoo model (see `blockscope models`), e.g. gpt:n_layer=4, or a TorchScript .pt")
      ->required();
  cmd->callback([spec] { print_info(*spec); });
}

}  // namespace blockscope::cli
