#include "data/h5_dataset.h"

#include <fmt/format.h>

#include "io/h5_file.h"

namespace blockscope::data {
namespace {

at::Tensor read_tensor(const H5::Group& root, const std::string& name, const std::string& file) {
  if (!io::has_dataset(root, name)) {
    throw std::runtime_error(fmt::format(
        "{} has no dataset '{}' (a data file needs 'inputs' and 'targets', first axis = examples)", file, name));
  }
  io::DatasetInfo info = io::dataset_info(root, name);
  std::vector<std::int64_t> shape(info.dims.begin(), info.dims.end());
  if (shape.empty() || shape[0] == 0) {
    throw std::runtime_error(
        fmt::format("{}: dataset '{}' is empty or scalar (shape {})", file, name, info.shape_string()));
  }
  if (info.type_class == H5T_INTEGER) {
    std::vector<std::int64_t> values = io::read_int64s(root, name);
    return at::from_blob(values.data(), shape, at::kLong).clone();
  }
  if (info.type_class == H5T_FLOAT) {
    std::vector<float> values = io::read_floats(root, name);
    at::Tensor t = at::from_blob(values.data(), shape, at::kFloat).clone();
    if (!at::isfinite(t).all().item<bool>()) {
      throw std::runtime_error(
          fmt::format("{}: dataset '{}' contains NaN or Inf values (clean the data before analysis)", file, name));
    }
    return t;
  }
  throw std::runtime_error(
      fmt::format("{}: dataset '{}' has an unsupported element type (need integers or floats)", file, name));
}

}  // namespace

Dataset read_h5_dataset(const std::filesystem::path& path) {
  H5::H5File file = io::open_for_reading(path);
  H5::Group root = file.openGroup("/");
  const std::string name = path.string();
  Dataset d;
  d.inputs = read_tensor(root, "inputs", name);
  d.targets = read_tensor(root, "targets", name);
  if (d.inputs.size(0) != d.targets.size(0)) {
    throw std::runtime_error(
        fmt::format("{}: 'inputs' has {} examples but 'targets' has {} (first dimensions must match)", name,
                    d.inputs.size(0), d.targets.size(0)));
  }
  d.description = fmt::format("hdf5({}, examples={})", name, d.inputs.size(0));
  return d;
}

}  // namespace blockscope::data
