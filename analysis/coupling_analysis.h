// Coupling between Hessian blocks, r_ab = ‖H_ab‖_F / sqrt(‖H_aa‖_F ‖H_bb‖_F)
// from Rademacher probes (docs/algorithms.md §4) — the core call behind
// `blockscope coupling` and blockscope.hessian.coupling. Result file (schema
// blockscope.coupling/1): /blocks/names [B], /blocks/sizes [B],
// /coupling/{frobenius, squared, squared_stderr, ratio} [B, B]; every
// session setting, probes, seed and hvp_count as attributes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/hessian_session.h"
#include "hessian/coupling.h"

namespace blockscope::analysis {

inline constexpr const char* kCouplingSchema = "blockscope.coupling/1";

struct CouplingAnalysis {
  std::vector<std::string> names;   // [B]
  std::vector<std::int64_t> sizes;  // [B]
  hessian::CouplingResult result;
  hessian::Attributes settings;  // the session's, probes, seed
};

// probes ≥ hessian::kMinCouplingProbes; the probes are seeded by the
// session's seed. progress: (blocks done, blocks).
CouplingAnalysis analyse_coupling(HessianSession& session, int probes, std::uint64_t seed,
                                  const hessian::ProgressCallback& progress = {});

void write_coupling_file(const std::filesystem::path& path, const CouplingAnalysis& analysis);

}  // namespace blockscope::analysis
