#include "experiments/plots/plots.h"

#include <fmt/format.h>

#include <stdexcept>

#ifdef BLOCKSCOPE_WITH_PYTHON
#include <pybind11/embed.h>
#include <pybind11/stl.h>
#endif

namespace blockscope::plots {

namespace {

// Calls blockscope_plots.<function>(*args) in the embedded interpreter and
// returns the list of paths it reports.
template <typename... Args>
std::vector<std::filesystem::path> call_python(const char* function, const std::filesystem::path& directory,
                                               const Args&... args) {
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
    auto written = plots.attr(function)(args..., directory.string()).template cast<std::vector<std::string>>();
    return {written.begin(), written.end()};
  } catch (const py::error_already_set& e) {
    std::string what = e.what();
    throw std::runtime_error(fmt::format("plotting failed in Python: {} (is Debian's python3-matplotlib installed?)",
                                         what.substr(0, what.find('\n'))));
  }
#else
  (void)function, (void)directory;
  ((void)args, ...);
  throw std::runtime_error(
      "this blockscope was built without plots: install pybind11-dev and python3-matplotlib and "
      "reconfigure with -DBLOCKSCOPE_PYTHON=ON (the HDF5 result file is complete without them)");
#endif
}

}  // namespace

std::vector<std::filesystem::path> plot_result(const std::string& kind, const std::filesystem::path& result_file,
                                               const std::filesystem::path& directory) {
  return call_python("plot_result", directory, kind, result_file.string());
}

std::vector<std::filesystem::path> plot_comparison(const std::vector<std::filesystem::path>& spectrum_files,
                                                   const std::filesystem::path& directory) {
  std::vector<std::string> files;
  for (const auto& f : spectrum_files) files.push_back(f.string());
  return call_python("plot_comparison", directory, files);
}

}  // namespace blockscope::plots
