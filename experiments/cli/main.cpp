// blockscope: Hessian block heterogeneity simulator — command-line entry.
// Errors from any subcommand are printed as one line and exit with status 1.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "experiments/cli/commands.h"
#include "optimizers/device.h"

namespace {

std::string version_text() {
  blockscope::optimizers::CudaStatus cuda = blockscope::optimizers::cuda_status();
  return fmt::format("blockscope {} (CUDA: {}, {} device(s))", BLOCKSCOPE_VERSION,
                     cuda.compiled ? cuda.runtime : "not compiled in", cuda.device_count);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "blockscope — measure how heterogeneous the Hessian blocks of a model are, derive "
      "partitions that share optimizer statistics, and ablate them in training."};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text);
  blockscope::cli::register_models(app);
  blockscope::cli::register_info(app);
  blockscope::cli::register_spectrum(app);
  blockscope::cli::register_dense(app);
  blockscope::cli::register_coupling(app);
  blockscope::cli::register_partition(app);
  blockscope::cli::register_report(app);
  blockscope::cli::register_diagnose(app);
  blockscope::cli::register_train(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    fmt::print(stderr, "blockscope: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
