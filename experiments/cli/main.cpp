// blockscope: Hessian block heterogeneity simulator — command-line entry.
// Errors from any subcommand are printed as one line and exit with status 1.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <H5Cpp.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <exception>
#include <new>

#include "experiments/cli/commands.h"
#include "io/crash_guard.h"
#include "io/h5_file.h"
#include "models/torch_error.h"
#include "optimizers/device.h"

namespace {

std::string version_text() {
  blockscope::optimizers::CudaStatus cuda = blockscope::optimizers::cuda_status();
  return fmt::format("blockscope {} (CUDA: {}, {} device(s))", BLOCKSCOPE_VERSION,
                     cuda.compiled ? cuda.runtime : "not compiled in", cuda.device_count);
}

// Levenshtein distance, for suggesting the nearest subcommand.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitute = diagonal + (a[i - 1] != b[j - 1]);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

// Empty when `word` is a subcommand of `app` or an option; else the error line.
std::string unknown_subcommand_error(const CLI::App& app, const std::string& word) {
  if (word.empty() || word[0] == '-') return "";
  std::string nearest;
  std::size_t best = std::string::npos;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == word) return "";
    const std::size_t d = edit_distance(word, sub->get_name());
    if (d < best) best = d, nearest = sub->get_name();
  }
  return fmt::format("unknown subcommand '{}'{} (`blockscope --help` lists them)", word,
                     best <= 3 ? fmt::format(": did you mean '{}'?", nearest) : "");
}

std::string command_line(int argc, char** argv) {
  std::vector<std::string> words(argv, argv + argc);
  return fmt::format("{}", fmt::join(words, " "));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "blockscope — measure how heterogeneous the Hessian blocks of a model are, derive "
      "partitions that share optimizer statistics, and ablate them in training."};
  app.require_subcommand(1);
  // One line, like every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return fmt::format("blockscope: error: {} (see --help)\n", e.what());
  });
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
  blockscope::cli::register_ablate(app);
  if (argc > 1) {
    const std::string error = unknown_subcommand_error(app, argv[1]);
    if (!error.empty()) {
      fmt::print(stderr, "blockscope: error: {}\n", error);
      return 1;
    }
  }
  blockscope::io::set_provenance(BLOCKSCOPE_VERSION, command_line(argc, argv));
  blockscope::io::install_crash_guard();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;  // --help and --version exit 0; every error exits 1
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "blockscope: error: out of memory (use a smaller model, batch or --batches)\n");
    return 1;
  } catch (const std::exception& e) {
    // LibTorch and TorchScript errors carry a C++ or interpreter backtrace: one line of it names the problem.
    fmt::print(stderr, "blockscope: error: {}\n", blockscope::models::torch_error_message(e));
    return 1;
  } catch (const H5::Exception& e) {
    fmt::print(stderr, "blockscope: error: HDF5: {} in {} (is the file corrupt or not written by blockscope?)\n",
               blockscope::models::first_line(e.getDetailMsg()), e.getFuncName());
    return 1;
  } catch (...) {
    fmt::print(stderr, "blockscope: error: an unexpected error (please report it with the command line)\n");
    return 1;
  }
  return 0;
}
