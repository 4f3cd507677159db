// The options every Hessian subcommand shares (spectrum, dense, coupling).
#pragma once

#include <CLI/CLI.hpp>

#include "analysis/hessian_session.h"

namespace blockscope::cli {

// Adds --model, --params, --data, --batch-size, --batches, --examples,
// --dtype, --seed, --graph-memory-gib, --blocks, --max-blocks.
void add_hessian_options(CLI::App& command, analysis::HessianInputs& inputs);

}  // namespace blockscope::cli
