// `blockscope models`: the zoo with default parameter counts and options,
// and the data sources.
#include <fmt/format.h>

#include "data/sources.h"
#include "experiments/cli/commands.h"
#include "models/zoo/zoo.h"

namespace blockscope::cli {

void register_models(CLI::App& app) {
  CLI::App* cmd =
      app.add_subcommand("models", "List the built-in models (with default sizes and options) and data sources");
  cmd->callback([] {
    fmt::print("Built-in models (use --model NAME or NAME:key=value,...; or a TorchScript .pt):\n\n");
    for (const models::ZooEntry& entry : models::zoo()) {
      std::unique_ptr<models::Model> model = models::load_model(entry.name);
      fmt::print("{:<8} {:>9} params  {}\n", entry.name, model->num_parameters(), entry.summary);
      for (const models::OptionDoc& o : entry.options) {
        fmt::print("           {:<12} = {:<6} {}\n", o.key, o.default_value, o.help);
      }
      fmt::print("\n");
    }
    fmt::print("Data sources (--data):\n");
    for (const data::SourceDoc& d : data::source_docs()) fmt::print("  {:<8} {}\n", d.name, d.summary);
  });
}

}  // namespace blockscope::cli
