// The exact Hessian of a small model and the element-pair check of Gefen's
// sharing claim per block (docs/algorithms.md §4) — the core call behind
// `blockscope dense` and blockscope.hessian.dense. Result file (schema
// blockscope.dense/1):
//   /blocks/names [B], /blocks/sizes [B], /eigenvalues/<b> [n_b] ascending,
//   /full_eigenvalues [n], /hessian [n, n] (when kept),
//   /pair_check/{thresholds [C], pairs_above [B, C], fraction_within [B, C],
//   rank_correlation [B], pairs [B]}
//   attributes: every session setting, asymmetry, hvp_count.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "analysis/hessian_session.h"
#include "hessian/sharing_check.h"

namespace blockscope::analysis {

inline constexpr const char* kDenseSchema = "blockscope.dense/1";

struct DenseSettings {
  std::int64_t max_params = 5000;                           // refuse larger models (memory n² float64)
  std::vector<double> thresholds = {0.1, 0.25, 0.5, 0.75};  // coupling thresholds c of the pair check
  bool keep_matrix = false;                                 // keep (and write) the full [n, n] Hessian
};

struct DenseAnalysis {
  std::vector<std::string> names;                     // [B]
  std::vector<std::int64_t> sizes;                    // [B]
  std::vector<Eigen::VectorXd> eigenvalues;           // [B] ascending
  std::vector<hessian::PairCheckResult> pair_checks;  // [B]
  std::vector<double> thresholds;                     // [C]
  Eigen::VectorXd full_eigenvalues;                   // [n] ascending
  Eigen::MatrixXd matrix;                             // [n, n] symmetrised; empty unless keep_matrix
  double asymmetry = 0.0;
  std::int64_t hvp_count = 0;
  hessian::Attributes settings;
};

// Throws before any product when the model has more than max_params
// parameters. progress: (HVPs done, n).
DenseAnalysis analyse_dense(HessianSession& session, const DenseSettings& settings,
                            const std::function<void(std::int64_t done, std::int64_t total)>& progress = {});

void write_dense_file(const std::filesystem::path& path, const DenseAnalysis& analysis);

}  // namespace blockscope::analysis
