// `blockscope ablate`: a grid of training runs (experiments/ablation/)
// gathered into one ablation file (blockscope.ablation/1), a summary table on
// stdout, progress with an ETA across cells on stderr, and with --plots the
// loss-curve, Pareto and learning-rate figures. A hidden worker mode runs one
// cell; the runner starts it as a process of this same binary.
#include <fmt/format.h>

#include <cmath>

#include "experiments/ablation/ablation.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/validators.h"
#include "experiments/plots/plots.h"
#include "io/h5_file.h"
#include "io/progress_bar.h"

namespace blockscope::cli {
namespace {

struct AblateOptions {
  std::string config;
  ablation::AblationOptions run;
  std::string plots;
  std::string worker_dir;  // hidden: run one cell of this work folder
  std::int64_t worker_cell = -1;
};

std::string number(double v, const char* format) {
  return std::isnan(v) ? std::string("-") : fmt::format(fmt::runtime(format), v);
}

void print_summary(const ablation::AblationSummary& s) {
  fmt::print("{:>4}  {:<14} {:<10} {:<16} {:<12} {:>8} {:>4}  {:>9} {:>9} {:>7} {:>10} {:>8}  {}\n", "cell", "model",
             "data", "partition", "optimizer", "lr", "seed", "held-out", "best", "B/param", "tokens/s", "peak MB",
             "status");
  for (const ablation::CellResult& r : s.cells) {
    const ablation::Cell& c = r.cell;
    const double bytes_per_param =
        r.done ? static_cast<double>(r.run.state_bytes.total()) / static_cast<double>(r.run.parameters) : std::nan("");
    const std::string status = !r.done ? "failed: " + r.error : r.diverged() ? "diverged" : r.reused ? "(earlier)" : "";
    fmt::print("{:>4}  {:<14} {:<10} {:<16} {:<12} {:>8} {:>4}  {:>9} {:>9} {:>7} {:>10} {:>8}  {}\n", c.index, c.model,
               c.data, c.partition, c.optimizer, fmt::format("{:g}", c.lr), c.seed,
               number(r.final_eval_loss(), "{:.4f}"), number(r.best_eval_loss(), "{:.4f}"),
               number(bytes_per_param, "{:.3f}"), number(r.done ? r.tokens_per_second() : std::nan(""), "{:.0f}"),
               number(r.done ? static_cast<double>(r.peak_rss_bytes) / 1e6 : std::nan(""), "{:.0f}"), status);
  }
}

void run_ablate(const AblateOptions& o) {
  if (!o.worker_dir.empty()) {
    ablation::run_cell(o.worker_dir, o.worker_cell);
    return;
  }
  if (o.config.empty()) throw std::invalid_argument("ablate needs --config GRID.json (see `blockscope ablate --help`)");
  if (!o.plots.empty()) io::check_output_directory(o.plots);
  const ablation::Grid grid = ablation::read_grid(o.config);
  ablation::AblationOptions run = o.run;
  run.worker_command = [](const std::string& dir, std::int64_t k) {
    return std::vector<std::string>{"/proc/self/exe", "ablate", "--worker", dir, "--cell", std::to_string(k)};
  };
  std::unique_ptr<io::ProgressBar> bar;
  const ablation::AblationSummary s = ablation::run_ablation(
      grid, run,
      [&](std::int64_t done, std::int64_t total) {
        if (!bar) bar = std::make_unique<io::ProgressBar>("ablate", "steps");
        bar->update(done, total);
      },
      [](const std::string& line) { fmt::print(stderr, "[ablate] {}\n", line); });
  if (bar) bar->finish();
  fmt::print("{} cells ({} from an earlier run, {} failed), {} threads per worker, {} at once; work folder {}\n",
             s.cells.size(), s.reused, s.failed, s.threads_per_job, run.jobs, s.cells_dir);
  print_summary(s);
  fmt::print("wrote {}\n", run.out);
  if (!o.plots.empty()) {
    for (const auto& png : plots::plot_result("ablation", run.out, o.plots)) fmt::print("wrote {}\n", png.string());
  }
  if (s.failed > 0) {
    throw std::runtime_error(fmt::format(
        "{} of {} cells failed (their errors are in the table and in {}/cell-K.log); run the same command again to "
        "retry them",
        s.failed, s.cells.size(), s.cells_dir));
  }
}

}  // namespace

void register_ablate(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "ablate",
      "Train every cell of a grid (models × data × partitions × optimizers × lrs × seeds) and compare them on "
      "held-out loss, state bytes, speed and memory; resumable");
  cmd->footer(
      "GRID.json: {\"models\": [\"gpt\"], \"data\": [\"text\"], \"partitions\": [\"default\", \"per-tensor\"], "
      "\"optimizers\": [\"adamw\", \"adam-mini\"], \"lrs\": [1e-3, 3e-3], \"seeds\": [0], \"steps\": 500, "
      "\"batch_size\": 32, \"schedule\": \"cosine\", \"warmup\": 25, \"weight_decay\": 0.1, \"eval_every\": 50}\n"
      "Lists are the axes; scalars are shared settings named as `train` names them (steps, batch_size, examples, "
      "schedule, warmup, weight_decay, betas, eps, shuffle, non_finite, eval_fraction, eval_every, n_heads, "
      "n_kv_heads, head_dim). Started again with the same arguments, a killed ablation keeps its finished cells "
      "(OUT.cells/) and runs the rest.");
  auto o = std::make_shared<AblateOptions>();
  cmd->add_option("--config,-c", o->config, "the grid (JSON; see below)");
  cmd->add_option("--out,-o", o->run.out, "ablation file (HDF5, schema blockscope.ablation/1)")->capture_default_str();
  cmd->add_option("--jobs,-j", o->run.jobs, "cells run at once, the cores split between them")
      ->check(kPositive)
      ->capture_default_str();
  cmd->add_option("--plots", o->plots, "directory for PNG plots (loss curves, loss vs state bytes, loss vs lr)");
  cmd->add_option("--worker", o->worker_dir)->group("");
  cmd->add_option("--cell", o->worker_cell)->group("");
  cmd->callback([o] { run_ablate(*o); });
}

}  // namespace blockscope::cli
