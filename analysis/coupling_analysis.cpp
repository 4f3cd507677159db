#include "analysis/coupling_analysis.h"

#include "io/h5_file.h"

namespace blockscope::analysis {

CouplingAnalysis analyse_coupling(HessianSession& session, int probes, std::uint64_t seed,
                                  const hessian::ProgressCallback& progress) {
  const std::int64_t n = session.hessian->layout().total();
  hessian::BlockHessian full(*session.hessian, {{0, n}}, "all");
  std::vector<hessian::BlockRanges> ranges;
  CouplingAnalysis out;
  for (const auto& b : session.blocks) {
    ranges.push_back(b.ranges);
    out.names.push_back(b.name);
    std::int64_t size = 0;
    for (const auto& r : b.ranges) size += r.size();
    out.sizes.push_back(size);
  }
  out.result = hessian::block_coupling(full, ranges, {probes, seed}, progress);
  out.settings = session.settings;
  out.settings["probes"] = static_cast<std::int64_t>(probes);
  out.settings["seed"] = static_cast<std::int64_t>(seed);
  return out;
}

void write_coupling_file(const std::filesystem::path& path, const CouplingAnalysis& a) {
  io::AtomicH5Writer writer(path, kCouplingSchema);
  writer.describe("/blocks/names", "block names");
  writer.describe("/blocks/sizes", "elements in each block");
  writer.describe("/coupling/frobenius",
                  "[block, block] estimated Frobenius norm ||H_ab||_F of each Hessian block pair");
  writer.describe("/coupling/squared", "[block, block] Hutchinson estimate of ||H_ab||_F^2");
  writer.describe("/coupling/squared_stderr", "[block, block] standard error of the ||H_ab||_F^2 estimate over probes");
  writer.describe("/coupling/ratio",
                  "[block, block] r_ab = ||H_ab||_F / sqrt(||H_aa||_F ||H_bb||_F); not bounded by 1");
  H5::Group root = writer.root();
  hessian::write_attributes(root, a.settings);
  io::set_attribute(root, "hvp_count", a.result.num_operations);
  H5::Group blocks = io::ensure_group(writer.file(), "/blocks");
  io::write_strings(blocks, "names", a.names);
  io::write_array(blocks, "sizes", a.sizes.data(), {a.sizes.size()});
  H5::Group coupling = io::ensure_group(writer.file(), "/coupling");
  hessian::write_matrix(coupling, "frobenius", a.result.frobenius);
  hessian::write_matrix(coupling, "squared", a.result.squared);
  hessian::write_matrix(coupling, "squared_stderr", a.result.squared_stderr);
  hessian::write_matrix(coupling, "ratio", a.result.ratio);
  writer.commit();
}

}  // namespace blockscope::analysis
