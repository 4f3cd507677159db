// HVP cost benchmark (issue: Hessian engine, item 10). For mlp, cnn and gpt
// at their defaults it measures, in one run:
//   gradient time, full HVP time (graph reused / rebuilt), and their ratio;
//   one per-tensor Lanczos step (every tensor block's restricted HVP once)
//   on 1 thread and on all threads, and HVPs per second.
// With --dump DIR it also writes gpt's parameters and batch (HDF5) so the
// Python reference (hessian_spectrum_reference.py) times the same model.
// Usage: bench_hvp [--reps N] [--dump DIR]
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "data/loss.h"
#include "data/sources.h"
#include "hessian/hvp.h"
#include "io/h5_file.h"
#include "models/model.h"

using namespace blockscope;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

template <typename F>
double time_median(int reps, F&& f) {
  std::vector<double> t;
  f();  // warm-up
  for (int i = 0; i < reps; ++i) {
    auto start = Clock::now();
    f();
    t.push_back(seconds_since(start));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Problem {
  std::unique_ptr<models::Model> model;
  data::Batch batch;
};

Problem make(const std::string& spec, std::int64_t batch_size) {
  Problem p;
  p.model = models::load_model(spec, 0);
  data::Dataset d = data::load_dataset("auto", p.model->input_spec(), {batch_size, 0, 0});
  p.batch = data::make_batches(d, {batch_size, 1, false, 0}).front();
  return p;
}

// One restricted HVP per tensor block, spread over `threads` workers.
double lanczos_step_seconds(const std::vector<std::unique_ptr<hessian::BlockHessian>>& blocks, int threads, int reps) {
  std::vector<Eigen::VectorXd> x, y;
  for (const auto& b : blocks) {
    x.push_back(Eigen::VectorXd::Random(b->rows()));
    y.push_back(Eigen::VectorXd(b->rows()));
  }
  return time_median(reps, [&] {
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      for (std::size_t i; (i = next.fetch_add(1)) < blocks.size();) blocks[i]->perform_op(x[i].data(), y[i].data());
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  });
}

void dump(const Problem& p, const hessian::LossHessian& h, const std::string& dir) {
  io::AtomicH5Writer w(dir + "/gpt_bench.h5", "blockscope.params/1");
  H5::Group root = w.root();
  io::set_attribute(root, "loss", h.loss());
  for (const auto& param : p.model->parameters()) {
    at::Tensor t = param.tensor.detach().contiguous();
    std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
    io::write_array(root, param.name, t.data_ptr<float>(), dims);
  }
  H5::Group batch = io::ensure_group(w.file(), "/batch");
  io::write_array(batch, "inputs", p.batch.inputs.contiguous().data_ptr<std::int64_t>(),
                  {hsize_t(p.batch.inputs.size(0)), hsize_t(p.batch.inputs.size(1))});
  io::write_array(batch, "targets", p.batch.targets.contiguous().data_ptr<std::int64_t>(),
                  {hsize_t(p.batch.targets.size(0)), hsize_t(p.batch.targets.size(1))});
  w.commit();
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  std::string dump_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--reps")
      reps = std::stoi(argv[i + 1]);
    else if (a == "--dump")
      dump_dir = argv[i + 1];
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(1);
  fmt::print("bench_hvp: LibTorch intra-op threads 1 for the single-thread rows; {} cores; median of {} reps\n\n",
             cores, reps);
  fmt::print("{:<6} {:>8} {:>7} {:>9} {:>11} {:>11} {:>9} {:>9} {:>14} {:>14} {:>9}\n", "model", "params", "tensors",
             "grad ms", "HVP ms", "HVP ms", "HVP/grad", "reuse", "Lanczos step", "Lanczos step", "HVPs/s");
  fmt::print("{:<6} {:>8} {:>7} {:>9} {:>11} {:>11} {:>9} {:>9} {:>14} {:>14} {:>9}\n", "", "", "", "", "(reused)",
             "(rebuilt)", "(reused)", "saves", "1 thread ms", fmt::format("{} thr ms", cores),
             fmt::format("{} thr", cores));
  for (const auto& [spec, batch_size] :
       std::vector<std::pair<std::string, int>>{{"mlp", 32}, {"cnn", 32}, {"gpt", 8}}) {
    Problem p = make(spec, batch_size);
    hessian::LossHessian reused(*p.model, {p.batch}, {true, 8.0});
    hessian::LossHessian rebuilt(*p.model, {p.batch}, {false, 8.0});
    const auto& layout = reused.layout();
    const std::int64_t n = layout.total();
    hessian::BlockHessian full_reused(reused, {{0, n}}, "all"), full_rebuilt(rebuilt, {{0, n}}, "all");
    Eigen::VectorXd x = Eigen::VectorXd::Random(n), y(n);
    const double grad = time_median(reps, [&] { reused.gradient(); });
    const double hvp = time_median(reps, [&] { full_reused.perform_op(x.data(), y.data()); });
    const double hvp_rebuilt = time_median(reps, [&] { full_rebuilt.perform_op(x.data(), y.data()); });
    std::vector<std::unique_ptr<hessian::BlockHessian>> blocks;
    for (std::size_t t = 0; t < layout.names.size(); ++t) {
      blocks.push_back(std::make_unique<hessian::BlockHessian>(
          reused, hessian::BlockRanges{{layout.offsets[t], layout.offsets[t + 1]}}, layout.names[t]));
    }
    const double step1 = lanczos_step_seconds(blocks, 1, reps);
    const double step_all = lanczos_step_seconds(blocks, cores, reps);
    fmt::print("{:<6} {:>8} {:>7} {:>9.2f} {:>11.2f} {:>11.2f} {:>9.2f} {:>8.0f}% {:>14.1f} {:>14.1f} {:>9.1f}\n", spec,
               n, layout.names.size(), 1e3 * grad, 1e3 * hvp, 1e3 * hvp_rebuilt, hvp / grad,
               100.0 * (1.0 - hvp / hvp_rebuilt), 1e3 * step1, 1e3 * step_all, double(blocks.size()) / step_all);
    if (spec == "gpt" && !dump_dir.empty()) dump(p, reused, dump_dir);
  }
  fmt::print(
      "\nHVP/grad: full Hessian-vector product over the reused first-order graph vs one gradient "
      "(theory floor ≈ 2). Lanczos step: one restricted HVP for every tensor block.\n");
  return 0;
}
