#include "io/h5_tensor.h"

#include <fmt/format.h>

#include <array>

#include "io/h5_file.h"

namespace blockscope::io {
namespace {

struct StoredType {
  at::ScalarType dtype;
  const char* name;
  const H5::PredType* h5;  // type in the file and in memory
  at::ScalarType memory;   // the tensor dtype read into (bool/half/bf16: raw bits)
};

const std::array<StoredType, 10>& stored_types() {
  static const std::array<StoredType, 10> types = {{
      {at::kDouble, "float64", &H5::PredType::NATIVE_DOUBLE, at::kDouble},
      {at::kFloat, "float32", &H5::PredType::NATIVE_FLOAT, at::kFloat},
      {at::kHalf, "float16", &H5::PredType::NATIVE_UINT16, at::kShort},
      {at::kBFloat16, "bfloat16", &H5::PredType::NATIVE_UINT16, at::kShort},
      {at::kLong, "int64", &H5::PredType::NATIVE_INT64, at::kLong},
      {at::kInt, "int32", &H5::PredType::NATIVE_INT32, at::kInt},
      {at::kShort, "int16", &H5::PredType::NATIVE_INT16, at::kShort},
      {at::kChar, "int8", &H5::PredType::NATIVE_INT8, at::kChar},
      {at::kByte, "uint8", &H5::PredType::NATIVE_UINT8, at::kByte},
      {at::kBool, "bool", &H5::PredType::NATIVE_UINT8, at::kByte},
  }};
  return types;
}

const StoredType& stored_type(at::ScalarType dtype) {
  for (const StoredType& t : stored_types()) {
    if (t.dtype == dtype) return t;
  }
  throw std::runtime_error(
      fmt::format("cannot store a tensor of dtype {} in HDF5 (blockscope stores float, integer "
                  "and bool tensors)",
                  c10::toString(dtype)));
}

}  // namespace

std::string dtype_name(at::ScalarType dtype) {
  for (const StoredType& t : stored_types()) {
    if (t.dtype == dtype) return t.name;
  }
  return c10::toString(dtype);
}

void write_tensor(H5::Group& group, const std::string& name, const at::Tensor& tensor) {
  const StoredType& type = stored_type(tensor.scalar_type());
  at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  if (type.memory != type.dtype) t = type.dtype == at::kBool ? t.to(at::kByte) : t.view(type.memory);
  std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
  H5::DataSpace space =
      dims.empty() ? H5::DataSpace(H5S_SCALAR) : H5::DataSpace(static_cast<int>(dims.size()), dims.data());
  H5::DataSet ds = group.createDataSet(name, *type.h5, space);
  if (t.numel() > 0) ds.write(t.data_ptr(), *type.h5);
  set_attribute(ds, "dtype", type.name);
}

at::ScalarType stored_dtype(const H5::Group& group, const std::string& name) {
  const DatasetInfo info = dataset_info(group, name);
  H5::DataSet ds = group.openDataSet(name);
  if (has_attribute(ds, "dtype")) {
    const std::string dtype = read_string_attribute(ds, "dtype");
    const bool is_signed = info.type_class == H5T_INTEGER && ds.getIntType().getSign() != H5T_SGN_NONE;
    for (const StoredType& t : stored_types()) {
      const bool t_signed = t.h5->getClass() == H5T_INTEGER && H5::IntType(*t.h5).getSign() != H5T_SGN_NONE;
      if (dtype == t.name && info.type_class == t.h5->getClass() && info.element_size == t.h5->getSize() &&
          is_signed == t_signed) {
        return t.dtype;
      }
    }
    throw std::runtime_error(fmt::format("dataset '{}' claims dtype '{}' but stores {}{} elements", name, dtype,
                                         info.type_class == H5T_FLOAT ? "float"
                                         : is_signed                  ? "int"
                                                                      : "uint",
                                         8 * info.element_size));
  }
  if (info.type_class == H5T_FLOAT) return info.element_size == 8 ? at::kDouble : at::kFloat;
  if (info.type_class == H5T_INTEGER) {
    const bool is_signed = ds.getIntType().getSign() != H5T_SGN_NONE;
    if (!is_signed) return info.element_size == 1 ? at::kByte : at::kLong;
    switch (info.element_size) {
      case 1:
        return at::kChar;
      case 2:
        return at::kShort;
      case 4:
        return at::kInt;
      default:
        return at::kLong;
    }
  }
  throw std::runtime_error(fmt::format("dataset '{}' is not numeric (need floats or integers)", name));
}

at::Tensor read_tensor(const H5::Group& group, const std::string& name) {
  const at::ScalarType dtype = stored_dtype(group, name);
  const StoredType& type = stored_type(dtype);
  const DatasetInfo info = dataset_info(group, name);
  require_numeric_data(info, name);
  std::vector<std::int64_t> shape(info.dims.begin(), info.dims.end());
  // A dtype attribute pins the stored width; without one, HDF5 converts to the memory type.
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type.memory));
  if (t.numel() > 0) group.openDataSet(name).read(t.data_ptr(), *type.h5);
  if (dtype == at::kBool) {
    if (t.gt(1).any().item<bool>()) {
      throw std::runtime_error(fmt::format("bool dataset '{}' holds values other than 0 and 1", name));
    }
    return t.to(at::kBool);
  }
  return type.memory == dtype ? t : t.view(dtype);
}

}  // namespace blockscope::io
