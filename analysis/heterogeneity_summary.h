// The heterogeneity figures of one spectrum file (schema
// blockscope.spectrum/1) that `blockscope report` compares: mean pairwise JS
// over all blocks and over weight blocks (tensors with ≥ 2 dimensions) with
// its standard error, and the spread of the blocks' λ_max.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

namespace blockscope::analysis {

struct HeterogeneitySummary {
  std::string model;
  std::string settings;  // σ, m and n_v: JS values are comparable only when these agree
  std::int64_t parameters = 0, blocks = 0, matrix_blocks = 0;
  std::string sigma;
  double mean_js = NAN, matrix_js = NAN, matrix_js_se = NAN;
  double lambda_decades = NAN;  // log10(max λ_max / min λ_max) over weight blocks
};

// Throws a one-line error for a file that is not a spectrum file or whose
// datasets disagree in size.
HeterogeneitySummary summarise_spectrum_file(const std::string& path);

}  // namespace blockscope::analysis
