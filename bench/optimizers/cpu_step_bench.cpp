// CPU optimizer step benchmark: time of one BlockOptimizer::step() for each
// preset (adamw, adam-mini, gefen, flash-adamw) on a synthetic GPT-2-like
// parameter set, measured side by side in one run with
//   - torch::optim::AdamW (LibTorch C++, the same library the project links);
//   - python3-torch's torch.optim.AdamW(foreach=True), timed by
//     optimizer_step_reference.py on the same shapes (read with --python);
//   - memcpy bandwidth: std::memcpy of a 512 MiB buffer split into one chunk
//     per thread (counted as 2 × 512 MiB moved: read + write);
//   - in-place bandwidth: a[i] += b[i] over two 256 MiB fp32 arrays (counted
//     as 3 × 256 MiB: two reads, one write). An optimizer step writes back
//     where it read, so its stores need no extra read of the destination
//     line, which memcpy's destination does (write-allocate) unless it
//     streams; steps can therefore exceed 100 % of memcpy, and % of in-place
//     is the closer ceiling.
//
// Model (--sizes, in millions of parameters): GPT-2 small layers named like
// the zoo gpt (d_model 768, 12 heads of 64, d_ff 3072, biases and LayerNorms;
// layers.<i>.attn.{q,k,v,o}_proj, layers.<i>.mlp.{up,down}_proj, 7 087 872
// parameters per layer), wpe [1024, 768], final_norm and a tied wte [V, 768];
// L = max(1, round(size / 8.3M)) layers and V (a multiple of 64) fills the
// rest, so the count is within 49 152 of the size asked for.
// Partitions: per-element for adamw and flash-adamw; the adam-mini rules for
// adam-mini (q/k per head, v/o/mlp/wte per row, biases per element, norms and
// wpe whole); for gefen a uniform period of 768 on every tensor (a real Gefen
// run picks periods from first-step gradients; 768 is a typical choice on
// GPT-2 and every tensor here is a multiple of it).
// Gradients: fixed N(0, 1e-3²) values set once (every step sees the same
// gradient); lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
//
// Bytes per step, from the state layout (StateLayout::bytes()): one read of
// the parameter (fp32 storage, 4 B, also for flash-adamw whose fp32 tensor
// holds bf16 values), the gradient (4 B) and every state component, one write
// of the parameter and every state component: AdamW 28 B/param, Gefen ≈ 14.
// Extra passes the step also makes (the finiteness check reads g; shared v
// reads g again for Σg²; the codebook reads g and m for the scale max) are
// not counted, so GB/s is the useful bandwidth and a lower bound on traffic.
// Times: median of --steps timed steps after --warmup steps (the first step
// learns Gefen's codebook and touches fresh pages). Each thread count is set
// with at::set_num_threads, which with LibTorch's OpenMP backend sets the
// libgomp thread count that the optimizer kernels' OpenMP loops use too; both
// at::get_num_threads and omp_get_max_threads are printed. The row at all
// hardware threads is blockscope's default. The speed-up columns are (other's
// ms) / (this row's ms) at the same thread count.
//
// Usage: bench_optimizer_step [--sizes 10,50] [--threads 1,N] [--steps 10]
//          [--warmup 3] [--presets adamw,adam-mini,gefen,flash-adamw] [--python FILE]
//        bench_optimizer_step --write-shapes DIR [--sizes …]
// --python FILE: lines "size_millions threads ms" from the Python reference.
// --write-shapes DIR: writes DIR/shapes_<size>M.txt ("name d0 [d1]" per line)
// for the Python reference and exits.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <omp.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "optimizers/block_optimizer.h"
#include "optimizers/spec.h"
#include "partition/adam_mini.h"
#include "partition/strategies.h"

using namespace blockscope;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kDModel = 768, kHeads = 12, kHeadDim = 64, kDff = 3072, kContext = 1024, kGefenPeriod = 768;
constexpr double kLr = 1e-3, kWeightDecay = 0.01;

struct Args {
  std::vector<std::int64_t> sizes = {10, 50};
  std::vector<int> threads;
  std::vector<std::string> presets = {"adamw", "adam-mini", "gefen", "flash-adamw"};
  int steps = 10;
  int warmup = 3;
  std::string python;
  std::string write_shapes;
};

std::vector<std::int64_t> parse_list(const std::string& text) {
  std::vector<std::int64_t> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoll(item));
  return out;
}

Args parse_args(int argc, char** argv) {
  Args a;
  a.threads = {1, static_cast<int>(std::thread::hardware_concurrency())};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", flag));
    const std::string value = argv[++i];
    if (flag == "--sizes") {
      a.sizes = parse_list(value);
    } else if (flag == "--threads") {
      a.threads.clear();
      for (std::int64_t t : parse_list(value)) a.threads.push_back(static_cast<int>(t));
    } else if (flag == "--steps") {
      a.steps = std::stoi(value);
    } else if (flag == "--warmup") {
      a.warmup = std::stoi(value);
    } else if (flag == "--presets") {
      a.presets.clear();
      std::stringstream ss(value);
      for (std::string item; std::getline(ss, item, ',');) a.presets.push_back(item);
    } else if (flag == "--python") {
      a.python = value;
    } else if (flag == "--write-shapes") {
      a.write_shapes = value;
    } else {
      throw std::invalid_argument(
          fmt::format("unknown option {} (valid: --sizes --threads --presets --steps "
                      "--warmup --python --write-shapes)",
                      flag));
    }
  }
  a.threads.erase(std::unique(a.threads.begin(), a.threads.end()), a.threads.end());
  if (a.steps < 1 || a.warmup < 1) throw std::invalid_argument("--steps and --warmup must be >= 1");
  return a;
}

struct Model {
  std::int64_t layers = 0, vocab = 0, numel = 0;
  std::vector<partition::TensorInfo> tensors;
};

Model gpt2_like(std::int64_t millions) {
  Model m;
  const std::int64_t target = millions * 1'000'000;
  const std::int64_t per_layer =
      4 * (kDModel * kDModel + kDModel) + kDff * kDModel + kDff + kDModel * kDff + kDModel + 4 * kDModel;
  m.layers = std::max<std::int64_t>(1, std::llround(static_cast<double>(target) / 8.3e6));
  const std::int64_t rest = target - m.layers * per_layer - kContext * kDModel - 2 * kDModel;
  m.vocab = rest / kDModel / 64 * 64;
  if (m.vocab < 64) throw std::invalid_argument(fmt::format("size {}M is too small for a GPT-2-like layer", millions));
  auto add = [&](std::string name, std::vector<std::int64_t> shape) { m.tensors.push_back({std::move(name), shape}); };
  add("wte.weight", {m.vocab, kDModel});
  add("wpe.weight", {kContext, kDModel});
  for (std::int64_t i = 0; i < m.layers; ++i) {
    const std::string p = fmt::format("layers.{}.", i);
    add(p + "attn_norm.weight", {kDModel});
    add(p + "attn_norm.bias", {kDModel});
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      add(p + "attn." + proj + ".weight", {kDModel, kDModel});
      add(p + "attn." + proj + ".bias", {kDModel});
    }
    add(p + "mlp_norm.weight", {kDModel});
    add(p + "mlp_norm.bias", {kDModel});
    add(p + "mlp.up_proj.weight", {kDff, kDModel});
    add(p + "mlp.up_proj.bias", {kDff});
    add(p + "mlp.down_proj.weight", {kDModel, kDff});
    add(p + "mlp.down_proj.bias", {kDModel});
  }
  add("final_norm.weight", {kDModel});
  add("final_norm.bias", {kDModel});
  for (const auto& t : m.tensors) m.numel += t.numel();
  return m;
}

partition::Partition make_partition(const std::string& strategy, const Model& model) {
  if (strategy == "adam-mini") {
    partition::AdamMiniOptions o;
    o.heads = {kHeads, kHeads, kHeadDim};
    return partition::adam_mini(model.tensors, o);
  }
  if (strategy == "gefen") {
    std::vector<partition::TensorBlocks> blocks;
    for (const auto& t : model.tensors) blocks.push_back(partition::TensorBlocks::uniform(t, kGefenPeriod));
    partition::number_consecutively(blocks);
    return partition::Partition("gefen", nlohmann::json{{"period", kGefenPeriod}}, std::move(blocks));
  }
  partition::StrategyInputs inputs;
  inputs.model = model.tensors;
  return partition::StrategyRegistry().make(strategy, inputs);
}

// Fresh parameters (N(0, 0.02²)) with fixed gradients (N(0, 1e-3²)), seeded.
std::vector<optimizers::NamedTensor> make_parameters(const Model& model) {
  at::manual_seed(0);
  std::vector<optimizers::NamedTensor> out;
  for (const auto& t : model.tensors) {
    at::Tensor p = at::randn(t.shape) * 0.02;
    p.mutable_grad() = at::randn(t.shape) * 1e-3;
    out.push_back({t.name, p});
  }
  return out;
}

double median_ms(int warmup, int steps, const std::function<void()>& step) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> t;
  for (int i = 0; i < steps; ++i) {
    const auto start = Clock::now();
    step();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// GB/s of a 512 MiB memcpy, one contiguous chunk per thread (at::parallel_for).
double memcpy_gbps(int warmup, int steps) {
  const std::int64_t bytes = std::int64_t{512} << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  const std::int64_t grain = bytes / at::get_num_threads();
  const double ms = median_ms(warmup, steps, [&] {
    at::parallel_for(0, bytes, grain, [&](std::int64_t begin, std::int64_t end) {
      std::memcpy(dst.data() + begin, src.data() + begin, static_cast<std::size_t>(end - begin));
    });
  });
  return 2.0 * static_cast<double>(bytes) / (ms * 1e6);
}

// GB/s of a[i] += b[i] over two 256 MiB fp32 arrays, one chunk per thread.
double inplace_gbps(int warmup, int steps) {
  const std::int64_t n = std::int64_t{64} << 20;
  std::vector<float> a(n, 1.0f), b(n, 1e-3f);
  const std::int64_t grain = n / at::get_num_threads();
  const double ms = median_ms(warmup, steps, [&] {
    at::parallel_for(0, n, grain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) a[i] += b[i];
    });
  });
  return 3.0 * 4.0 * static_cast<double>(n) / (ms * 1e6);
}

// (size, threads) → ms from the Python reference's output.
std::map<std::pair<std::int64_t, int>, double> read_python(const std::string& path) {
  std::map<std::pair<std::int64_t, int>, double> out;
  if (path.empty()) return out;
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}", path));
  std::int64_t size;
  int threads;
  double ms;
  while (in >> size >> threads >> ms) out[{size, threads}] = ms;
  return out;
}

void write_shapes(const std::string& dir, const std::vector<std::int64_t>& sizes) {
  for (std::int64_t size : sizes) {
    const Model model = gpt2_like(size);
    std::ofstream out(fmt::format("{}/shapes_{}M.txt", dir, size));
    for (const auto& t : model.tensors) out << t.name << ' ' << fmt::format("{}", fmt::join(t.shape, " ")) << '\n';
    if (!out) throw std::runtime_error(fmt::format("cannot write shapes into {}", dir));
  }
}

std::string speedup(double other_ms, double ms) {
  return other_ms > 0 ? fmt::format("{:.2f}x", other_ms / ms) : std::string("-");
}

void run(const Args& a) {
  const auto python = read_python(a.python);
  fmt::print("CPU optimizer step: median of {} steps after {} warm-up steps; {} hardware threads\n", a.steps, a.warmup,
             std::thread::hardware_concurrency());
  fmt::print(
      "B/param and GB/s count one read of p, g and the state and one write of p and the state (extra passes "
      "not counted); speed-up = other ms / this ms\n");
  for (std::int64_t size : a.sizes) {
    const Model model = gpt2_like(size);
    fmt::print("\nsize {}M: {} parameters in {} tensors (GPT-2-like: {} layers, d_model {}, tied wte [{}, {}])\n", size,
               model.numel, model.tensors.size(), model.layers, kDModel, model.vocab, kDModel);
    for (int threads : a.threads) {
      at::set_num_threads(threads);
      const double memcpy = memcpy_gbps(a.warmup, a.steps);
      const double inplace = inplace_gbps(a.warmup, a.steps);
      const double n = static_cast<double>(model.numel);

      double torch_ms = 0.0;
      {
        std::vector<at::Tensor> params;
        for (const auto& p : make_parameters(model)) params.push_back(p.tensor);
        torch::optim::AdamW torch_adamw(params, torch::optim::AdamWOptions(kLr).weight_decay(kWeightDecay));
        torch_ms = median_ms(a.warmup, a.steps, [&] { torch_adamw.step(); });
      }
      const auto py = python.find({size, threads});
      const double python_ms = py == python.end() ? 0.0 : py->second;

      fmt::print(
          "threads {}{} (at::get_num_threads {}, omp_get_max_threads {}): memcpy {:.1f} GB/s, in-place "
          "a+=b {:.1f} GB/s\n",
          threads,
          threads == static_cast<int>(std::thread::hardware_concurrency()) ? " = all cores, blockscope's default" : "",
          at::get_num_threads(), omp_get_max_threads(), memcpy, inplace);
      fmt::print("  {:<26} {:<12} {:>7} {:>9} {:>7} {:>8} {:>9} {:>13} {:>15}\n", "optimizer", "partition", "B/param",
                 "ms/step", "GB/s", "%memcpy", "%in-place", "vs torch C++", "vs py foreach");
      auto row = [&](const std::string& name, const std::string& part, double bytes_per_param, double ms) {
        const double gbps = bytes_per_param * n / (ms * 1e6);
        fmt::print("  {:<26} {:<12} {:>7.3f} {:>9.2f} {:>7.2f} {:>7.1f}% {:>8.1f}% {:>13} {:>15}\n", name, part,
                   bytes_per_param, ms, gbps, 100.0 * gbps / memcpy, 100.0 * gbps / inplace, speedup(torch_ms, ms),
                   speedup(python_ms, ms));
      };
      row("torch::optim::AdamW (C++)", "per-element", 28.0, torch_ms);
      if (python_ms > 0) row("torch.optim.AdamW foreach", "per-element", 28.0, python_ms);

      for (const std::string& preset : a.presets) {
        const optimizers::OptimizerSpec spec = optimizers::parse_optimizer_spec(preset);
        const std::string strategy = optimizers::default_partition_strategy(spec);
        optimizers::BlockOptimizer opt(make_parameters(model), make_partition(strategy, model), spec,
                                       optimizers::BlockOptimizerOptions(kLr).weight_decay(kWeightDecay));
        const double bytes_per_param = 12.0 + 2.0 * static_cast<double>(opt.state_bytes().total()) / n;
        const double ms = median_ms(a.warmup, a.steps, [&] { opt.step(); });
        row(std::string("blockscope ") + preset, strategy, bytes_per_param, ms);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse_args(argc, argv);
    if (!a.write_shapes.empty()) {
      write_shapes(a.write_shapes, a.sizes);
      return 0;
    }
    run(a);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_optimizer_step: {}\n", e.what());
    return 1;
  }
}
