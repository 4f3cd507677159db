// CUDA optimizer step bandwidth (docs/algorithms.md §9): for each preset (adamw,
// adam-mini, gefen, flash-adamw) the time of one run_step(KernelDevice::cuda)
// over a GPT-2-like parameter set on raw device buffers, its useful GB/s as a
// percentage of the measured device-to-device cudaMemcpy bandwidth, and (with
// --torch-ms) the ratio to torch.optim.AdamW(fused=True) timed by
// scripts/gpu-check from python on the same shapes and GPU.
//
// Model (--layers L, --vocab V): wte [V, 768], wpe [1024, 768], per layer
// attn.{q,k,v,o}_proj.weight [768, 768] with biases, mlp.{up,down}_proj
// [3072, 768]/[768, 3072] with biases, two LayerNorms; a final norm. Defaults
// L = 12, V = 50 304: 124 M parameters.
// Partitions: per-element for adamw and flash-adamw; the adam-mini rules
// (partition::adam_mini, 12 heads of 64) for adam-mini; a uniform period of
// 768 on every tensor for gefen (every shape here is a multiple of it).
// Bytes per step, from StateLayout::bytes() (as bench_optimizer_step): one
// read of parameter (4 B), gradient (4 B) and every state component, one write
// of parameter and state: AdamW 28 B/param, Gefen ≈ 14. The extra passes
// (Σ g² for shared v, the codebook scale max) are not counted: GB/s is useful
// bandwidth, a lower bound on traffic. memcpy bandwidth counts read + write.
// Times: median over --steps steps after --warmup, cudaEvent timing on the
// default stream. The finiteness check of BlockOptimizer is not included
// (this times the kernels, not the torch front end).
//
// Usage: bench_cuda_bandwidth [--layers 12] [--vocab 50304] [--steps 20]
//          [--warmup 3] [--torch-ms MS] | --print-shapes
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "optimizers/device.h"
#include "optimizers/kernels.h"
#include "optimizers/spec.h"
#include "optimizers/state_layout.h"
#include "partition/adam_mini.h"
#include "partition/strategies.h"

namespace bs = blockscope;
namespace opt = blockscope::optimizers;

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(fmt::format("{}: {}", what, cudaGetErrorString(err)));
}

std::vector<bs::partition::TensorInfo> gpt2(std::int64_t layers, std::int64_t vocab) {
  constexpr std::int64_t d = 768, ff = 3072;
  std::vector<bs::partition::TensorInfo> m = {{"wte.weight", {vocab, d}}, {"wpe.weight", {1024, d}}};
  for (std::int64_t l = 0; l < layers; ++l) {
    const std::string p = fmt::format("layers.{}.", l);
    for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      m.push_back({p + "attn." + n + ".weight", {d, d}});
      m.push_back({p + "attn." + n + ".bias", {d}});
    }
    m.push_back({p + "mlp.up_proj.weight", {ff, d}});
    m.push_back({p + "mlp.up_proj.bias", {ff}});
    m.push_back({p + "mlp.down_proj.weight", {d, ff}});
    m.push_back({p + "mlp.down_proj.bias", {d}});
    for (const char* n : {"ln_1", "ln_2"}) {
      m.push_back({p + n + ".weight", {d}});
      m.push_back({p + n + ".bias", {d}});
    }
  }
  m.push_back({"final_norm.weight", {d}});
  m.push_back({"final_norm.bias", {d}});
  return m;
}

bs::partition::Partition partition_for(const std::string& preset, const std::vector<bs::partition::TensorInfo>& model) {
  if (preset == "adam-mini") {
    bs::partition::AdamMiniOptions o;
    o.heads = {12, 12, 64};
    return bs::partition::adam_mini(model, o);
  }
  if (preset == "gefen") {
    std::vector<bs::partition::TensorBlocks> t;
    for (const auto& info : model) t.push_back(bs::partition::TensorBlocks::uniform(info, 768));
    bs::partition::number_consecutively(t);
    return bs::partition::Partition("uniform-768", nullptr, t);
  }
  return bs::partition::per_element(model);
}

struct DeviceAlloc {
  void* p = nullptr;
  explicit DeviceAlloc(std::size_t bytes) { check(cudaMalloc(&p, std::max<std::size_t>(bytes, 1)), "cudaMalloc"); }
  DeviceAlloc(const DeviceAlloc&) = delete;
  ~DeviceAlloc() { cudaFree(p); }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Device-to-device cudaMemcpy of 1 GiB, GB/s counting read + write.
double memcpy_bandwidth(int reps) {
  const std::size_t bytes = std::size_t{1} << 30;
  DeviceAlloc a(bytes), b(bytes);
  check(cudaMemset(a.p, 1, bytes), "cudaMemset");
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<double> ms;
  for (int r = 0; r < reps + 2; ++r) {
    cudaEventRecord(start);
    check(cudaMemcpyAsync(b.p, a.p, bytes, cudaMemcpyDeviceToDevice), "cudaMemcpyAsync");
    cudaEventRecord(stop);
    check(cudaEventSynchronize(stop), "memcpy");
    float t = 0;
    cudaEventElapsedTime(&t, start, stop);
    if (r >= 2) ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return 2.0 * static_cast<double>(bytes) / (median(ms) * 1e-3) / 1e9;
}

struct PresetResult {
  double ms = 0, bytes = 0;
};

PresetResult time_preset(const std::string& preset, const std::vector<bs::partition::TensorInfo>& model, int warmup,
                         int steps) {
  const opt::OptimizerSpec spec = opt::parse_optimizer_spec(preset);
  const opt::StateLayout layout = opt::StateLayout::make(spec, partition_for(preset, model), model);
  std::vector<std::unique_ptr<DeviceAlloc>> keep;
  auto alloc = [&](std::int64_t count, std::size_t elem) {
    keep.push_back(std::make_unique<DeviceAlloc>(static_cast<std::size_t>(count) * elem));
    check(cudaMemset(keep.back()->p, 0, static_cast<std::size_t>(count) * elem), "cudaMemset");
    return keep.back()->p;
  };
  std::vector<opt::TensorStep> tensors(layout.tensors.size());
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  for (std::size_t i = 0; i < layout.tensors.size(); ++i) {
    const opt::TensorLayout& t = layout.tensors[i];
    const std::int64_t n = t.numel, groups = t.groups32();
    opt::TensorStep& s = tensors[i];
    std::vector<float> host(static_cast<std::size_t>(n));
    for (float& x : host) x = normal(rng);
    auto* g = static_cast<float*>(alloc(n, 4));
    auto* p = static_cast<float*>(alloc(n, 4));
    check(cudaMemcpy(g, host.data(), n * 4, cudaMemcpyHostToDevice), "upload");
    check(cudaMemcpy(p, host.data(), n * 4, cudaMemcpyHostToDevice), "upload");
    s.grad = g;
    s.param_in = s.param_out = p;
    opt::TensorState& st = s.in;
    switch (spec.m) {
      case opt::FirstMoment::fp32:
        st.m_fp32 = static_cast<float*>(alloc(n, 4));
        break;
      case opt::FirstMoment::bf16:
        st.m_bf16 = static_cast<std::uint16_t*>(alloc(n, 2));
        break;
      case opt::FirstMoment::codebook:
        st.m_code = static_cast<std::uint8_t*>(alloc(n, 1));
        st.m_scale = static_cast<float*>(alloc(t.scale_groups.count(), 4));
        break;
      case opt::FirstMoment::companded:
        st.m_q8 = static_cast<std::int8_t*>(alloc(n, 1));
        st.m_scale16 = static_cast<std::uint16_t*>(alloc(groups, 2));
        break;
    }
    switch (spec.v) {
      case opt::SecondMoment::element:
        st.v_fp32 = static_cast<float*>(alloc(n, 4));
        break;
      case opt::SecondMoment::shared:
      case opt::SecondMoment::none:
        break;
      case opt::SecondMoment::companded:
        st.v_q8 = static_cast<std::uint8_t*>(alloc(n, 1));
        st.v_scale16 = static_cast<std::uint16_t*>(alloc(groups, 2));
        break;
    }
    if (spec.w == opt::WeightStorage::bf16_int8) st.rho8 = static_cast<std::int8_t*>(alloc(n, 1));
    if (spec.w == opt::WeightStorage::bf16_int16) st.rho16 = static_cast<std::int16_t*>(alloc(n, 2));
    s.out = s.in;
    opt::split_weights(opt::KernelDevice::cuda, spec.w, p, n, st.rho8, st.rho16);
  }
  opt::GlobalState global;
  if (spec.v == opt::SecondMoment::shared) {
    auto* v = static_cast<float*>(alloc(layout.num_blocks, 4));
    global.v_in = global.v_out = v;
  }
  if (spec.m == opt::FirstMoment::codebook) {
    std::vector<const float*> grads;
    for (const auto& s : tensors) grads.push_back(s.grad);
    const std::vector<float> codebook = opt::learn_codebook(opt::KernelDevice::cuda, layout, grads);
    auto* c = static_cast<float*>(alloc(static_cast<std::int64_t>(codebook.size()), 4));
    check(cudaMemcpy(c, codebook.data(), codebook.size() * 4, cudaMemcpyHostToDevice), "upload");
    global.codebook = c;
  }
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<double> ms;
  for (int step = 1; step <= warmup + steps; ++step) {
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      tensors[i].scalars =
          opt::math::make_step_scalars(1e-3, 0.9, 0.999, 1e-8, layout.tensors[i].decays ? 0.01 : 0.0, step);
    }
    cudaEventRecord(start);
    opt::run_step(opt::KernelDevice::cuda, layout, tensors, global);
    cudaEventRecord(stop);
    check(cudaEventSynchronize(stop), "step");
    float t = 0;
    cudaEventElapsedTime(&t, start, stop);
    if (step > warmup) ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  const double n = static_cast<double>(layout.num_parameters);
  return {median(ms), 3.0 * 4.0 * n + 2.0 * static_cast<double>(layout.bytes().total())};
}

}  // namespace

int run(int argc, char** argv) {
  std::int64_t layers = 12, vocab = 50304;
  int steps = 20, warmup = 3;
  double torch_ms = 0;
  bool print_shapes = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--layers")
      layers = std::stoll(next());
    else if (a == "--vocab")
      vocab = std::stoll(next());
    else if (a == "--steps")
      steps = std::stoi(next());
    else if (a == "--warmup")
      warmup = std::stoi(next());
    else if (a == "--torch-ms")
      torch_ms = std::stod(next());
    else if (a == "--print-shapes")
      print_shapes = true;
    else
      throw std::invalid_argument("unknown option " + a + " (see the usage at the top of cuda_bandwidth.cu)");
  }
  const auto model = gpt2(layers, vocab);
  if (print_shapes) {  // "name dim0 [dim1]" per line, for the python reference
    for (const auto& t : model) {
      fmt::print("{}", t.name);
      for (std::int64_t d : t.shape) fmt::print(" {}", d);
      fmt::print("\n");
    }
    return 0;
  }
  opt::require_cuda();
  std::int64_t params = 0;
  for (const auto& t : model) params += t.numel();
  const double copy_gbs = memcpy_bandwidth(10);
  fmt::print("model: GPT-2-like, {} layers, vocab {}: {:.1f} M parameters, {} tensors\n", layers, vocab, params / 1e6,
             model.size());
  fmt::print("device-to-device cudaMemcpy: {:.0f} GB/s (read + write)\n", copy_gbs);
  if (torch_ms > 0) fmt::print("torch.optim.AdamW(fused=True): {:.3f} ms/step\n", torch_ms);
  fmt::print("{:<12} {:>10} {:>10} {:>10} {:>9} {:>14}\n", "preset", "ms/step", "B/param", "GB/s", "% memcpy",
             "torch fused/us");
  for (const std::string preset : {"adamw", "adam-mini", "gefen", "flash-adamw"}) {
    const PresetResult r = time_preset(preset, model, warmup, steps);
    const double gbs = r.bytes / (r.ms * 1e-3) / 1e9;
    fmt::print("{:<12} {:>10.3f} {:>10.3f} {:>10.0f} {:>8.1f}% {:>14}\n", preset, r.ms, r.bytes / params, gbs,
               100.0 * gbs / copy_gbs, torch_ms > 0 ? fmt::format("{:.2f}x", torch_ms / r.ms) : std::string("-"));
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_cuda_bandwidth: {}\n", e.what());
    return 1;
  }
}
