// HDF5 helpers: round trips, the schema attribute, atomic writes and the
// errors for missing / non-HDF5 files.
#include <gtest/gtest.h>

#include <fstream>

#include "io/h5_file.h"

namespace blockscope::io {
namespace {

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("blockscope_io_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(AtomicH5Writer, RoundTripsArraysStringsAndAttributes) {
  auto path = temp_dir() / "round_trip.h5";
  {
    AtomicH5Writer writer(path, "blockscope.test/1");
    H5::Group root = writer.root();
    set_attribute(root, "sigma", 0.25);
    set_attribute(root, "probes", std::int64_t{7});
    set_attribute(root, "model", "gpt");
    set_attribute(root, "reorthogonalize", true);
    H5::Group blocks = ensure_group(writer.file(), "/blocks/inner");
    write_strings(blocks, "names", {"a.weight", "b.bias", ""});
    std::vector<double> values = {1.5, -2.0, 3.25, 4.0, 5.0, 6.0};
    write_array(blocks, "values", values.data(), {2, 3});
    std::vector<std::int64_t> sizes = {10, 20};
    write_array(blocks, "sizes", sizes.data(), {2});
    writer.commit();
  }
  H5::H5File file = open_for_reading(path);
  H5::Group root = file.openGroup("/");
  EXPECT_EQ(read_string_attribute(root, "schema"), "blockscope.test/1");
  EXPECT_EQ(read_double_attribute(root, "sigma"), 0.25);
  EXPECT_EQ(read_int_attribute(root, "probes"), 7);
  EXPECT_EQ(read_string_attribute(root, "model"), "gpt");
  H5::Group blocks = file.openGroup("/blocks/inner");
  EXPECT_EQ(read_strings(blocks, "names"), (std::vector<std::string>{"a.weight", "b.bias", ""}));
  DatasetInfo info = dataset_info(blocks, "values");
  EXPECT_EQ(info.dims, (std::vector<hsize_t>{2, 3}));
  EXPECT_EQ(info.type_class, H5T_FLOAT);
  EXPECT_EQ(read_doubles(blocks, "values"), (std::vector<double>{1.5, -2.0, 3.25, 4.0, 5.0, 6.0}));
  EXPECT_EQ(read_int64s(blocks, "sizes"), (std::vector<std::int64_t>{10, 20}));
}

TEST(AtomicH5Writer, UncommittedWriterLeavesNoFile) {
  auto path = temp_dir() / "never_committed.h5";
  std::filesystem::remove(path);
  {
    AtomicH5Writer writer(path, "blockscope.test/1");
    H5::Group root = writer.root();
    set_attribute(root, "x", 1.0);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path())) {
    EXPECT_EQ(entry.path().string().find("never_committed.h5.tmp"), std::string::npos)
        << "temporary left behind: " << entry.path();
  }
}

TEST(AtomicH5Writer, FailedRewriteKeepsThePreviousFile) {
  auto path = temp_dir() / "keep_previous.h5";
  {
    AtomicH5Writer writer(path, "blockscope.test/1");
    writer.commit();
  }
  try {
    AtomicH5Writer writer(path, "blockscope.test/2");
    throw std::runtime_error("late failure");
  } catch (const std::runtime_error&) {
  }
  H5::H5File file = open_for_reading(path);
  EXPECT_EQ(read_string_attribute(file.openGroup("/"), "schema"), "blockscope.test/1");
}

TEST(OpenForReading, MissingFileNamesThePath) {
  try {
    open_for_reading("/nonexistent/dir/file.h5");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("file not found: /nonexistent/dir/file.h5"), std::string::npos);
  }
}

TEST(OpenForReading, NonHdf5FileIsRejected) {
  auto path = temp_dir() / "not_hdf5.h5";
  std::ofstream(path) << "this is plain text, not HDF5\n";
  try {
    open_for_reading(path);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is not an HDF5 file"), std::string::npos) << e.what();
  }
}

TEST(AtomicH5Writer, MissingDirectoryIsAOneLineError) {
  EXPECT_THROW(AtomicH5Writer("/nonexistent/dir/out.h5", "blockscope.test/1"), std::runtime_error);
}

}  // namespace
}  // namespace blockscope::io
