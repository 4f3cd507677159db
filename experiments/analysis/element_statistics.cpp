#include "experiments/analysis/element_statistics.h"

#include <fmt/format.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>

#include "data/loss.h"
#include "data/sources.h"
#include "hessian/random.h"
#include "io/h5_file.h"
#include "partition/diagnostics.h"

namespace blockscope::analysis {

Minibatches open_minibatches(const std::string& model, const std::string& data, std::int64_t batch_size,
                             std::int64_t minibatches, std::uint64_t seed) {
  if (batch_size < 1 || minibatches < 1) {
    throw std::runtime_error("--batch-size and --minibatches must be ≥ 1");
  }
  Minibatches m;
  m.model = models::load_model(model, seed);
  m.dataset = data::load_dataset(data, m.model->input_spec(), {batch_size * minibatches, 0, seed});
  data::check_dataset_fits(m.dataset, m.model->input_spec());
  m.batches = data::make_batches(m.dataset, {batch_size, minibatches, false, seed});
  return m;
}

SecondMoments minibatch_second_moments(models::Model& model, const std::vector<data::Batch>& batches,
                                       const ProgressCallback& progress) {
  SecondMoments s;
  std::vector<at::Tensor> params, sums;
  for (const auto& p : model.parameters()) {
    s.tensors.push_back({p.name, p.tensor.sizes().vec()});
    params.push_back(p.tensor);
    sums.push_back(at::zeros({p.tensor.numel()}, at::kDouble));
  }
  model.set_training(true);
  const std::int64_t K = static_cast<std::int64_t>(batches.size());
  for (std::int64_t k = 0; k < K; ++k) {
    at::Tensor loss = data::mean_loss(model.forward(batches[k].inputs), batches[k].targets);
    if (!std::isfinite(loss.item<double>())) {
      throw std::runtime_error(fmt::format("the loss of minibatch {} is not finite: check the data", k));
    }
    std::vector<at::Tensor> g = torch::autograd::grad({loss}, params, {}, false, false, true);
    for (std::size_t t = 0; t < g.size(); ++t) {
      if (g[t].defined()) sums[t] += g[t].reshape({-1}).to(at::kDouble).square();  // unused: g = 0
    }
    if (progress) progress(k + 1, K);
  }
  for (at::Tensor& sum : sums) {
    at::Tensor v = (sum / static_cast<double>(K)).contiguous();
    s.v.emplace_back(v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
  }
  s.minibatches = K;
  return s;
}

SecondMoments read_gradient_dump(const std::string& path) {
  H5::H5File file = io::open_for_reading(path);
  H5::Group root = file.openGroup("/");
  SecondMoments s;
  s.minibatches = -1;
  for (hsize_t i = 0; i < root.getNumObjs(); ++i) {
    if (root.getObjTypeByIdx(i) != H5G_DATASET) continue;
    const std::string name = root.getObjnameByIdx(i);
    const io::DatasetInfo info = io::dataset_info(root, name);
    if (info.type_class != H5T_FLOAT) {
      throw std::runtime_error(fmt::format("{}: gradient '{}' is not floating point", path, name));
    }
    if (info.dims.empty()) {
      throw std::runtime_error(fmt::format(
          "{}: gradient '{}' is a scalar; each dataset needs a leading minibatch axis [K, *shape]", path, name));
    }
    const std::int64_t K = static_cast<std::int64_t>(info.dims[0]);
    if (s.minibatches >= 0 && K != s.minibatches) {
      throw std::runtime_error(fmt::format("{}: gradient '{}' has {} minibatches ({}) but the first dataset has {}",
                                           path, name, K, info.shape_string(), s.minibatches));
    }
    if (K < 1) throw std::runtime_error(fmt::format("{}: gradient '{}' holds no minibatches", path, name));
    s.minibatches = K;
    const std::vector<float> g = io::read_floats(root, name);
    for (float x : g) {
      if (!std::isfinite(x)) throw std::runtime_error(fmt::format("{}: gradient '{}' holds a non-finite value", path, name));
    }
    s.tensors.push_back({name, std::vector<std::int64_t>(info.dims.begin() + 1, info.dims.end())});
    s.v.push_back(partition::mean_square_over_minibatches(g.data(), K, s.tensors.back().numel()));
  }
  if (s.tensors.empty()) {
    throw std::runtime_error(fmt::format(
        "{} holds no gradient datasets (write one dataset [K, *shape] per parameter, named by its qualified name)",
        path));
  }
  return s;
}

std::vector<std::vector<double>> hutchinson_diagonal(const hessian::LossHessian& hessian, int probes,
                                                     std::uint64_t seed, const ProgressCallback& progress) {
  if (probes < 1) throw std::runtime_error("--probes must be ≥ 1");
  const hessian::ParameterLayout& layout = hessian.layout();
  const Eigen::Index n = layout.total();
  hessian::BlockHessian full(hessian, {{0, n}}, "all");
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(n), y(n);
  for (int p = 0; p < probes; ++p) {
    const Eigen::VectorXd z = hessian::rademacher(n, hessian::derive_seed(seed, static_cast<std::uint64_t>(p)));
    full.perform_op(z.data(), y.data());
    sum += z.cwiseProduct(y);
    if (progress) progress(p + 1, probes);
  }
  sum /= static_cast<double>(probes);
  std::vector<std::vector<double>> out;
  for (std::size_t t = 0; t < layout.names.size(); ++t) {
    out.emplace_back(sum.data() + layout.offsets[t], sum.data() + layout.offsets[t + 1]);
  }
  return out;
}

}  // namespace blockscope::analysis
