// HDF5 helpers for blockscope result and input files.
//
// Contract (docs/design.md, "Results"): every result file has a root
// attribute `schema` = "blockscope.<kind>/<version>", every setting stored as
// an attribute, and is written atomically: the data goes to a temporary file
// beside the target, which commit() renames onto it. A writer destroyed
// before commit() (an exception, a bad input found late) deletes the
// temporary, so no partial file is ever left under the requested name.
// Errors are thrown as std::runtime_error with a one-line message.
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace blockscope::io {

// What every result file records at its root (attributes blockscope_version
// and command_line): set once by the program's entry point.
void set_provenance(const std::string& version, const std::string& command_line);

class AtomicH5Writer {
 public:
  // Creates "<path>.tmp-<pid>" and writes the root `schema` attribute (and
  // the provenance attributes when set).
  AtomicH5Writer(std::filesystem::path path, const std::string& schema);
  ~AtomicH5Writer();
  AtomicH5Writer(const AtomicH5Writer&) = delete;
  AtomicH5Writer& operator=(const AtomicH5Writer&) = delete;

  H5::H5File& file() { return file_; }
  H5::Group root() { return file_.openGroup("/"); }
  // Every dataset whose absolute path matches `pattern` (fnmatch: '*'
  // matches any run of characters, '/' included) gets the attribute
  // `description` = text at commit; the first matching pattern wins.
  void describe(const std::string& pattern, const std::string& text);
  // Writes the descriptions, closes the file and renames it onto the target path.
  void commit();

 private:
  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  H5::H5File file_;
  std::vector<std::pair<std::string, std::string>> descriptions_;  // (pattern, text)
  bool committed_ = false;
};

// Checks, before any work, that a result file can be written at `path`: it
// is not a directory and its directory exists and takes a new file (tried by
// creating and removing a probe file beside it). Throws a one-line
// std::runtime_error naming the path and what to change.
void check_output_file(const std::filesystem::path& path);

// Checks that `directory` is a writable directory or can be created: no
// component is a file and the nearest existing ancestor takes new entries.
void check_output_directory(const std::filesystem::path& directory);

// The name of member i of `count` numbered groups or datasets, zero-padded
// so that they list in order ("07" of 12); readers also accept the unpadded
// name of files written before padding.
std::string indexed_name(std::size_t i, std::size_t count);
std::string find_indexed(const H5::Group& parent, std::size_t i, std::size_t count);

// Opens an existing HDF5 file read-only; the error names the file and says
// whether it is missing or not HDF5 at all.
H5::H5File open_for_reading(const std::filesystem::path& path);

// Returns the group at an absolute path such as "/slq", creating it and its
// parents as needed.
H5::Group ensure_group(H5::H5File& file, const std::string& path);
bool has_dataset(const H5::Group& group, const std::string& name);

// Attributes (scalars and strings) on a group or dataset.
void set_attribute(H5::H5Object& object, const std::string& name, const std::string& value);
void set_attribute(H5::H5Object& object, const std::string& name, const char* value);
void set_attribute(H5::H5Object& object, const std::string& name, double value);
void set_attribute(H5::H5Object& object, const std::string& name, std::int64_t value);
void set_attribute(H5::H5Object& object, const std::string& name, int value);
void set_attribute(H5::H5Object& object, const std::string& name, bool value);
std::string read_string_attribute(const H5::H5Object& object, const std::string& name);
double read_double_attribute(const H5::H5Object& object, const std::string& name);
std::int64_t read_int_attribute(const H5::H5Object& object, const std::string& name);
bool has_attribute(const H5::H5Object& object, const std::string& name);

// Variable-length UTF-8 string dataset, shape [n].
void write_strings(H5::Group& group, const std::string& name, const std::vector<std::string>& values);
std::vector<std::string> read_strings(const H5::Group& group, const std::string& name);

// Numeric datasets stored row-major with the given dims (product = data size).
void write_array(H5::Group& group, const std::string& name, const double* data, const std::vector<hsize_t>& dims);
void write_array(H5::Group& group, const std::string& name, const float* data, const std::vector<hsize_t>& dims);
void write_array(H5::Group& group, const std::string& name, const std::int64_t* data, const std::vector<hsize_t>& dims);
void write_array(H5::Group& group, const std::string& name, const std::uint8_t* data, const std::vector<hsize_t>& dims);

// A dataset's shape and element class, for validation before reading.
struct DatasetInfo {
  std::vector<hsize_t> dims;
  H5T_class_t type_class = H5T_NO_CLASS;  // H5T_INTEGER, H5T_FLOAT, ...
  std::size_t element_size = 0;           // bytes per stored element
  hsize_t storage_bytes = 0;              // bytes the file holds for it (compressed, or 0 if never written)
  std::uint64_t num_elements() const;
  std::string shape_string() const;  // e.g. "[128, 16]"
};
DatasetInfo dataset_info(const H5::Group& group, const std::string& name);
// Throws a one-line error unless the dataset holds integers or floats whose
// declared size the stored bytes can account for (no header claiming 2^40
// elements over a few bytes): checked before any read allocates memory.
void require_numeric_data(const DatasetInfo& info, const std::string& name);

// Reads a whole numeric dataset converted to the requested type.
std::vector<double> read_doubles(const H5::Group& group, const std::string& name);
std::vector<float> read_floats(const H5::Group& group, const std::string& name);
std::vector<std::int64_t> read_int64s(const H5::Group& group, const std::string& name);

}  // namespace blockscope::io
