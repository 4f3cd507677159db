#include "data/text_corpus.h"

#include <fmt/format.h>

#include <array>
#include <fstream>
#include <sstream>

namespace blockscope::data {

std::string read_text_corpus() {
  static const std::array<const char*, 14> kFiles = {"Apache-2.0", "Artistic", "BSD",     "CC0-1.0", "GFDL-1.2",
                                                     "GFDL-1.3",   "GPL-1",    "GPL-2",   "GPL-3",   "LGPL-2",
                                                     "LGPL-2.1",   "LGPL-3",   "MPL-1.1", "MPL-2.0"};
  std::string corpus;
  for (const char* name : kFiles) {
    std::string path = std::string("/usr/share/common-licenses/") + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw std::runtime_error(
          fmt::format("text corpus file {} is missing (it comes with Debian's base-files package)", path));
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    corpus += buffer.str();
  }
  return corpus;
}

Dataset text_windows(std::int64_t examples, std::int64_t length, std::uint64_t seed) {
  const std::string corpus = read_text_corpus();
  const std::int64_t available = (static_cast<std::int64_t>(corpus.size()) - 1) / length;
  const std::int64_t n = std::min(examples, available);
  at::Tensor bytes = at::empty({static_cast<std::int64_t>(corpus.size())}, at::kLong);
  auto acc = bytes.accessor<std::int64_t, 1>();
  for (std::size_t i = 0; i < corpus.size(); ++i) acc[i] = static_cast<unsigned char>(corpus[i]);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::Tensor starts = at::randperm(available, gen, at::TensorOptions().dtype(at::kLong)).slice(0, 0, n) * length;
  at::Tensor offsets = at::arange(length + 1, at::kLong);
  at::Tensor windows = bytes.index({starts.unsqueeze(1) + offsets.unsqueeze(0)});
  return {
      windows.slice(1, 0, length).contiguous(), windows.slice(1, 1, length + 1).contiguous(),
      fmt::format("text(debian-licenses, {} bytes, examples={}, length={}, seed={})", corpus.size(), n, length, seed)};
}

}  // namespace blockscope::data
