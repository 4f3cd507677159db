#include "io/h5_file.h"

#include "io/crash_guard.h"

#include <fmt/format.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <system_error>

namespace blockscope::io {
namespace {

// HDF5 prints its own error stack to stderr by default; blockscope reports
// one line itself.
void silence_hdf5_errors() {
  static const bool silenced = [] {
    H5::Exception::dontPrint();
    return true;
  }();
  (void)silenced;
}

H5::DataSpace space_for(const std::vector<hsize_t>& dims) {
  if (dims.empty()) return H5::DataSpace(H5S_SCALAR);
  return H5::DataSpace(static_cast<int>(dims.size()), dims.data());
}

template <typename T>
void write_array_impl(H5::Group& group, const std::string& name, const T* data, const std::vector<hsize_t>& dims,
                      const H5::PredType& file_type, const H5::PredType& mem_type) {
  H5::DataSet ds = group.createDataSet(name, file_type, space_for(dims));
  std::uint64_t n =
      std::accumulate(dims.begin(), dims.end(), std::uint64_t{1}, [](std::uint64_t a, hsize_t b) { return a * b; });
  if (n > 0) ds.write(data, mem_type);
}

template <typename T>
std::vector<T> read_array_impl(const H5::Group& group, const std::string& name, const H5::PredType& mem_type) {
  DatasetInfo info = dataset_info(group, name);
  require_numeric_data(info, name);
  std::vector<T> out(info.num_elements());
  if (!out.empty()) group.openDataSet(name).read(out.data(), mem_type);
  return out;
}

// A scalar integer or float attribute, or a one-line error.
H5::Attribute open_numeric_attribute(const H5::H5Object& object, const std::string& name) {
  H5::Attribute attr = object.openAttribute(name);
  const H5T_class_t type = attr.getTypeClass();
  if ((type != H5T_INTEGER && type != H5T_FLOAT) || attr.getSpace().getSimpleExtentNpoints() != 1) {
    throw std::runtime_error(fmt::format("attribute '{}' is not a number", name));
  }
  return attr;
}

H5::StrType utf8_string_type() {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  return type;
}

struct Provenance {
  std::string version, command_line;
};

Provenance& provenance() {
  static Provenance p;
  return p;
}

}  // namespace

void set_provenance(const std::string& version, const std::string& command_line) {
  provenance() = {version, command_line};
}

AtomicH5Writer::AtomicH5Writer(std::filesystem::path path, const std::string& schema) : path_(std::move(path)) {
  silence_hdf5_errors();
  std::filesystem::path parent = path_.parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent)) {
    throw std::runtime_error(
        fmt::format("cannot write {}: directory {} does not exist (create it or choose another output path)",
                    path_.string(), parent.string()));
  }
  temp_path_ = path_;
  temp_path_ += fmt::format(".tmp-{}", static_cast<long>(::getpid()));
  try {
    file_ = H5::H5File(temp_path_.string(), H5F_ACC_TRUNC);
    register_temporary_file(temp_path_.string());
  } catch (const H5::Exception&) {
    throw std::runtime_error(fmt::format("cannot create {} (is the directory writable?)", temp_path_.string()));
  }
  H5::Group root = file_.openGroup("/");
  set_attribute(root, "schema", schema);
  if (!provenance().version.empty()) {
    set_attribute(root, "blockscope_version", provenance().version);
    set_attribute(root, "command_line", provenance().command_line);
  }
}

AtomicH5Writer::~AtomicH5Writer() {
  if (committed_) return;
  try {
    file_.close();
  } catch (...) {
  }
  std::error_code ignored;
  std::filesystem::remove(temp_path_, ignored);
  unregister_temporary_file(temp_path_.string());
}

void AtomicH5Writer::describe(const std::string& pattern, const std::string& text) {
  descriptions_.emplace_back(pattern, text);
}

namespace {

// Absolute paths of every dataset under `group` (named `path`).
void collect_datasets(const H5::Group& group, const std::string& path, std::vector<std::string>& out) {
  for (hsize_t i = 0; i < group.getNumObjs(); ++i) {
    const std::string name = group.getObjnameByIdx(i);
    const std::string child = (path == "/" ? "/" : path + "/") + name;
    const H5O_type_t type = group.childObjType(name);
    if (type == H5O_TYPE_DATASET) out.push_back(child);
    if (type == H5O_TYPE_GROUP) collect_datasets(group.openGroup(name), child, out);
  }
}

}  // namespace

void AtomicH5Writer::commit() {
  std::vector<std::string> datasets;
  collect_datasets(file_.openGroup("/"), "/", datasets);
  for (const std::string& path : datasets) {
    for (const auto& [pattern, text] : descriptions_) {
      if (::fnmatch(pattern.c_str(), path.c_str(), 0) != 0) continue;
      H5::DataSet ds = file_.openDataSet(path);
      set_attribute(ds, "description", text);
      break;
    }
  }
  // Everything reaches the file before the rename, even while a caller still holds a group or dataset open
  // (close() is weak: those would keep the file open, and unflushed, past it).
  file_.flush(H5F_SCOPE_GLOBAL);
  file_.close();
  std::error_code ec;
  std::filesystem::rename(temp_path_, path_, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp_path_, ignored);
    throw std::runtime_error(fmt::format("cannot move the finished file onto {}: {}", path_.string(), ec.message()));
  }
  committed_ = true;
  unregister_temporary_file(temp_path_.string());
}

namespace {

// True when a new file can be created in `directory` (a probe file, removed at once).
bool takes_new_files(const std::filesystem::path& directory) {
  const std::filesystem::path probe =
      directory / fmt::format(".blockscope-write-probe-{}", static_cast<long>(::getpid()));
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) return false;
  std::fclose(f);
  std::error_code ignored;
  std::filesystem::remove(probe, ignored);
  return true;
}

}  // namespace

void check_output_file(const std::filesystem::path& path) {
  if (path.empty()) throw std::runtime_error("an output file name is empty (give a file path)");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error(fmt::format("cannot write {}: it is a directory (give a file name inside it, e.g. {})",
                                         path.string(), (path / "result.h5").string()));
  }
  const std::filesystem::path parent = path.parent_path().empty() ? "." : path.parent_path();
  if (!std::filesystem::is_directory(parent, ec)) {
    throw std::runtime_error(
        fmt::format("cannot write {}: directory {} does not exist (create it or choose another "
                    "path)",
                    path.string(), parent.string()));
  }
  if (!takes_new_files(parent)) {
    throw std::runtime_error(fmt::format("cannot write {}: directory {} is not writable (choose another path)",
                                         path.string(), parent.string()));
  }
}

void check_output_directory(const std::filesystem::path& directory) {
  std::error_code ec;
  std::filesystem::path existing = directory.empty() ? "." : directory;
  while (!std::filesystem::exists(existing, ec) && existing.has_parent_path() && existing != existing.parent_path()) {
    existing = existing.parent_path();
  }
  if (!std::filesystem::exists(existing, ec)) existing = ".";
  if (!std::filesystem::is_directory(existing, ec)) {
    throw std::runtime_error(fmt::format("cannot make directory {}: {} is a file (choose another directory)",
                                         directory.string(), existing.string()));
  }
  if (!takes_new_files(existing)) {
    throw std::runtime_error(
        fmt::format("cannot write into directory {}: {} is not writable (choose another "
                    "directory)",
                    directory.string(), existing.string()));
  }
}

std::string indexed_name(std::size_t i, std::size_t count) {
  const int width = static_cast<int>(std::to_string(count > 0 ? count - 1 : 0).size());
  return fmt::format("{:0{}}", i, width);
}

std::string find_indexed(const H5::Group& parent, std::size_t i, std::size_t count) {
  const std::string padded = indexed_name(i, count);
  return parent.nameExists(padded) ? padded : std::to_string(i);
}

H5::H5File open_for_reading(const std::filesystem::path& path) {
  silence_hdf5_errors();
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error(fmt::format("file not found: {} (check the path)", path.string()));
  }
  if (std::filesystem::is_directory(path)) {
    throw std::runtime_error(
        fmt::format("{} is a directory, not an HDF5 file (give the path of a .h5 file)", path.string()));
  }
  note_input_file(path.string());
  if (H5::H5File::isHdf5(path.string()) <= 0) {
    throw std::runtime_error(
        fmt::format("{} is not an HDF5 file (corrupt or another format; blockscope reads .h5 files)", path.string()));
  }
  try {
    return H5::H5File(path.string(), H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    throw std::runtime_error(
        fmt::format("cannot open HDF5 file {}: {} (is it corrupt?)", path.string(), e.getDetailMsg()));
  }
}

H5::Group ensure_group(H5::H5File& file, const std::string& path) {
  std::string prefix;
  H5::Group group = file.openGroup("/");
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (!part.empty()) {
      prefix += "/" + part;
      group = file.nameExists(prefix) ? file.openGroup(prefix) : file.createGroup(prefix);
    }
    start = end + 1;
  }
  return group;
}

bool has_dataset(const H5::Group& group, const std::string& name) {
  if (!group.nameExists(name)) return false;
  return group.childObjType(name) == H5O_TYPE_DATASET;
}

void set_attribute(H5::H5Object& object, const std::string& name, const std::string& value) {
  if (object.attrExists(name)) object.removeAttr(name);
  H5::StrType type = utf8_string_type();
  H5::Attribute attr = object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attr.write(type, value);
}

void set_attribute(H5::H5Object& object, const std::string& name, const char* value) {
  set_attribute(object, name, std::string(value));
}

void set_attribute(H5::H5Object& object, const std::string& name, double value) {
  if (object.attrExists(name)) object.removeAttr(name);
  object.createAttribute(name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR))
      .write(H5::PredType::NATIVE_DOUBLE, &value);
}

void set_attribute(H5::H5Object& object, const std::string& name, std::int64_t value) {
  if (object.attrExists(name)) object.removeAttr(name);
  object.createAttribute(name, H5::PredType::NATIVE_INT64, H5::DataSpace(H5S_SCALAR))
      .write(H5::PredType::NATIVE_INT64, &value);
}

void set_attribute(H5::H5Object& object, const std::string& name, int value) {
  set_attribute(object, name, static_cast<std::int64_t>(value));
}

void set_attribute(H5::H5Object& object, const std::string& name, bool value) {
  // h5py reads this as numpy.bool_ through the HDF5 enum convention.
  std::uint8_t v = value ? 1 : 0;
  if (object.attrExists(name)) object.removeAttr(name);
  H5::EnumType type(H5::PredType::NATIVE_INT8);
  std::int8_t f = 0, t = 1;
  type.insert("FALSE", &f);
  type.insert("TRUE", &t);
  object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, &v);
}

bool has_attribute(const H5::H5Object& object, const std::string& name) { return object.attrExists(name); }

std::string read_string_attribute(const H5::H5Object& object, const std::string& name) {
  if (!object.attrExists(name)) {
    throw std::runtime_error(fmt::format("attribute '{}' is missing", name));
  }
  H5::Attribute attr = object.openAttribute(name);
  if (attr.getTypeClass() != H5T_STRING) {
    throw std::runtime_error(fmt::format("attribute '{}' is not a string", name));
  }
  std::string value;
  attr.read(attr.getStrType(), value);
  return value;
}

double read_double_attribute(const H5::H5Object& object, const std::string& name) {
  if (!object.attrExists(name)) {
    throw std::runtime_error(fmt::format("attribute '{}' is missing", name));
  }
  H5::Attribute attr = open_numeric_attribute(object, name);
  double value = 0;
  attr.read(H5::PredType::NATIVE_DOUBLE, &value);
  return value;
}

std::int64_t read_int_attribute(const H5::H5Object& object, const std::string& name) {
  if (!object.attrExists(name)) {
    throw std::runtime_error(fmt::format("attribute '{}' is missing", name));
  }
  H5::Attribute attr = open_numeric_attribute(object, name);
  if (attr.getTypeClass() != H5T_INTEGER) {
    throw std::runtime_error(fmt::format("attribute '{}' is not an integer", name));
  }
  std::int64_t value = 0;
  attr.read(H5::PredType::NATIVE_INT64, &value);
  return value;
}

void write_strings(H5::Group& group, const std::string& name, const std::vector<std::string>& values) {
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const std::string& v : values) pointers.push_back(v.c_str());
  hsize_t n = values.size();
  H5::DataSet ds = group.createDataSet(name, utf8_string_type(), H5::DataSpace(1, &n));
  if (n > 0) ds.write(pointers.data(), utf8_string_type());
}

std::vector<std::string> read_strings(const H5::Group& group, const std::string& name) {
  if (!has_dataset(group, name)) {
    throw std::runtime_error(fmt::format("string dataset '{}' is missing", name));
  }
  H5::DataSet ds = group.openDataSet(name);
  if (ds.getTypeClass() != H5T_STRING) {
    throw std::runtime_error(fmt::format("dataset '{}' does not hold strings", name));
  }
  H5::DataSpace space = ds.getSpace();
  hsize_t n = static_cast<hsize_t>(space.getSimpleExtentNpoints());
  H5::StrType type = ds.getStrType();
  std::vector<std::string> out;
  out.reserve(n);
  if (type.isVariableStr()) {
    std::vector<char*> raw(n, nullptr);
    H5::StrType mem = utf8_string_type();
    if (n > 0) ds.read(raw.data(), mem);
    for (char* s : raw) out.emplace_back(s ? s : "");
    if (n > 0) H5::DataSet::vlenReclaim(raw.data(), mem, space);
  } else {
    std::size_t width = type.getSize();
    std::vector<char> buffer(n * width);
    if (n > 0) ds.read(buffer.data(), type);
    for (hsize_t i = 0; i < n; ++i) {
      const char* s = buffer.data() + i * width;
      out.emplace_back(s, strnlen(s, width));
    }
  }
  return out;
}

void write_array(H5::Group& group, const std::string& name, const double* data, const std::vector<hsize_t>& dims) {
  write_array_impl(group, name, data, dims, H5::PredType::IEEE_F64LE, H5::PredType::NATIVE_DOUBLE);
}
void write_array(H5::Group& group, const std::string& name, const float* data, const std::vector<hsize_t>& dims) {
  write_array_impl(group, name, data, dims, H5::PredType::IEEE_F32LE, H5::PredType::NATIVE_FLOAT);
}
void write_array(H5::Group& group, const std::string& name, const std::int64_t* data,
                 const std::vector<hsize_t>& dims) {
  write_array_impl(group, name, data, dims, H5::PredType::STD_I64LE, H5::PredType::NATIVE_INT64);
}
void write_array(H5::Group& group, const std::string& name, const std::uint8_t* data,
                 const std::vector<hsize_t>& dims) {
  write_array_impl(group, name, data, dims, H5::PredType::STD_U8LE, H5::PredType::NATIVE_UINT8);
}

std::uint64_t DatasetInfo::num_elements() const {
  return std::accumulate(dims.begin(), dims.end(), std::uint64_t{1}, [](std::uint64_t a, hsize_t b) { return a * b; });
}

std::string DatasetInfo::shape_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    s += (i ? ", " : "") + std::to_string(dims[i]);
  }
  return s + "]";
}

DatasetInfo dataset_info(const H5::Group& group, const std::string& name) {
  if (!has_dataset(group, name)) {
    throw std::runtime_error(fmt::format("dataset '{}' is missing", name));
  }
  H5::DataSet ds = group.openDataSet(name);
  DatasetInfo info;
  H5::DataSpace space = ds.getSpace();
  info.dims.resize(static_cast<std::size_t>(space.getSimpleExtentNdims()));
  if (!info.dims.empty()) space.getSimpleExtentDims(info.dims.data());
  info.type_class = ds.getTypeClass();
  info.element_size = ds.getDataType().getSize();
  info.storage_bytes = ds.getStorageSize();
  return info;
}

void require_numeric_data(const DatasetInfo& info, const std::string& name) {
  if (info.type_class != H5T_INTEGER && info.type_class != H5T_FLOAT) {
    throw std::runtime_error(fmt::format("dataset '{}' is not numeric (need floats or integers)", name));
  }
  // Stored data may be compressed, but not beyond 1024:1; a larger declared
  // size means a corrupt header or a dataset that was never written.
  long double declared = info.element_size;  // in long double: a uint64 product of corrupt dims can wrap
  for (const hsize_t d : info.dims) declared *= static_cast<long double>(d);
  if (declared > std::max<long double>(1 << 20, 1024.0L * info.storage_bytes)) {
    throw std::runtime_error(fmt::format(
        "dataset '{}' declares shape {} ({:.3g} bytes) but the file stores only {} bytes of it (corrupt or never "
        "written)",
        name, info.shape_string(), static_cast<double>(declared), info.storage_bytes));
  }
}

std::vector<double> read_doubles(const H5::Group& group, const std::string& name) {
  return read_array_impl<double>(group, name, H5::PredType::NATIVE_DOUBLE);
}
std::vector<float> read_floats(const H5::Group& group, const std::string& name) {
  return read_array_impl<float>(group, name, H5::PredType::NATIVE_FLOAT);
}
std::vector<std::int64_t> read_int64s(const H5::Group& group, const std::string& name) {
  return read_array_impl<std::int64_t>(group, name, H5::PredType::NATIVE_INT64);
}

}  // namespace blockscope::io
