// `blockscope dense`: the exact Hessian of a small model (≲ 5000
// parameters) by n HVPs in float64, per-block eigenvalues, and the
// element-pair check of Gefen's sharing claim (docs/algorithms.md §4).
// File schema blockscope.dense/1:
//   /blocks/names [B], /blocks/sizes [B], /eigenvalues/<b> [n_b] ascending,
//   /full_eigenvalues [n], /hessian [n, n] (with --save-matrix), /pair_check/{thresholds [C], pairs_above [B, C],
//   fraction_within [B, C], rank_correlation [B], pairs [B]}
//   attributes: every setting, asymmetry, hvp_count, loss.
#include <fmt/format.h>

#include "experiments/analysis/hessian_session.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/operator_progress.h"
#include "experiments/cli/validators.h"
#include "hessian/dense.h"
#include "hessian/sharing_check.h"
#include "hessian/spectrum_file.h"
#include "io/h5_file.h"

namespace blockscope::cli {
namespace {

struct DenseOptions {
  analysis::HessianInputs inputs;
  std::int64_t max_params = 5000;
  std::vector<double> thresholds = {0.1, 0.25, 0.5, 0.75};
  std::string out = "dense.h5";
  bool save_matrix = false;
};

Eigen::MatrixXd block_submatrix(const Eigen::MatrixXd& h, const hessian::BlockRanges& ranges) {
  std::vector<Eigen::Index> index;
  for (const auto& r : ranges)
    for (Eigen::Index i = r.begin; i < r.end; ++i) index.push_back(i);
  Eigen::MatrixXd out(index.size(), index.size());
  for (std::size_t a = 0; a < index.size(); ++a)
    for (std::size_t b = 0; b < index.size(); ++b) out(a, b) = h(index[a], index[b]);
  return out;
}

Eigen::VectorXd block_entries(const Eigen::VectorXd& v, const hessian::BlockRanges& ranges) {
  std::vector<double> out;
  for (const auto& r : ranges)
    for (Eigen::Index i = r.begin; i < r.end; ++i) out.push_back(v[i]);
  return Eigen::Map<Eigen::VectorXd>(out.data(), Eigen::Index(out.size()));
}

void run_dense(DenseOptions o) {
  io::check_output_file(o.out);
  analysis::HessianSession session = analysis::open_hessian_session(o.inputs);
  const std::int64_t n = session.hessian->layout().total();
  if (n > o.max_params) {
    throw std::runtime_error(fmt::format(
        "dense mode is for small models: this one has {} parameters (> --max-params {}); use `blockscope "
        "spectrum`, a smaller model, or raise --max-params", n, o.max_params));
  }
  hessian::BlockHessian full(*session.hessian, {{0, n}}, "all");
  ProgressBar bar("dense", "HVPs");
  ReportingOperator reporting(full, bar, n);
  hessian::DenseMatrix dense = hessian::dense_matrix(reporting);
  bar.finish();

  Eigen::VectorXd g2(n);
  {
    std::vector<at::Tensor> sq = session.hessian->squared_gradient();
    for (std::size_t t = 0; t < sq.size(); ++t) {
      at::Tensor flat = sq[t].reshape({-1}).to(at::kDouble).contiguous();
      std::copy(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel(),
                g2.data() + session.hessian->layout().offsets[t]);
    }
  }

  io::AtomicH5Writer writer(o.out, "blockscope.dense/1");
  writer.describe("/eigenvalues/*", "eigenvalues of one block's exact Hessian, ascending (group members in block order)");
  writer.describe("/hessian", "[n, n] the exact symmetrised Hessian (float64)");
  writer.describe("/full_eigenvalues", "eigenvalues of the whole Hessian, ascending");
  writer.describe("/blocks/names", "block names");
  writer.describe("/blocks/sizes", "elements in each block");
  writer.describe("/pair_check/thresholds", "coupling thresholds c of the element-pair check");
  writer.describe("/pair_check/pairs_above", "[block, c] element pairs with c_ij = |H_ij|/max(H_ii, H_jj) >= c");
  writer.describe("/pair_check/fraction_within", "[block, c] fraction of those pairs whose E[g^2] ratio lies in [c^2, 1/c^2]");
  writer.describe("/pair_check/rank_correlation", "Spearman correlation of diag(H) and E[g^2] within each block");
  writer.describe("/pair_check/pairs", "element pairs in each block");
  H5::Group root = writer.root();
  hessian::write_attributes(root, session.settings);
  io::set_attribute(root, "asymmetry", dense.asymmetry);
  io::set_attribute(root, "hvp_count", dense.num_operations);
  const std::size_t B = session.blocks.size(), C = o.thresholds.size();
  std::vector<std::string> names;
  std::vector<std::int64_t> sizes, pairs(B);
  std::vector<std::int64_t> above(B * C);
  std::vector<double> within(B * C), correlation(B);
  H5::Group eigen_group = io::ensure_group(writer.file(), "/eigenvalues");
  fmt::print("\n{:<32} {:>6} {:>11} {:>11} {:>9}  {}\n", "block", "size", "λ_max", "λ_min", "pairs",
             fmt::format("share with g² ratio in [c², 1/c²] for c = {}", fmt::join(o.thresholds, ", ")));
  for (std::size_t b = 0; b < B; ++b) {
    const auto& block = session.blocks[b];
    Eigen::MatrixXd h = block_submatrix(dense.matrix, block.ranges);
    Eigen::VectorXd eig = hessian::symmetric_eigenvalues(h);
    io::write_array(eigen_group, io::indexed_name(b, B), eig.data(), {hsize_t(eig.size())});
    hessian::PairCheckResult check = hessian::check_gradient_ratio_pairs(h, block_entries(g2, block.ranges), o.thresholds);
    names.push_back(block.name);
    sizes.push_back(h.rows());
    pairs[b] = check.pairs;
    correlation[b] = check.rank_correlation;
    std::string shares;
    for (std::size_t c = 0; c < C; ++c) {
      above[b * C + c] = check.pairs_above[c];
      within[b * C + c] = check.fraction_within[c];
      shares += fmt::format("  {:.2f} ({})", check.fraction_within[c], check.pairs_above[c]);
    }
    fmt::print("{:<32} {:>6} {:>11.4g} {:>11.4g} {:>9}{}\n", block.name, h.rows(), eig[eig.size() - 1], eig[0],
               check.pairs, shares);
  }
  if (o.save_matrix) io::write_array(root, "hessian", dense.matrix.data(), {hsize_t(n), hsize_t(n)});  // symmetric
  Eigen::VectorXd all = hessian::symmetric_eigenvalues(dense.matrix);
  io::write_array(root, "full_eigenvalues", all.data(), {hsize_t(all.size())});
  H5::Group blocks = io::ensure_group(writer.file(), "/blocks");
  io::write_strings(blocks, "names", names);
  io::write_array(blocks, "sizes", sizes.data(), {B});
  H5::Group check = io::ensure_group(writer.file(), "/pair_check");
  io::write_array(check, "thresholds", o.thresholds.data(), {C});
  io::write_array(check, "pairs_above", above.data(), {B, C});
  io::write_array(check, "fraction_within", within.data(), {B, C});
  io::write_array(check, "rank_correlation", correlation.data(), {B});
  io::write_array(check, "pairs", pairs.data(), {B});
  writer.commit();
  fmt::print("\nfull Hessian: {} parameters, λ_max {:.6g}, λ_min {:.6g}, asymmetry {:.2e} (before symmetrising)\n",
             n, all[n - 1], all[0], dense.asymmetry);
  fmt::print("(in parentheses: pairs with c_ij = |H_ij|/max(H_ii, H_jj) ≥ c)\nwrote {}\n", o.out);
}

}  // namespace

void register_dense(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "dense", "Exact Hessian of a small model: per-block eigenvalues and the Gefen element-pair check");
  auto o = std::make_shared<DenseOptions>();
  o->inputs.model = "mlp";
  o->inputs.dtype = "float64";
  analysis::add_hessian_options(*cmd, o->inputs);
  cmd->add_option("--max-params", o->max_params, "refuse models larger than this (memory n² float64)")->capture_default_str()->check(kPositive);
  cmd->add_option("--thresholds", o->thresholds, "coupling thresholds c for the pair check")->capture_default_str();
  cmd->add_option("--out,-o", o->out, "result file (HDF5, schema blockscope.dense/1)")->capture_default_str();
  cmd->add_flag("--save-matrix", o->save_matrix, "also store the full symmetrised Hessian as /hessian [n, n]");
  cmd->callback([o] { run_dense(*o); });
}

}  // namespace blockscope::cli
