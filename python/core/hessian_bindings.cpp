// blockscope.hessian's C++ side: spectrum, dense and coupling over a
// TorchScript archive (python/blockscope/hessian.py scripts or traces the
// user's nn.Module and saves it into a buffer) and the caller's batches. A
// thin shell: parse → the core calls the CLI makes (analysis/) → results as
// objects with numpy arrays whose save() writes the CLI's file.
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include <fmt/format.h>

#include "analysis/coupling_analysis.h"
#include "analysis/dense_analysis.h"
#include "analysis/partition_builder.h"
#include "analysis/spectrum_analysis.h"
#include "io/h5_file.h"
#include "io/progress_bar.h"
#include "models/torchscript_model.h"
#include "python/core/bindings.h"

namespace py = pybind11;

namespace blockscope {
namespace {

using Batches = std::vector<std::pair<at::Tensor, at::Tensor>>;

py::dict to_dict(const hessian::Attributes& attributes) {
  py::dict out;
  for (const auto& [name, value] : attributes) {
    std::visit([&, &name = name](const auto& v) { out[py::str(name)] = v; }, value);
  }
  return out;
}

// The session over an archived module and the caller's batches. The GIL is
// released by the caller for the whole analysis.
analysis::HessianSession open_session(const std::string& archive, const std::string& description,
                                      const Batches& batches, const analysis::HessianInputs& inputs) {
  std::vector<data::Batch> list;
  for (const auto& [x, y] : batches) list.push_back({x, y});
  analysis::HessianInputs in = inputs;
  in.model = description;
  return analysis::open_hessian_session(std::make_unique<models::TorchScriptModel>(archive, description),
                                        std::move(list), fmt::format("batches from Python ({})", batches.size()), in);
}

// A progress line on stderr when asked (like the CLI's), else nothing.
struct Progress {
  Progress(bool show, const char* label) {
    if (show) bar = std::make_unique<io::ProgressBar>(label, "HVPs");
  }
  void update(std::int64_t done, std::int64_t total) {
    if (bar) bar->update(done, total);
  }
  void finish() {
    if (bar) bar->finish();
  }
  std::unique_ptr<io::ProgressBar> bar;
};

analysis::SpectrumAnalysis spectrum(const std::string& archive, const std::string& description, const Batches& batches,
                                    const analysis::HessianInputs& inputs, const analysis::SpectrumSettings& settings,
                                    bool progress) {
  const hessian::BlockSpectraOptions options = analysis::spectra_options(settings, inputs.dtype, inputs.seed);
  analysis::HessianSession session = open_session(archive, description, batches, inputs);
  Progress bar(progress, "spectrum");
  analysis::SpectrumAnalysis out = analysis::analyse_spectrum(
      session, options, [&](std::int64_t done, std::int64_t total) { bar.update(done, total); });
  bar.finish();
  return out;
}

analysis::DenseAnalysis dense(const std::string& archive, const std::string& description, const Batches& batches,
                              const analysis::HessianInputs& inputs, const analysis::DenseSettings& settings,
                              bool progress) {
  analysis::HessianSession session = open_session(archive, description, batches, inputs);
  Progress bar(progress, "dense");
  analysis::DenseAnalysis out = analysis::analyse_dense(
      session, settings, [&](std::int64_t done, std::int64_t total) { bar.update(done, total); });
  bar.finish();
  return out;
}

analysis::CouplingAnalysis coupling(const std::string& archive, const std::string& description, const Batches& batches,
                                    const analysis::HessianInputs& inputs, int probes, bool progress) {
  if (probes < hessian::kMinCouplingProbes) {
    throw std::invalid_argument(
        fmt::format("probes={} is too few for a coupling estimate (use ≥ {})", probes, hessian::kMinCouplingProbes));
  }
  analysis::HessianSession session = open_session(archive, description, batches, inputs);
  Progress bar(progress, "coupling");
  analysis::CouplingAnalysis out =
      analysis::analyse_coupling(session, probes, inputs.seed, [&](int done, int total) { bar.update(done, total); });
  bar.finish();
  return out;
}

// [B, k] top eigenvalues, NaN where a block has fewer or none.
Eigen::MatrixXd top_eigenvalues(const hessian::BlockSpectra& s) {
  Eigen::Index k = 0;
  for (const auto& t : s.top) k = std::max(k, t.largest.size());
  Eigen::MatrixXd out = Eigen::MatrixXd::Constant(Eigen::Index(s.names.size()), k, NAN);
  for (std::size_t b = 0; b < s.top.size(); ++b)
    out.row(Eigen::Index(b)).head(s.top[b].largest.size()) = s.top[b].largest;
  return out;
}

template <typename Get>
Eigen::VectorXd per_block(const hessian::BlockSpectra& s, Get get) {
  Eigen::VectorXd out(Eigen::Index(s.slq.size()));
  for (std::size_t b = 0; b < s.slq.size(); ++b) out[Eigen::Index(b)] = get(s, b);
  return out;
}

// The hessian strategy's partition of the archived module over the caller's
// batches (analysis::hessian_partition); merge_threshold NaN = the default.
partition::Partition hessian_partition(const std::string& archive, const std::string& description,
                                       const Batches& batches, const std::string& statistic, int probes,
                                       std::int64_t target_blocks, double merge_threshold, std::uint64_t seed,
                                       bool progress) {
  std::vector<data::Batch> list;
  for (const auto& [x, y] : batches) list.push_back({x, y});
  models::TorchScriptModel model(archive, description);
  analysis::HessianStrategySettings settings;
  settings.statistic = statistic;
  settings.probes = probes;
  settings.batches = static_cast<std::int64_t>(list.size());
  settings.target_blocks = target_blocks;
  settings.merge_threshold = merge_threshold;
  const bool curvature = statistic == "curvature";
  std::unique_ptr<io::ProgressBar> bar;
  if (progress)
    bar = std::make_unique<io::ProgressBar>(curvature ? "hutchinson diag(H)" : "E[g²]",
                                            curvature ? "HVPs" : "minibatches");
  partition::Partition out =
      analysis::hessian_partition(model, list, fmt::format("batches from Python ({})", batches.size()), settings, seed,
                                  [&](std::int64_t done, std::int64_t total) {
                                    if (bar) bar->update(done, total);
                                  });
  if (bar) bar->finish();
  return out;
}

}  // namespace

void python::register_hessian(py::module_& m) {
  py::class_<analysis::HessianInputs>(m, "HessianInputs")
      .def(py::init<>())
      .def_readwrite("dtype", &analysis::HessianInputs::dtype)
      .def_readwrite("seed", &analysis::HessianInputs::seed)
      .def_readwrite("graph_memory_gib", &analysis::HessianInputs::graph_memory_gib)
      .def_readwrite("blocks_file", &analysis::HessianInputs::blocks_file)
      .def_property(
          "blocks_partition",
          [](const analysis::HessianInputs& in) {
            return in.blocks_partition ? py::cast(*in.blocks_partition) : py::none();
          },
          [](analysis::HessianInputs& in, const partition::Partition& p) {
            in.blocks_partition = std::make_shared<const partition::Partition>(p);
          })
      .def_readwrite("max_blocks", &analysis::HessianInputs::max_blocks);
  py::class_<analysis::SpectrumSettings>(m, "SpectrumSettings")
      .def(py::init<>())
      .def_readwrite("lanczos_steps", &analysis::SpectrumSettings::lanczos_steps)
      .def_readwrite("probes", &analysis::SpectrumSettings::probes)
      .def_readwrite("sigma", &analysis::SpectrumSettings::sigma)
      .def_readwrite("sigma_mode", &analysis::SpectrumSettings::sigma_mode)
      .def_readwrite("grid_points", &analysis::SpectrumSettings::grid_points)
      .def_readwrite("top_k", &analysis::SpectrumSettings::top_k)
      .def_readwrite("reorthogonalize", &analysis::SpectrumSettings::reorthogonalize)
      .def_readwrite("bootstrap", &analysis::SpectrumSettings::bootstrap)
      .def_readwrite("threads", &analysis::SpectrumSettings::threads);
  py::class_<analysis::DenseSettings>(m, "DenseSettings")
      .def(py::init<>())
      .def_readwrite("max_params", &analysis::DenseSettings::max_params)
      .def_readwrite("thresholds", &analysis::DenseSettings::thresholds)
      .def_readwrite("keep_matrix", &analysis::DenseSettings::keep_matrix);

  using analysis::SpectrumAnalysis;
  py::class_<SpectrumAnalysis>(m, "SpectrumResult",
                               "per-block spectra; arrays as numpy, save() writes blockscope.spectrum/1")
      .def_property_readonly("names", [](const SpectrumAnalysis& a) { return a.spectra.names; })
      .def_property_readonly("sizes", [](const SpectrumAnalysis& a) { return a.spectra.sizes; })
      .def_property_readonly(
          "js", [](const SpectrumAnalysis& a) { return a.spectra.js; }, "[B, B] JS distances")
      .def_property_readonly("js_stderr", [](const SpectrumAnalysis& a) { return a.spectra.js_stderr; })
      .def_property_readonly("mean_js", [](const SpectrumAnalysis& a) { return a.spectra.mean_js; })
      .def_property_readonly(
          "grid", [](const SpectrumAnalysis& a) { return a.spectra.grid.points; }, "[G] density grid")
      .def_property_readonly(
          "densities", [](const SpectrumAnalysis& a) { return a.spectra.densities; }, "[B, G]")
      .def_property_readonly(
          "trace",
          [](const SpectrumAnalysis& a) {
            return per_block(a.spectra, [](const hessian::BlockSpectra& s, std::size_t b) { return s.slq[b].trace; });
          })
      .def_property_readonly("trace_stderr",
                             [](const SpectrumAnalysis& a) {
                               return per_block(a.spectra, [](const hessian::BlockSpectra& s, std::size_t b) {
                                 return s.slq[b].trace_stderr;
                               });
                             })
      .def_property_readonly(
          "slq_nodes",
          [](const SpectrumAnalysis& a) {
            std::vector<Eigen::MatrixXd> out;
            for (const auto& r : a.spectra.slq) out.push_back(r.nodes);
            return out;
          },
          "per block [n_v, m_b] Ritz values")
      .def_property_readonly(
          "slq_weights",
          [](const SpectrumAnalysis& a) {
            std::vector<Eigen::MatrixXd> out;
            for (const auto& r : a.spectra.slq) out.push_back(r.weights);
            return out;
          },
          "per block [n_v, m_b] quadrature weights")
      .def_property_readonly(
          "top_eigenvalues", [](const SpectrumAnalysis& a) { return top_eigenvalues(a.spectra); },
          "[B, k] descending; NaN where unavailable")
      .def_property_readonly("hvp_count", [](const SpectrumAnalysis& a) { return a.spectra.num_operations; })
      .def_property_readonly("settings", [](const SpectrumAnalysis& a) { return to_dict(a.settings); })
      .def(
          "save",
          [](const SpectrumAnalysis& a, const std::string& path) {
            io::check_output_file(path);
            analysis::write_spectrum_file(path, a);
          },
          py::arg("path"));

  using analysis::DenseAnalysis;
  py::class_<DenseAnalysis>(m, "DenseResult", "exact Hessian per block; save() writes blockscope.dense/1")
      .def_readonly("names", &DenseAnalysis::names)
      .def_readonly("sizes", &DenseAnalysis::sizes)
      .def_readonly("eigenvalues", &DenseAnalysis::eigenvalues, "per block, ascending")
      .def_readonly("full_eigenvalues", &DenseAnalysis::full_eigenvalues)
      .def_readonly("matrix", &DenseAnalysis::matrix, "[n, n] (empty unless keep_matrix)")
      .def_readonly("asymmetry", &DenseAnalysis::asymmetry)
      .def_readonly("thresholds", &DenseAnalysis::thresholds)
      .def_property_readonly(
          "fraction_within",
          [](const DenseAnalysis& a) {
            Eigen::MatrixXd out(Eigen::Index(a.names.size()), Eigen::Index(a.thresholds.size()));
            for (std::size_t b = 0; b < a.pair_checks.size(); ++b)
              for (std::size_t c = 0; c < a.thresholds.size(); ++c)
                out(Eigen::Index(b), Eigen::Index(c)) = a.pair_checks[b].fraction_within[c];
            return out;
          },
          "[B, C] share of coupled pairs whose E[g²] ratio lies in [c², 1/c²]")
      .def_readonly("hvp_count", &DenseAnalysis::hvp_count)
      .def_property_readonly("settings", [](const DenseAnalysis& a) { return to_dict(a.settings); })
      .def(
          "save",
          [](const DenseAnalysis& a, const std::string& path) {
            io::check_output_file(path);
            analysis::write_dense_file(path, a);
          },
          py::arg("path"));

  using analysis::CouplingAnalysis;
  py::class_<CouplingAnalysis>(m, "CouplingResult", "block coupling; save() writes blockscope.coupling/1")
      .def_readonly("names", &CouplingAnalysis::names)
      .def_readonly("sizes", &CouplingAnalysis::sizes)
      .def_property_readonly(
          "ratio", [](const CouplingAnalysis& a) { return a.result.ratio; }, "[B, B] r_ab")
      .def_property_readonly("frobenius", [](const CouplingAnalysis& a) { return a.result.frobenius; })
      .def_property_readonly("squared", [](const CouplingAnalysis& a) { return a.result.squared; })
      .def_property_readonly("squared_stderr", [](const CouplingAnalysis& a) { return a.result.squared_stderr; })
      .def_property_readonly("hvp_count", [](const CouplingAnalysis& a) { return a.result.num_operations; })
      .def_property_readonly("settings", [](const CouplingAnalysis& a) { return to_dict(a.settings); })
      .def(
          "save",
          [](const CouplingAnalysis& a, const std::string& path) {
            io::check_output_file(path);
            analysis::write_coupling_file(path, a);
          },
          py::arg("path"));

  m.def("spectrum", &spectrum, py::arg("archive"), py::arg("description"), py::arg("batches"), py::arg("inputs"),
        py::arg("settings"), py::arg("progress"), py::call_guard<py::gil_scoped_release>());
  m.def("dense", &dense, py::arg("archive"), py::arg("description"), py::arg("batches"), py::arg("inputs"),
        py::arg("settings"), py::arg("progress"), py::call_guard<py::gil_scoped_release>());
  m.def("coupling", &coupling, py::arg("archive"), py::arg("description"), py::arg("batches"), py::arg("inputs"),
        py::arg("probes"), py::arg("progress"), py::call_guard<py::gil_scoped_release>());
  m.def("hessian_partition", &hessian_partition, py::arg("archive"), py::arg("description"), py::arg("batches"),
        py::arg("statistic"), py::arg("probes"), py::arg("target_blocks"), py::arg("merge_threshold"), py::arg("seed"),
        py::arg("progress"), py::call_guard<py::gil_scoped_release>());
}

}  // namespace blockscope
