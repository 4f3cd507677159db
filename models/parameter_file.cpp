// Parameter files; contract and layout in parameter_file.h.
#include "models/parameter_file.h"

#include <c10/core/GradMode.h>
#include <fmt/format.h>

#include <set>

#include "io/h5_file.h"
#include "io/h5_tensor.h"

namespace blockscope::models {
namespace {

inline constexpr const char* kCheckpointSchema = "blockscope.checkpoint/1";

std::string shape_of(at::IntArrayRef shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The stored value of `name` in `group`, checked against the live tensor.
at::Tensor read_matching(const H5::Group& group, const std::string& name, const at::Tensor& live, bool same_dtype,
                         const std::string& what) {
  if (!io::has_dataset(group, name)) throw std::runtime_error(fmt::format("has no {} '{}'", what, name));
  const at::Tensor value = io::read_tensor(group, name);
  if (value.sizes() != live.sizes()) {
    throw std::runtime_error(fmt::format("holds {} '{}' as {} where the model has {}", what, name,
                                         shape_of(value.sizes()), shape_of(live.sizes())));
  }
  if (same_dtype ? value.scalar_type() != live.scalar_type() : value.is_floating_point() != live.is_floating_point()) {
    throw std::runtime_error(fmt::format("holds {} '{}' as {} where the model has {}", what, name,
                                         io::dtype_name(value.scalar_type()), io::dtype_name(live.scalar_type())));
  }
  return value;
}

// Names of the datasets directly in `group`, except the subgroup `skip`.
std::set<std::string> member_names(const H5::Group& group, const std::string& skip) {
  std::set<std::string> names;
  for (hsize_t i = 0; i < group.getNumObjs(); ++i) {
    const std::string name = group.getObjnameByIdx(i);
    if (name != skip) names.insert(name);
  }
  return names;
}

void load_checked(const std::filesystem::path& path, Model& model) {
  H5::H5File file = io::open_for_reading(path);
  H5::Group root = file.openGroup("/");
  const std::string schema = io::has_attribute(root, "schema") ? io::read_string_attribute(root, "schema") : "none";
  if (schema != kParamsSchema && schema != kCheckpointSchema) {
    throw std::runtime_error(
        fmt::format("has schema '{}', not {} (parameters saved by train) or {} (a train checkpoint)", schema,
                    kParamsSchema, kCheckpointSchema));
  }
  const bool checkpoint = schema == kCheckpointSchema;
  if (checkpoint && !file.nameExists("/params")) throw std::runtime_error("has no /params group");
  H5::Group params = checkpoint ? file.openGroup("/params") : root;
  std::vector<at::Tensor> values;
  std::set<std::string> stored = member_names(params, checkpoint ? "" : "buffers");
  for (const NamedParameter& p : model.parameters()) {
    values.push_back(read_matching(params, p.name, p.tensor, false, "parameter"));
    stored.erase(p.name);
  }
  if (!stored.empty()) {
    throw std::runtime_error(
        fmt::format("holds parameter '{}' that the model does not have (it was written for "
                    "another model)",
                    *stored.begin()));
  }
  const auto buffers = model.named_buffers();
  std::vector<at::Tensor> buffer_values;
  if (!buffers.empty()) {
    if (!file.nameExists("/buffers")) {
      throw std::runtime_error(
          "has no model buffers (/buffers), which this model has (BatchNorm statistics?): "
          "save the parameters again with `blockscope train`");
    }
    H5::Group g = file.openGroup("/buffers");
    std::set<std::string> stored_buffers = member_names(g, "");
    for (const auto& [name, tensor] : buffers) {
      buffer_values.push_back(read_matching(g, name, tensor, true, "buffer"));
      stored_buffers.erase(name);
    }
    if (!stored_buffers.empty()) {
      throw std::runtime_error(fmt::format("holds buffer '{}' that the model does not have", *stored_buffers.begin()));
    }
  }
  at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < values.size(); ++i) model.parameters()[i].tensor.copy_(values[i]);
  for (std::size_t i = 0; i < buffer_values.size(); ++i) buffers[i].second.copy_(buffer_values[i]);
}

}  // namespace

void write_parameter_file(const std::filesystem::path& path, const Model& model) {
  io::AtomicH5Writer w(path, kParamsSchema);
  w.describe("/buffers/*", "a model buffer (BatchNorm statistics, counters, masks)");
  w.describe("/*", "a trained parameter, named by its qualified name");
  H5::Group root = w.root();
  io::set_attribute(root, "model", model.description());
  io::set_attribute(root, "parameters", model.num_parameters());
  for (const NamedParameter& p : model.parameters()) io::write_tensor(root, p.name, p.tensor);
  const auto buffers = model.named_buffers();
  if (!buffers.empty()) {
    H5::Group g = io::ensure_group(w.file(), "/buffers");
    for (const auto& [name, tensor] : buffers) io::write_tensor(g, name, tensor);
  }
  w.commit();
}

void load_parameter_file(const std::filesystem::path& path, Model& model) {
  try {
    load_checked(path, model);
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    if (what.rfind(path.string(), 0) == 0) throw;
    throw std::runtime_error(fmt::format("parameter file {} {}", path.string(), what));
  } catch (const H5::Exception& e) {
    throw std::runtime_error(fmt::format("parameter file {} is corrupt ({})", path.string(), e.getDetailMsg()));
  }
}

}  // namespace blockscope::models
