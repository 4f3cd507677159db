#include "hessian/hvp.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <unistd.h>
#include <algorithm>
#include <fstream>

#include "data/loss.h"

namespace blockscope::hessian {
namespace {

// Resident set size of this process in bytes (Linux /proc).
double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return static_cast<double>(pages_resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

std::vector<std::vector<double>> ParameterLayout::per_tensor(const double* flat) const {
  std::vector<std::vector<double>> out;
  for (std::size_t t = 0; t + 1 < offsets.size(); ++t) out.emplace_back(flat + offsets[t], flat + offsets[t + 1]);
  return out;
}

LossHessian::LossHessian(models::Model& model, std::vector<data::Batch> batches, const HvpSettings& settings)
    : model_(model), batches_(std::move(batches)) {
  if (batches_.empty()) throw std::runtime_error("no batches to build the Hessian from (give at least one batch)");
  if (model_.parameters().empty()) {
    throw std::runtime_error("the model has no trainable parameters: nothing to analyse");
  }
  // The TorchScript profiling executor makes double backward ~1.7× slower
  // (docs/algorithms.md §1): run HVP work on the plain graph executor.
  torch::jit::setGraphExecutorOptimize(false);
  model_.set_training(false);
  std::int64_t offset = 0;
  layout_.offsets.push_back(0);
  for (const auto& p : model_.parameters()) {
    params_.push_back(p.tensor);
    layout_.names.push_back(p.name);
    layout_.shapes.push_back(p.tensor.sizes().vec());
    offset += p.tensor.numel();
    layout_.offsets.push_back(offset);
  }
  dtype_ = params_.front().scalar_type();
  for (const auto& b : batches_) num_examples_ += b.size();
  for (const auto& b : batches_) {
    batch_weights_.push_back(static_cast<double>(b.size()) / static_cast<double>(num_examples_));
  }

  std::vector<int> all(params_.size());
  for (std::size_t t = 0; t < all.size(); ++t) all[t] = static_cast<int>(t);
  reuse_ = settings.reuse_graph;
  const double before = resident_bytes();
  for (std::size_t b = 0; b < batches_.size(); ++b) {
    double batch_loss = 0.0;
    if (reuse_) {
      graphs_.push_back(first_order(b, all, &batch_loss));
      const double estimate = (resident_bytes() - before) * static_cast<double>(batches_.size());
      if (b == 0 && estimate > settings.graph_memory_limit_gib * 1024.0 * 1024.0 * 1024.0) {
        reuse_ = false;  // every product rebuilds its first-order graph instead
        graphs_.clear();
      }
    } else {
      at::NoGradGuard no_grad;
      batch_loss = data::mean_loss(model_.forward(batches_[b].inputs), batches_[b].targets).item<double>();
    }
    loss_ += batch_weights_[b] * batch_loss;
  }
  if (!std::isfinite(loss_)) {
    throw std::runtime_error(fmt::format(
        "the loss is not finite at these parameters ({}): check the data and the model's initialisation", loss_));
  }
}

std::vector<at::Tensor> LossHessian::first_order(std::size_t b, const std::vector<int>& wrt, double* loss_value) const {
  const data::Batch& batch = batches_[b];
  at::Tensor loss = data::mean_loss(model_.forward(batch.inputs), batch.targets);
  if (loss_value) *loss_value = loss.item<double>();
  std::vector<at::Tensor> inputs;
  for (int t : wrt) inputs.push_back(params_[t]);
  return torch::autograd::grad({loss}, inputs, {}, /*retain_graph=*/true, /*create_graph=*/true,
                               /*allow_unused=*/true);
}

std::vector<at::Tensor> LossHessian::product(const std::vector<std::pair<int, at::Tensor>>& inputs,
                                             const std::vector<int>& outputs) const {
  std::vector<at::Tensor> wrt;
  for (int t : outputs) wrt.push_back(params_[t]);
  std::vector<int> input_tensors;
  for (const auto& in : inputs) input_tensors.push_back(in.first);
  std::vector<at::Tensor> result(outputs.size());
  for (std::size_t b = 0; b < batches_.size(); ++b) {
    std::vector<at::Tensor> rebuilt;
    if (!reuse_) rebuilt = first_order(b, input_tensors, nullptr);
    at::Tensor dot;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const at::Tensor& g = reuse_ ? graphs_[b][inputs[i].first] : rebuilt[i];
      if (!g.defined() || !g.requires_grad()) continue;  // L is linear in this tensor
      at::Tensor term = (g * inputs[i].second).sum();
      dot = dot.defined() ? dot + term : term;
    }
    if (!dot.defined()) continue;
    std::vector<at::Tensor> h = torch::autograd::grad({dot}, wrt, {}, /*retain_graph=*/reuse_,
                                                      /*create_graph=*/false, /*allow_unused=*/true);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      if (!h[i].defined()) continue;
      at::Tensor weighted = h[i] * batch_weights_[b];
      result[i] = result[i].defined() ? result[i] + weighted : weighted;
    }
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (!result[i].defined()) result[i] = at::zeros_like(params_[outputs[i]]);
    if (!at::isfinite(result[i]).all().item<bool>()) {
      throw std::runtime_error(
          fmt::format("a Hessian-vector product is not finite in '{}': the loss surface overflows here (try "
                      "float64 or other data)",
                      layout_.names[outputs[i]]));
    }
  }
  num_products_.fetch_add(1);
  return result;
}

std::vector<at::Tensor> LossHessian::batch_gradient(std::size_t b) const {
  const data::Batch& batch = batches_[b];
  at::Tensor loss = data::mean_loss(model_.forward(batch.inputs), batch.targets);
  std::vector<at::Tensor> g = torch::autograd::grad({loss}, params_, {}, false, false, true);
  for (std::size_t t = 0; t < g.size(); ++t) {
    if (!g[t].defined()) g[t] = at::zeros_like(params_[t]);
  }
  return g;
}

std::vector<at::Tensor> LossHessian::gradient() const {
  std::vector<at::Tensor> total;
  for (std::size_t b = 0; b < batches_.size(); ++b) {
    std::vector<at::Tensor> g = batch_gradient(b);
    for (std::size_t t = 0; t < g.size(); ++t) {
      if (b == 0)
        total.push_back(g[t] * batch_weights_[b]);
      else
        total[t] += g[t] * batch_weights_[b];
    }
  }
  return total;
}

std::vector<at::Tensor> LossHessian::squared_gradient() const {
  std::vector<at::Tensor> total;
  for (std::size_t b = 0; b < batches_.size(); ++b) {
    std::vector<at::Tensor> g = batch_gradient(b);
    for (std::size_t t = 0; t < g.size(); ++t) {
      if (b == 0)
        total.push_back(g[t].square() * batch_weights_[b]);
      else
        total[t] += g[t].square() * batch_weights_[b];
    }
  }
  return total;
}

BlockHessian::BlockHessian(const LossHessian& hessian, BlockRanges ranges, std::string name)
    : hessian_(hessian), name_(std::move(name)) {
  const ParameterLayout& layout = hessian.layout();
  size_ = validate_ranges(ranges, layout.total());
  std::sort(ranges.begin(), ranges.end(), [](const IndexRange& a, const IndexRange& b) { return a.begin < b.begin; });
  std::int64_t block_offset = 0;
  for (const IndexRange& r : ranges) {
    std::int64_t begin = r.begin;
    while (begin < r.end) {
      auto it = std::upper_bound(layout.offsets.begin(), layout.offsets.end(), begin);
      const int t = static_cast<int>(it - layout.offsets.begin()) - 1;
      const std::int64_t end = std::min<std::int64_t>(r.end, layout.offsets[t + 1]);
      pieces_.push_back({t, begin - layout.offsets[t], end - begin, block_offset});
      block_offset += end - begin;
      if (tensors_.empty() || tensors_.back() != t) tensors_.push_back(t);
      begin = end;
    }
  }
  std::sort(tensors_.begin(), tensors_.end());
  tensors_.erase(std::unique(tensors_.begin(), tensors_.end()), tensors_.end());
}

void BlockHessian::apply(const double* x, double* y) const {
  const ParameterLayout& layout = hessian_.layout();
  const at::TensorOptions f64 = at::TensorOptions().dtype(at::kDouble);
  // Scatter x into per-tensor vectors; tensors whose part of x is all zero
  // are left out of the product (coupling probes touch one block only).
  std::vector<at::Tensor> flat(layout.names.size());
  for (const Piece& p : pieces_) {
    at::Tensor& v = flat[p.tensor];
    if (!v.defined()) v = at::zeros({layout.numel(p.tensor)}, f64);
    v.slice(0, p.local_begin, p.local_begin + p.length)
        .copy_(at::from_blob(const_cast<double*>(x) + p.block_offset, {p.length}, f64));
  }
  std::vector<std::pair<int, at::Tensor>> inputs;
  for (int t : tensors_) {
    if (!flat[t].any().item<bool>()) continue;
    inputs.emplace_back(t, flat[t].to(hessian_.dtype()).view(layout.shapes[t]));
  }
  std::vector<at::Tensor> hv;
  if (!inputs.empty()) hv = hessian_.product(inputs, tensors_);
  for (const Piece& p : pieces_) {
    double* out = y + p.block_offset;
    if (hv.empty()) {
      std::fill(out, out + p.length, 0.0);
      continue;
    }
    const std::size_t i = std::lower_bound(tensors_.begin(), tensors_.end(), p.tensor) - tensors_.begin();
    at::Tensor part =
        hv[i].reshape({-1}).slice(0, p.local_begin, p.local_begin + p.length).to(at::kDouble).contiguous();
    std::copy(part.data_ptr<double>(), part.data_ptr<double>() + p.length, out);
  }
}

}  // namespace blockscope::hessian
