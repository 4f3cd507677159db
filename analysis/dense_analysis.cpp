#include "analysis/dense_analysis.h"

#include <fmt/format.h>

#include <algorithm>

#include "hessian/dense.h"
#include "io/h5_file.h"

namespace blockscope::analysis {
namespace {

std::vector<Eigen::Index> block_indices(const hessian::BlockRanges& ranges) {
  std::vector<Eigen::Index> index;
  for (const auto& r : ranges)
    for (Eigen::Index i = r.begin; i < r.end; ++i) index.push_back(i);
  return index;
}

}  // namespace

DenseAnalysis analyse_dense(HessianSession& session, const DenseSettings& settings,
                            const std::function<void(std::int64_t, std::int64_t)>& progress) {
  const std::int64_t n = session.hessian->layout().total();
  if (n > settings.max_params) {
    throw std::runtime_error(fmt::format(
        "the dense Hessian is for small models: this one has {} parameters, above the max-params limit {}; use the "
        "spectrum analysis, a smaller model, or raise max-params (memory grows as n² float64)",
        n, settings.max_params));
  }
  hessian::BlockHessian full(*session.hessian, {{0, n}}, "all");
  hessian::DenseMatrix dense = hessian::dense_matrix(full, hessian::kDefaultMaxDenseSize, progress);

  Eigen::VectorXd g2(n);
  const std::vector<at::Tensor> squared = session.hessian->squared_gradient();
  for (std::size_t t = 0; t < squared.size(); ++t) {
    at::Tensor flat = squared[t].reshape({-1}).to(at::kDouble).contiguous();
    std::copy(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel(),
              g2.data() + session.hessian->layout().offsets[t]);
  }

  DenseAnalysis out;
  out.thresholds = settings.thresholds;
  for (const auto& block : session.blocks) {
    const std::vector<Eigen::Index> index = block_indices(block.ranges);
    const Eigen::Index size = static_cast<Eigen::Index>(index.size());
    Eigen::MatrixXd h(size, size);
    Eigen::VectorXd g(size);
    for (Eigen::Index a = 0; a < size; ++a) {
      g[a] = g2[index[a]];
      for (Eigen::Index b = 0; b < size; ++b) h(a, b) = dense.matrix(index[a], index[b]);
    }
    out.names.push_back(block.name);
    out.sizes.push_back(size);
    out.eigenvalues.push_back(hessian::symmetric_eigenvalues(h));
    out.pair_checks.push_back(hessian::check_gradient_ratio_pairs(h, g, settings.thresholds));
  }
  out.full_eigenvalues = hessian::symmetric_eigenvalues(dense.matrix);
  out.asymmetry = dense.asymmetry;
  out.hvp_count = dense.num_operations;
  if (settings.keep_matrix) out.matrix = std::move(dense.matrix);
  out.settings = session.settings;
  out.settings["max_params"] = settings.max_params;
  return out;
}

void write_dense_file(const std::filesystem::path& path, const DenseAnalysis& a) {
  io::AtomicH5Writer writer(path, kDenseSchema);
  writer.describe("/eigenvalues/*",
                  "eigenvalues of one block's exact Hessian, ascending (group members in block order)");
  writer.describe("/hessian", "[n, n] the exact symmetrised Hessian (float64)");
  writer.describe("/full_eigenvalues", "eigenvalues of the whole Hessian, ascending");
  writer.describe("/blocks/names", "block names");
  writer.describe("/blocks/sizes", "elements in each block");
  writer.describe("/pair_check/thresholds", "coupling thresholds c of the element-pair check");
  writer.describe("/pair_check/pairs_above", "[block, c] element pairs with c_ij = |H_ij|/max(H_ii, H_jj) >= c");
  writer.describe("/pair_check/fraction_within",
                  "[block, c] fraction of those pairs whose E[g^2] ratio lies in [c^2, 1/c^2]");
  writer.describe(
      "/pair_check/rank_correlation",
      "Spearman correlation, within each block, of |H_ij|/sqrt(H_ii H_jj) and -|log(g_i^2/g_j^2)| over pairs");
  writer.describe("/pair_check/pairs", "usable element pairs in each block");
  H5::Group root = writer.root();
  hessian::write_attributes(root, a.settings);
  io::set_attribute(root, "asymmetry", a.asymmetry);
  io::set_attribute(root, "hvp_count", a.hvp_count);
  const std::size_t B = a.names.size(), C = a.thresholds.size();
  std::vector<std::int64_t> pairs(B), above(B * C);
  std::vector<double> within(B * C), correlation(B);
  H5::Group eigen_group = io::ensure_group(writer.file(), "/eigenvalues");
  for (std::size_t b = 0; b < B; ++b) {
    const auto& e = a.eigenvalues[b];
    io::write_array(eigen_group, io::indexed_name(b, B), e.data(), {hsize_t(e.size())});
    const hessian::PairCheckResult& check = a.pair_checks[b];
    pairs[b] = check.pairs;
    correlation[b] = check.rank_correlation;
    for (std::size_t c = 0; c < C; ++c) {
      above[b * C + c] = check.pairs_above[c];
      within[b * C + c] = check.fraction_within[c];
    }
  }
  const hsize_t n = static_cast<hsize_t>(a.full_eigenvalues.size());
  if (a.matrix.size() > 0) io::write_array(root, "hessian", a.matrix.data(), {n, n});  // symmetric
  io::write_array(root, "full_eigenvalues", a.full_eigenvalues.data(), {n});
  H5::Group blocks = io::ensure_group(writer.file(), "/blocks");
  io::write_strings(blocks, "names", a.names);
  io::write_array(blocks, "sizes", a.sizes.data(), {B});
  H5::Group check = io::ensure_group(writer.file(), "/pair_check");
  io::write_array(check, "thresholds", a.thresholds.data(), {C});
  io::write_array(check, "pairs_above", above.data(), {B, C});
  io::write_array(check, "fraction_within", within.data(), {B, C});
  io::write_array(check, "rank_correlation", correlation.data(), {B});
  io::write_array(check, "pairs", pairs.data(), {B});
  writer.commit();
}

}  // namespace blockscope::analysis
