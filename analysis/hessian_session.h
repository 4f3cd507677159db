// Sets up a Hessian analysis: the model (optionally converted to float64),
// the data and its fixed list of batches, the LossHessian over them and the
// blocks. Shared by `spectrum`, `dense` and `coupling` and by the Python
// package (blockscope.hessian), which hands over a model and batches itself.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "hessian/hvp.h"
#include "hessian/spectrum_file.h"
#include "models/model.h"
#include "partition/partition.h"

namespace blockscope::analysis {

struct HessianInputs {
  std::string model = "gpt";
  std::string data = "auto";
  std::int64_t batch_size = 32;
  std::int64_t batches = 1;   // 0: all the data holds (the last batch may be short)
  std::int64_t examples = 0;  // synthetic sources; 0 = batch_size × batches
  std::string dtype = "float32";
  std::uint64_t seed = 0;
  double graph_memory_gib = 8.0;
  std::string params_file;  // trained parameters (blockscope.params/1 or a checkpoint); empty = initialisation
  std::string blocks_file;  // a partition file; empty = per-tensor blocks
  std::shared_ptr<const partition::Partition> blocks_partition;  // in memory (Python); wins over blocks_file
  std::int64_t max_blocks = 0;                                   // 0 = all; else a seeded sample of this many blocks
};

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
  std::string block_source;      // "per-tensor" or the partition file
  hessian::Attributes settings;  // everything a result file must record
};

// Throws a one-line std::runtime_error on bad input (unknown model, data
// that does not fit, non-finite loss, bad dtype, blocks file mismatch).
HessianSession open_hessian_session(const HessianInputs& inputs);

// The same for a model and batches the caller already holds (Python):
// inputs.model / data / batch_size / batches / examples / params_file are
// not used; `data_description` is recorded as the data. Batches must be
// non-empty, all with the same input shape past the first axis.
HessianSession open_hessian_session(std::unique_ptr<models::Model> model, std::vector<data::Batch> batches,
                                    const std::string& data_description, const HessianInputs& inputs);

}  // namespace blockscope::analysis
