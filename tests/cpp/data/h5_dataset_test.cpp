// User HDF5 data: a good file loads with the right dtypes; each bad file
// gives a one-line error naming the problem.
#include <gtest/gtest.h>

#include <fstream>

#include "data/h5_dataset.h"
#include "io/h5_file.h"

namespace blockscope::data {
namespace {

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("blockscope_data_test_" + name);
}

// Writes a file with the given datasets; `nullptr` data skips one.
std::filesystem::path write_file(const std::string& name, const std::vector<float>* inputs,
                                 std::vector<hsize_t> input_dims, const std::vector<std::int64_t>* int_targets,
                                 const std::vector<float>* float_targets, std::vector<hsize_t> target_dims) {
  auto path = temp_file(name);
  io::AtomicH5Writer w(path, "test");
  H5::Group root = w.root();
  if (inputs) io::write_array(root, "inputs", inputs->data(), input_dims);
  if (int_targets) io::write_array(root, "targets", int_targets->data(), target_dims);
  if (float_targets) io::write_array(root, "targets", float_targets->data(), target_dims);
  w.commit();
  return path;
}

std::string error_of(const std::filesystem::path& path) {
  try {
    read_h5_dataset(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(H5Dataset, ReadsClassificationAndRegressionFiles) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  std::vector<std::int64_t> y = {0, 2, 1};
  Dataset d = read_h5_dataset(write_file("cls.h5", &x, {3, 2}, &y, nullptr, {3}));
  EXPECT_EQ(d.inputs.scalar_type(), at::kFloat);
  EXPECT_EQ(d.targets.scalar_type(), at::kLong);
  EXPECT_EQ(d.inputs.sizes(), (at::IntArrayRef{3, 2}));
  EXPECT_EQ(d.inputs[2][1].item<float>(), 6.0f);
  EXPECT_EQ(d.targets[1].item<std::int64_t>(), 2);
  std::vector<float> r = {0.5f, -1.0f, 2.0f};
  Dataset reg = read_h5_dataset(write_file("reg.h5", &x, {3, 2}, nullptr, &r, {3, 1}));
  EXPECT_EQ(reg.targets.scalar_type(), at::kFloat);
}

TEST(H5Dataset, BadFilesAreOneLineErrors) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  std::vector<std::int64_t> y3 = {0, 1, 0}, y2 = {0, 1};
  EXPECT_NE(error_of(write_file("no_targets.h5", &x, {3, 2}, nullptr, nullptr, {})).find("has no dataset 'targets'"),
            std::string::npos);
  EXPECT_NE(error_of(write_file("no_inputs.h5", nullptr, {}, &y3, nullptr, {3})).find("has no dataset 'inputs'"),
            std::string::npos);
  EXPECT_NE(error_of(write_file("mismatch.h5", &x, {3, 2}, &y2, nullptr, {2}))
                .find("'inputs' has 3 examples but 'targets' has 2 (first dimensions must match)"),
            std::string::npos);
  std::vector<float> bad = {1, NAN, 3, 4, 5, 6};
  EXPECT_NE(error_of(write_file("nan.h5", &bad, {3, 2}, &y3, nullptr, {3})).find("contains NaN or Inf"),
            std::string::npos);
  EXPECT_NE(error_of(temp_file("does_not_exist.h5")).find("file not found"), std::string::npos);
  auto corrupt = temp_file("corrupt.h5");
  std::ofstream(corrupt) << "garbage";
  EXPECT_NE(error_of(corrupt).find("is not an HDF5 file"), std::string::npos);
}

TEST(H5Dataset, StringTargetsAreRejected) {
  auto path = temp_file("strings.h5");
  {
    io::AtomicH5Writer w(path, "test");
    H5::Group root = w.root();
    std::vector<float> x = {1, 2};
    io::write_array(root, "inputs", x.data(), {2, 1});
    io::write_strings(root, "targets", {"cat", "dog"});
    w.commit();
  }
  EXPECT_NE(error_of(path).find("dataset 'targets' has an unsupported element type"), std::string::npos);
}

}  // namespace
}  // namespace blockscope::data
