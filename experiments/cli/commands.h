// Subcommands of the `blockscope` binary. Each register_* adds its CLI11
// subcommand with --help text and the callback that runs it.
#pragma once

#include <CLI/CLI.hpp>

namespace blockscope::cli {

void register_models(CLI::App& app);
void register_info(CLI::App& app);
void register_spectrum(CLI::App& app);
void register_dense(CLI::App& app);
void register_coupling(CLI::App& app);
void register_partition(CLI::App& app);
void register_report(CLI::App& app);
void register_diagnose(CLI::App& app);
void register_train(CLI::App& app);
void register_ablate(CLI::App& app);

}  // namespace blockscope::cli
