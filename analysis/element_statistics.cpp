#include "analysis/element_statistics.h"

#include <fmt/format.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>

#include "data/loss.h"
#include "data/sources.h"
#include "io/h5_file.h"
#include "models/data_fit.h"
#include "partition/diagnostics.h"

namespace blockscope::analysis {

Minibatches open_minibatches(const std::string& model, const std::string& data, std::int64_t batch_size,
                             std::int64_t minibatches, std::uint64_t seed, const std::string& params_file) {
  if (batch_size < 1 || minibatches < 1) {
    throw std::runtime_error(fmt::format("the batch size and the number of minibatches must be ≥ 1 (got {} and {})",
                                         batch_size, minibatches));
  }
  Minibatches m;
  m.model = models::load_model(model, seed, params_file);
  m.dataset = data::load_dataset(data, m.model->input_spec(), {batch_size * minibatches, 0, seed});
  models::check_data_fits(*m.model, m.dataset);
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

namespace {

std::vector<std::int64_t> dims_of(const io::DatasetInfo& info) { return {info.dims.begin(), info.dims.end()}; }

// K for a dataset of `dims` holding gradients of a parameter of `shape`: 1
// for [*shape], K for [K, *shape]; -1 when it is neither.
std::int64_t minibatches_for(const std::vector<std::int64_t>& dims, const std::vector<std::int64_t>& shape) {
  if (dims == shape) return 1;
  if (dims.size() == shape.size() + 1 && std::equal(shape.begin(), shape.end(), dims.begin() + 1)) return dims[0];
  return -1;
}

}  // namespace

GradientFile read_gradient_file(const std::string& path, const std::vector<partition::TensorInfo>* expected) {
  H5::H5File file = io::open_for_reading(path);
  H5::Group root = file.openGroup("/");
  std::vector<std::string> names;
  std::vector<io::DatasetInfo> infos;
  for (hsize_t i = 0; i < root.getNumObjs(); ++i) {
    const std::string name = root.getObjnameByIdx(i);
    if (root.getObjTypeByIdx(i) != H5G_DATASET) {
      throw std::runtime_error(
          fmt::format("{}: '{}' is not a dataset (a gradient file holds one float dataset per "
                      "parameter at its root)",
                      path, name));
    }
    infos.push_back(io::dataset_info(root, name));
    if (infos.back().type_class != H5T_FLOAT) {
      throw std::runtime_error(fmt::format("{}: gradient '{}' is not floating point", path, name));
    }
    try {
      io::require_numeric_data(infos.back(), name);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
    }
    names.push_back(name);
  }
  if (names.empty()) {
    throw std::runtime_error(fmt::format(
        "{} holds no gradient datasets (write one dataset per parameter, named by its qualified name)", path));
  }
  GradientFile g;
  std::vector<std::size_t> order;  // file dataset of each tensor
  std::int64_t K = -1;
  auto agree = [&](const std::string& name, std::int64_t k, const io::DatasetInfo& info) {
    if (K >= 0 && k != K) {
      throw std::runtime_error(fmt::format("{}: gradient '{}' has {} minibatches ({}) but the first dataset has {}",
                                           path, name, k, info.shape_string(), K));
    }
    if (k < 1) throw std::runtime_error(fmt::format("{}: gradient '{}' holds no minibatches", path, name));
    K = k;
  };
  if (expected) {
    for (const partition::TensorInfo& t : *expected) {
      const auto it = std::find(names.begin(), names.end(), t.name);
      if (it == names.end())
        throw std::runtime_error(fmt::format("{} has no gradient for parameter '{}'", path, t.name));
      const std::size_t i = static_cast<std::size_t>(it - names.begin());
      const std::int64_t k = minibatches_for(dims_of(infos[i]), t.shape);
      if (k < 0) {
        throw std::runtime_error(
            fmt::format("{}: gradient '{}' is {}, which is neither the parameter's shape {} nor "
                        "[K, {}] for K minibatches",
                        path, t.name, infos[i].shape_string(), partition::shape_string(t.shape),
                        partition::shape_string(t.shape).substr(1, std::string::npos)));
      }
      agree(t.name, k, infos[i]);
      order.push_back(i);
      g.tensors.push_back(t);
    }
    if (names.size() != expected->size()) {
      for (const std::string& name : names) {
        const bool known = std::any_of(expected->begin(), expected->end(),
                                       [&](const partition::TensorInfo& t) { return t.name == name; });
        if (!known)
          throw std::runtime_error(fmt::format("{}: gradient '{}' names no parameter of the model", path, name));
      }
    }
  } else {
    bool stacked = false;
    if (io::has_attribute(root, "minibatches")) {
      stacked = true;
    } else {
      const bool same_leading = std::all_of(infos.begin(), infos.end(), [&](const io::DatasetInfo& i) {
        return !i.dims.empty() && !infos[0].dims.empty() && i.dims[0] == infos[0].dims[0];
      });
      if (same_leading) {
        throw std::runtime_error(fmt::format(
            "cannot tell whether {} holds one gradient per parameter or [K, *shape] minibatch gradients (every "
            "dataset starts with {}): give the model, or set the root attribute minibatches = K "
            "(h5py: f.attrs['minibatches'] = K; 1 for one gradient per parameter)",
            path, infos[0].dims[0]));
      }
    }
    if (stacked) {
      K = io::read_int_attribute(root, "minibatches");
      if (K < 1)
        throw std::runtime_error(fmt::format("{}: the root attribute minibatches must be ≥ 1, got {}", path, K));
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
      std::vector<std::int64_t> shape = dims_of(infos[i]);
      if (stacked && K != 1) {
        if (shape.empty()) {
          throw std::runtime_error(
              fmt::format("{}: gradient '{}' is a scalar; with minibatches = {} each dataset "
                          "needs a leading minibatch axis [K, *shape]",
                          path, names[i], K));
        }
        agree(names[i], shape[0], infos[i]);
        shape.erase(shape.begin());
      }
      g.tensors.push_back({names[i], shape});
      order.push_back(i);
    }
    if (K < 1) K = 1;
  }
  g.minibatches = K;
  for (std::size_t t = 0; t < g.tensors.size(); ++t) {
    std::vector<float> values = io::read_floats(root, names[order[t]]);
    for (float x : values) {
      if (!std::isfinite(x)) {
        throw std::runtime_error(fmt::format("{}: gradient '{}' holds a non-finite value", path, names[order[t]]));
      }
    }
    g.gradients.push_back(std::move(values));
  }
  return g;
}

SecondMoments second_moments(const GradientFile& file) {
  SecondMoments s;
  s.tensors = file.tensors;
  s.minibatches = file.minibatches;
  for (std::size_t t = 0; t < file.tensors.size(); ++t) {
    s.v.push_back(
        partition::mean_square_over_minibatches(file.gradients[t].data(), file.minibatches, file.tensors[t].numel()));
  }
  return s;
}

}  // namespace blockscope::analysis
