// Partition files (schema blockscope.partition/1):
//   root attributes: schema, strategy, num_blocks, num_parameters, num_tensors
//   /settings: one attribute per scalar setting, one string dataset per list
//   /tensors/<i> (i = 0..num_tensors-1 zero-padded to list in order, e.g. 07 of 12; unpadded names of older files are
//   read too):
//     attributes name, period (0 = explicit), first_block (consecutive ids only)
//     datasets shape [ndim], boundaries [R+1] (period 0 only), block_ids [R]
//     (explicit ids only)
#include <fmt/format.h>

#include <stdexcept>

#include "io/h5_file.h"
#include "partition/partition.h"

namespace blockscope::partition {
namespace {

void write_setting(H5::Group& group, const std::string& key, const nlohmann::json& value) {
  if (value.is_string()) {
    io::set_attribute(group, key, value.get<std::string>());
  } else if (value.is_boolean()) {
    io::set_attribute(group, key, value.get<bool>());
  } else if (value.is_number_integer()) {
    io::set_attribute(group, key, value.get<std::int64_t>());
  } else if (value.is_number()) {
    io::set_attribute(group, key, value.get<double>());
  } else {
    io::write_strings(group, key, value.get<std::vector<std::string>>());
  }
}

nlohmann::json read_settings(const H5::Group& group) {
  nlohmann::json settings = nlohmann::json::object();
  for (int i = 0; i < group.getNumAttrs(); ++i) {
    H5::Attribute attr = group.openAttribute(static_cast<unsigned>(i));
    std::string key = attr.getName();
    switch (attr.getTypeClass()) {
      case H5T_STRING:
        settings[key] = io::read_string_attribute(group, key);
        break;
      case H5T_INTEGER:
        settings[key] = io::read_int_attribute(group, key);
        break;
      case H5T_FLOAT:
        settings[key] = io::read_double_attribute(group, key);
        break;
      case H5T_ENUM: {
        std::int8_t flag = 0;
        attr.read(attr.getEnumType(), &flag);
        settings[key] = flag != 0;
        break;
      }
      default:
        throw std::runtime_error(fmt::format("setting '{}' has an unsupported type", key));
    }
  }
  for (hsize_t i = 0; i < group.getNumObjs(); ++i) {
    std::string key = group.getObjnameByIdx(i);
    settings[key] = io::read_strings(group, key);
  }
  return settings;
}

TensorBlocks read_tensor(const H5::H5File& file, std::int64_t index, std::int64_t count) {
  if (!file.nameExists("/tensors")) throw std::runtime_error("group /tensors is missing");
  const std::string path = "/tensors/" + io::find_indexed(file.openGroup("/tensors"), index, count);
  if (!file.nameExists(path)) throw std::runtime_error(fmt::format("group {} is missing", path));
  H5::Group group = file.openGroup(path);
  TensorBlocks t;
  t.tensor.name = io::read_string_attribute(group, "name");
  if (io::dataset_info(group, "shape").dims.size() != 1) {
    throw std::runtime_error(fmt::format("{}/shape is not a 1-D list of dimensions", path));
  }
  t.tensor.shape = io::read_int64s(group, "shape");
  t.period = io::read_int_attribute(group, "period");
  if (t.period == 0) t.boundaries = io::read_int64s(group, "boundaries");
  if (io::has_dataset(group, "block_ids")) {
    t.block_ids = io::read_int64s(group, "block_ids");
  } else {
    t.first_block = io::read_int_attribute(group, "first_block");
  }
  return t;
}

}  // namespace

void Partition::save(const std::filesystem::path& path) const {
  io::AtomicH5Writer writer(path, kPartitionSchema);
  writer.describe("/settings/*", "a list-valued setting of the strategy");
  writer.describe("/tensors/*/shape", "the tensor's shape");
  writer.describe("/tensors/*/boundaries", "range boundaries in the flattened tensor (explicit ranges: R + 1 values)");
  writer.describe("/tensors/*/block_ids", "global block id of each range (blocks shared across tensors)");
  H5::Group root = writer.root();
  io::set_attribute(root, "strategy", strategy_);
  io::set_attribute(root, "num_blocks", num_blocks_);
  io::set_attribute(root, "num_parameters", num_parameters_);
  io::set_attribute(root, "num_tensors", static_cast<std::int64_t>(tensors_.size()));
  H5::Group settings = io::ensure_group(writer.file(), "/settings");
  for (const auto& [key, value] : settings_.items()) write_setting(settings, key, value);
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const TensorBlocks& t = tensors_[i];
    H5::Group group = io::ensure_group(writer.file(), "/tensors/" + io::indexed_name(i, tensors_.size()));
    io::set_attribute(group, "name", t.tensor.name);
    io::write_array(group, "shape", t.tensor.shape.data(), {t.tensor.shape.size()});
    io::set_attribute(group, "period", t.period);
    if (t.period == 0) {
      io::write_array(group, "boundaries", t.boundaries.data(), {t.boundaries.size()});
    }
    if (t.block_ids.empty()) {
      io::set_attribute(group, "first_block", t.first_block);
    } else {
      io::write_array(group, "block_ids", t.block_ids.data(), {t.block_ids.size()});
    }
  }
  writer.commit();
}

Partition Partition::load(const std::filesystem::path& path) {
  H5::H5File file = io::open_for_reading(path);
  H5::Group root = file.openGroup("/");
  if (!io::has_attribute(root, "schema")) {
    throw std::runtime_error(
        fmt::format("{} is not a blockscope partition file (no schema attribute); make one with blockscope "
                    "partition",
                    path.string()));
  }
  std::string schema = io::read_string_attribute(root, "schema");
  if (schema != kPartitionSchema) {
    throw std::runtime_error(
        fmt::format("{} is not a partition file this blockscope reads: its schema is '{}', expected '{}' "
                    "(make one with blockscope partition)",
                    path.string(), schema, kPartitionSchema));
  }
  try {
    std::string strategy = io::read_string_attribute(root, "strategy");
    nlohmann::json settings =
        file.nameExists("/settings") ? read_settings(file.openGroup("/settings")) : nlohmann::json::object();
    std::int64_t num_tensors = io::read_int_attribute(root, "num_tensors");
    if (num_tensors < 0) throw std::runtime_error(fmt::format("num_tensors is {}", num_tensors));
    std::vector<TensorBlocks> tensors;
    for (std::int64_t i = 0; i < num_tensors; ++i) tensors.push_back(read_tensor(file, i, num_tensors));
    Partition partition(std::move(strategy), std::move(settings), std::move(tensors));
    std::int64_t num_blocks = io::read_int_attribute(root, "num_blocks");
    if (num_blocks != partition.num_blocks()) {
      throw std::runtime_error(
          fmt::format("it records {} blocks but its ranges use {}", num_blocks, partition.num_blocks()));
    }
    return partition;
  } catch (const H5::Exception& e) {
    throw std::runtime_error(
        fmt::format("partition file {} is inconsistent: {} (the file is damaged; re-run blockscope partition)",
                    path.string(), e.getDetailMsg()));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(
        fmt::format("partition file {} is inconsistent: {} (the file is damaged; re-run blockscope partition)",
                    path.string(), e.what()));
  }
}

}  // namespace blockscope::partition
