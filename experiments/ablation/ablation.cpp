// The ablation runner; contract in ablation.h.
#include "experiments/ablation/ablation.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "experiments/ablation/ablation_file.h"
#include "io/h5_file.h"
#include "optimizers/spec.h"

extern char** environ;

namespace blockscope::ablation {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string cell_path(const std::string& dir, std::int64_t k, const char* ext) {
  return (fs::path(dir) / fmt::format("cell-{}{}", k, ext)).string();
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  json j;
  in >> j;
  return j;
}

void write_json_atomically(const std::string& path, const json& j) {
  const std::string temp = fmt::format("{}.tmp-{}", path, getpid());
  std::ofstream out(temp);
  out << j.dump(2) << "\n";
  out.close();
  if (!out) throw std::runtime_error(fmt::format("cannot write {} (is the disk full?)", temp));
  fs::rename(temp, path);
}

// Checks every cell as train would, once per distinct (model, data, partition, optimizer, seed);
// notice() for a partition the optimizer ignores.
void check_cells(const Grid& grid, const std::vector<Cell>& all,
                 const std::function<void(const std::string&)>& notice) {
  std::set<std::string> seen, ignored;
  for (const Cell& c : all) {
    const std::string key = fmt::format("{}\n{}\n{}\n{}\n{}", c.model, c.data, c.partition, c.optimizer, c.seed);
    if (!seen.insert(key).second) continue;
    try {
      training::check_train_options(cell_options(grid, c, ""));
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("cell {} (model {}, data {}, partition {}, optimizer {}, seed {}): {}",
                                           c.index, c.model, c.data, c.partition, c.optimizer, c.seed, e.what()));
    }
    // Only shared v and codebook m (its scale groups) read the partition.
    const optimizers::OptimizerSpec spec = optimizers::parse_optimizer_spec(c.optimizer);
    const bool element_v = spec.v != optimizers::SecondMoment::shared && spec.m != optimizers::FirstMoment::codebook;
    if (notice && element_v && c.partition != kDefaultPartition &&
        ignored.insert(c.optimizer + "\n" + c.partition).second) {
      notice(
          fmt::format("optimizer {} reads no partition (no shared v, no codebook m): partition {} does not change "
                      "its cells (they repeat the default partition's)",
                      c.optimizer, c.partition));
    }
  }
}

// Creates the work folder with grid.json, or checks that it holds this grid.
void prepare_work_folder(const std::string& dir, const Grid& grid) {
  const std::string grid_file = (fs::path(dir) / "grid.json").string();
  const json now = grid.canonical();
  if (fs::exists(grid_file)) {
    json before;
    try {
      before = read_json(grid_file);
    } catch (const json::exception&) {
      throw std::runtime_error(
          fmt::format("{} is not a grid this ablation wrote (remove {} to start over)", grid_file, dir));
    }
    if (before != now) {
      std::string changed;
      for (const auto& [key, value] : now.items()) {
        if (!before.contains(key) || before.at(key) != value) changed += (changed.empty() ? "" : ", ") + key;
      }
      throw std::runtime_error(fmt::format(
          "{} holds an ablation of another grid (it differs in {}): give another --out, or remove {} to start over",
          dir, changed.empty() ? "its keys" : changed, dir));
    }
    return;
  }
  fs::create_directories(dir);
  write_json_atomically(grid_file, now);
}

// A cell an earlier run finished, or nothing when its files are missing or
// unreadable (then it runs again).
std::optional<CellResult> read_done_cell(const std::string& dir, const Cell& cell) {
  const std::string run_file = cell_path(dir, cell.index, ".h5"), meta_file = cell_path(dir, cell.index, ".json");
  if (!fs::exists(run_file) || !fs::exists(meta_file)) return std::nullopt;
  try {
    CellResult r;
    r.cell = cell;
    r.done = true;
    r.reused = true;
    r.run = training::read_run_file(run_file);
    const json meta = read_json(meta_file);
    r.peak_rss_bytes = meta.at("peak_rss_bytes").get<std::int64_t>();
    r.wall_seconds = meta.at("wall_seconds").get<double>();
    r.threads = meta.at("threads").get<int>();
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The line that says why a worker failed: its "error:" line, else its last line.
std::string failure_line(const std::string& log) {
  std::ifstream in(log);
  std::string line, last, error;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.find("error:") != std::string::npos) error = line;
  }
  return error.empty() ? last : error;
}

struct Worker {
  pid_t pid = 0;
  std::int64_t k = 0;
  std::chrono::steady_clock::time_point start;
};

Worker spawn_worker(const std::vector<std::string>& argv, const std::string& log, std::int64_t k, int threads) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    if (entry.rfind("OMP_NUM_THREADS=", 0) != 0 && entry.rfind("MKL_NUM_THREADS=", 0) != 0)
      env_strings.push_back(entry);
  }
  env_strings.push_back(fmt::format("OMP_NUM_THREADS={}", threads));
  env_strings.push_back(fmt::format("MKL_NUM_THREADS={}", threads));
  std::vector<char*> env, args;
  for (auto& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  Worker w;
  w.k = k;
  w.start = std::chrono::steady_clock::now();
  const int rc = posix_spawn(&w.pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw std::runtime_error(fmt::format("cannot start an ablation worker {}: {}", argv[0], std::strerror(rc)));
  return w;
}

// The workers still running; on unwind (an error in the parent) they are
// stopped and reaped, so none outlives the ablation.
class WorkerPool {
 public:
  ~WorkerPool() {
    for (const auto& [pid, w] : running_) kill(pid, SIGTERM);
    for (const auto& [pid, w] : running_) waitpid(pid, nullptr, 0);
  }
  void add(const Worker& w) { running_[w.pid] = w; }
  std::size_t size() const { return running_.size(); }
  bool empty() const { return running_.empty(); }
  // Waits for any worker to end: the worker, its status and its resource usage.
  std::tuple<Worker, int, rusage> wait_any() {
    for (;;) {
      int status = 0;
      rusage usage{};
      const pid_t pid = wait4(-1, &status, 0, &usage);
      if (pid < 0 && errno == EINTR) continue;
      if (pid < 0)
        throw std::runtime_error(fmt::format("waiting for ablation workers failed: {}", std::strerror(errno)));
      const auto it = running_.find(pid);
      if (it == running_.end()) continue;
      const Worker w = it->second;
      running_.erase(it);
      return {w, status, usage};
    }
  }

 private:
  std::map<pid_t, Worker> running_;
};

}  // namespace

double CellResult::final_eval_loss() const {
  return done && !run.history.eval_loss.empty() ? run.history.eval_loss.back() : std::nan("");
}

double CellResult::best_eval_loss() const {
  double best = std::nan("");  // the lowest finite evaluation (a non-finite one marks the cell diverged)
  if (!done) return best;
  for (double v : run.history.eval_loss) {
    if (std::isfinite(v) && !(best <= v)) best = v;
  }
  return best;
}

double CellResult::final_train_loss() const {
  if (!done || run.history.loss.empty()) return std::nan("");
  const auto& loss = run.history.loss;
  const std::size_t window = std::max<std::size_t>(1, loss.size() / 10);
  double sum = 0.0;
  for (std::size_t i = loss.size() - window; i < loss.size(); ++i) sum += loss[i];
  return sum / static_cast<double>(window);
}

double CellResult::mean_step_time() const {
  if (!done || run.history.step_time.empty()) return std::nan("");
  double sum = 0.0;
  for (double t : run.history.step_time) sum += t;
  return sum / static_cast<double>(run.history.step_time.size());
}

double CellResult::tokens_per_second() const {
  return static_cast<double>(run.batch_size * run.targets_per_example) / mean_step_time();
}

std::int64_t CellResult::skipped() const {
  return done && !run.history.skipped.empty() ? run.history.skipped.back() : 0;
}

bool CellResult::diverged() const {
  if (!done) return false;
  const auto& loss = run.history.loss;
  const bool finite = std::all_of(loss.begin(), loss.end(), [](double v) { return std::isfinite(v); }) &&
                      std::all_of(run.history.eval_loss.begin(), run.history.eval_loss.end(),
                                  [](double v) { return std::isfinite(v); });
  return !finite || final_train_loss() > loss.front();
}

std::string cells_directory(const std::string& out) { return out + ".cells"; }

AblationSummary run_ablation(const Grid& grid, const AblationOptions& options,
                             const std::function<void(std::int64_t, std::int64_t)>& progress,
                             const std::function<void(const std::string&)>& notice) {
  if (options.jobs < 1) throw std::invalid_argument(fmt::format("--jobs must be ≥ 1, got {}", options.jobs));
  io::check_output_file(options.out);
  const std::string dir = cells_directory(options.out);
  io::check_output_directory(dir);
  const std::vector<Cell> all = cells(grid);
  check_cells(grid, all, notice);
  prepare_work_folder(dir, grid);

  AblationSummary summary;
  summary.cells_dir = dir;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  summary.threads_per_job = std::max(1, cores / options.jobs);
  summary.cells.resize(all.size());
  std::vector<std::int64_t> pending;
  for (const Cell& c : all) {
    if (std::optional<CellResult> earlier = read_done_cell(dir, c)) {
      summary.cells[c.index] = std::move(*earlier);
      ++summary.reused;
    } else {
      summary.cells[c.index].cell = c;
      pending.push_back(c.index);
    }
  }
  if (notice && summary.reused > 0) {
    notice(fmt::format("resuming: {} of {} cells done in {}, running {}", summary.reused, all.size(), dir,
                       pending.size()));
  }
  // Progress counts this run's steps only, so the rate and ETA are this run's.
  const std::int64_t total_steps = grid.shared.steps * static_cast<std::int64_t>(pending.size());
  std::int64_t done_steps = 0;
  if (progress && total_steps > 0) progress(0, total_steps);

  WorkerPool running;
  std::size_t next = 0;
  while (next < pending.size() || !running.empty()) {
    while (next < pending.size() && static_cast<int>(running.size()) < options.jobs) {
      const std::int64_t k = pending[next++];
      running.add(spawn_worker(options.worker_command(dir, k), cell_path(dir, k, ".log"), k, summary.threads_per_job));
    }
    const auto [w, status, usage] = running.wait_any();
    CellResult& r = summary.cells[w.k];
    r.threads = summary.threads_per_job;
    r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - w.start).count();
    r.peak_rss_bytes = static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      try {
        r.run = training::read_run_file(cell_path(dir, w.k, ".h5"));
        write_json_atomically(
            cell_path(dir, w.k, ".json"),
            {{"peak_rss_bytes", r.peak_rss_bytes}, {"wall_seconds", r.wall_seconds}, {"threads", r.threads}});
        r.done = true;
      } catch (const std::exception& e) {
        r.error = e.what();
      }
    } else {
      r.error = WIFSIGNALED(status) ? fmt::format("the worker was killed by signal {}", WTERMSIG(status))
                                    : failure_line(cell_path(dir, w.k, ".log"));
    }
    if (!r.done) ++summary.failed;
    done_steps += grid.shared.steps;
    if (notice) {
      const Cell& c = r.cell;
      notice(fmt::format("cell {} ({}, {}, partition {}, {}, lr {}, seed {}): {} in {:.0f} s ({} of {} cells done)",
                         c.index, c.model, c.data, c.partition, c.optimizer, c.lr, c.seed,
                         r.done ? fmt::format("held-out loss {:.5g}", r.final_eval_loss()) : "FAILED: " + r.error,
                         r.wall_seconds, all.size() - (pending.size() - next) - running.size(), all.size()));
    }
    if (progress) progress(done_steps, total_steps);
  }
  write_ablation_file(options.out, grid, summary);
  return summary;
}

void run_cell(const std::string& dir, std::int64_t k) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);  // a worker ends with the ablation that started it
  const Grid grid = read_grid((fs::path(dir) / "grid.json").string());
  const std::vector<Cell> all = cells(grid);
  if (k < 0 || k >= static_cast<std::int64_t>(all.size())) {
    throw std::invalid_argument(fmt::format("cell {} is not in the grid of {} ({} cells)", k, dir, all.size()));
  }
  training::train(cell_options(grid, all[k], cell_path(dir, k, ".h5")));
}

}  // namespace blockscope::ablation
