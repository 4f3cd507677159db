#include "experiments/cli/hessian_options.h"

#include "experiments/cli/validators.h"

namespace blockscope::cli {

void add_hessian_options(CLI::App& cmd, analysis::HessianInputs& in) {
  cmd.add_option("--model,-m", in.model, "zoo model (see `blockscope models`) or TorchScript .pt")
      ->capture_default_str();
  cmd.add_option("--params", in.params_file,
                 "analyse at these trained parameters (blockscope.params/1 from train --save-params, or a checkpoint)");
  cmd.add_option("--data,-d", in.data, "data source (auto, mixture, images, markov, text) or FILE.h5")
      ->capture_default_str();
  cmd.add_option("--batch-size", in.batch_size, "examples per batch")->capture_default_str()->check(kPositive);
  cmd.add_option("--batches", in.batches,
                 "batches in the fixed list (0 = all the data holds; each HVP costs in proportion)")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd.add_option("--examples", in.examples, "examples drawn from a synthetic source (default batch-size × batches)")
      ->check(kNonNegative);
  cmd.add_option("--dtype", in.dtype, "float32 or float64 (converts model and data)")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "float64"}));
  cmd.add_option("--seed", in.seed, "seed for model initialisation, data, probes")->capture_default_str();
  cmd.add_option("--graph-memory-gib", in.graph_memory_gib,
                 "reuse first-order graphs across HVPs while they fit in this much memory")
      ->capture_default_str();
  cmd.add_option("--blocks", in.blocks_file,
                 "partition file (blockscope.partition/1) defining the blocks; default per tensor");
  cmd.add_option("--max-blocks", in.max_blocks,
                 "analyse a seeded sample of this many blocks, stratified by size so large and small blocks both "
                 "appear (0 = all)")
      ->capture_default_str();
}

}  // namespace blockscope::cli
