#include "experiments/plots/plots.h"

#include <fmt/format.h>

#include <stdexcept>

#ifdef BLOCKSCOPE_WITH_PYTHON
#include <pybind11/embed.h>
#include <pybind11/stl.h>
#endif

namespace blockscope::plots {

std::vector<std::filesystem::path> plot_result(const std::string& kind, const std::filesystem::path& result_file,
                                               const std::filesystem::path& directory) {
#ifdef BLOCKSCOPE_WITH_PYTHON
  namespace py = pybind11;
  std::filesystem::create_directories(directory);
  // One interpreter per process; it lives until exit.
  static py::scoped_interpreter* interpreter = new py::scoped_interpreter();
  (void)interpreter;
  try {
    py::module_ sys = py::module_::import("sys");
    sys.attr("path").attr("insert")(0, BLOCKSCOPE_PLOTS_DIR);
    py::module_ plots = py::module_::import("blockscope_plots");
    auto written = plots.attr("plot_result")(kind, result_file.string(), directory.string())
                       .cast<std::vector<std::string>>();
    return {written.begin(), written.end()};
  } catch (const py::error_already_set& e) {
    std::string what = e.what();
    throw std::runtime_error(fmt::format("plotting failed in Python: {} (is Debian's python3-matplotlib installed?)",
                                         what.substr(0, what.find('\n'))));
  }
#else
  (void)kind, (void)result_file, (void)directory;
  throw std::runtime_error(
      "this blockscope was built without plots: install pybind11-dev and python3-matplotlib and "
      "reconfigure with -DBLOCKSCOPE_PYTHON=ON (the HDF5 result file is complete without them)");
#endif
}

}  // namespace blockscope::plots
