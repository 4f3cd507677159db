// TorchScript models exported by tests/python/export_fixtures.py (python3
// torch): parameter names/sizes and forward outputs must match what torch
// computed in Python; a tied embedding/head is one parameter with an alias.
#include <gtest/gtest.h>

#include <fstream>

#include "io/h5_file.h"
#include "models/model.h"

namespace blockscope::models {
namespace {

std::filesystem::path fixture(const std::string& name) {
  const char* dir = std::getenv("BLOCKSCOPE_FIXTURES");
  if (!dir) throw std::runtime_error("BLOCKSCOPE_FIXTURES is not set: run the tests through ctest");
  return std::filesystem::path(dir) / name;
}

at::Tensor read_tensor(const H5::Group& root, const std::string& name) {
  io::DatasetInfo info = io::dataset_info(root, name);
  std::vector<std::int64_t> shape(info.dims.begin(), info.dims.end());
  if (info.type_class == H5T_INTEGER) {
    auto v = io::read_int64s(root, name);
    return at::from_blob(v.data(), shape, at::kLong).clone();
  }
  auto v = io::read_floats(root, name);
  return at::from_blob(v.data(), shape, at::kFloat).clone();
}

void expect_matches_python(const std::string& name) {
  auto model = load_model(fixture(name + ".pt").string());
  H5::H5File file = io::open_for_reading(fixture(name + ".expected.h5"));
  H5::Group root = file.openGroup("/");
  std::vector<std::string> names = io::read_strings(root, "param_names");
  std::vector<std::int64_t> numels = io::read_int64s(root, "param_numels");
  ASSERT_EQ(model->parameters().size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(model->parameters()[i].name, names[i]);
    EXPECT_EQ(model->parameters()[i].tensor.numel(), numels[i]) << names[i];
  }
  at::Tensor expected = read_tensor(root, "outputs");
  at::Tensor actual = model->forward(read_tensor(root, "inputs"));
  // Same LibTorch kernels as python3-torch: agreement to fp32 rounding.
  EXPECT_TRUE(at::allclose(actual, expected, 1e-5, 1e-6))
      << "max diff " << (actual - expected).abs().max().item<double>()
      << " (regenerate fixtures: python3 tests/python/export_fixtures.py)";
}

TEST(TorchScript, MlpMatchesPython) { expect_matches_python("mlp"); }
TEST(TorchScript, AttentionModelMatchesPython) { expect_matches_python("attention"); }

TEST(TorchScript, TiedEmbeddingAndHeadAreOneParameter) {
  auto model = load_model(fixture("attention.pt").string());
  std::int64_t count = 0;
  for (const auto& p : model->parameters()) {
    if (p.name == "embed.weight") {
      EXPECT_EQ(p.aliases, (std::vector<std::string>{"lm_head.weight"}));
      ++count;
    }
    EXPECT_NE(p.name, "lm_head.weight");
  }
  EXPECT_EQ(count, 1);
  EXPECT_EQ(model->num_parameters(), 128 + 512 + 4 * 256 + 32);
}

TEST(TorchScript, MissingFileIsAOneLineError) {
  try {
    load_model("/nonexistent/model.pt");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("model file not found: /nonexistent/model.pt"), std::string::npos);
  }
}

TEST(TorchScript, CorruptFileIsAOneLineError) {
  auto path = std::filesystem::temp_directory_path() / "blockscope_corrupt_model.pt";
  std::ofstream(path, std::ios::binary) << "PK\x03\x04 definitely not a torchscript archive";
  try {
    load_model(path.string());
    FAIL();
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("is not a readable TorchScript file"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

}  // namespace
}  // namespace blockscope::models
