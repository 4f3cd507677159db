// Sets up a Hessian analysis from command-line inputs: the model (optionally
// converted to float64), the data and its fixed list of batches, and the
// LossHessian over them. Shared by `spectrum`, `dense` and `coupling`.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "experiments/models/model.h"
#include "hessian/hvp.h"
#include "hessian/spectrum_file.h"

namespace blockscope::analysis {

struct HessianInputs {
  std::string model = "gpt";
  std::string data = "auto";
  std::int64_t batch_size = 32;
  std::int64_t batches = 1;    // 0: all the data holds (the last batch may be short)
  std::int64_t examples = 0;   // synthetic sources; 0 = batch_size × batches
  std::string dtype = "float32";
  std::uint64_t seed = 0;
  double graph_memory_gib = 8.0;
  std::string params_file;     // trained parameters (blockscope.params/1 or a checkpoint); empty = initialisation
  std::string blocks_file;     // a partition file; empty = per-tensor blocks
  std::int64_t max_blocks = 0; // 0 = all; else a seeded sample of this many blocks
};

// Adds --model, --params, --data, --batch-size, --batches, --examples,
// --dtype, --seed, --graph-memory-gib, --blocks, --max-blocks to a subcommand.
void add_hessian_options(CLI::App& command, HessianInputs& inputs);

struct Block {
  std::string name;
  hessian::BlockRanges ranges;
  std::int64_t ndim = 0;  // dimensions of the (first) tensor the block lies in
};

struct HessianSession {
  std::unique_ptr<models::Model> model;
  data::Dataset dataset;
  std::unique_ptr<hessian::LossHessian> hessian;
  std::vector<Block> blocks;
  std::string block_source;  // "per-tensor" or the partition file
  hessian::Attributes settings;  // everything a result file must record
};

// Throws a one-line std::runtime_error on bad input (unknown model, data
// that does not fit, non-finite loss, bad dtype, blocks file mismatch).
HessianSession open_hessian_session(const HessianInputs& inputs);

}  // namespace blockscope::analysis
