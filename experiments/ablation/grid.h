// An ablation grid (`blockscope ablate --config GRID.json`): a JSON object
// whose lists are the axes and whose scalars are settings every cell shares.
//
//   axes (lists):    models, data, partitions, optimizers, lrs, seeds
//   shared (scalars, named as `train` names them): steps, batch_size,
//     examples, schedule, warmup, weight_decay, betas, eps, shuffle,
//     non_finite, eval_fraction, eval_every, n_heads, n_kv_heads, head_dim
//
// Only `models` is required; the other axes default to ["auto"] data, the
// optimizer's default partition ("default"), ["adamw"], [1e-3] and [0].
// eval_fraction defaults to 0.1 for every source (cells are judged on
// held-out loss), the other settings to train's defaults.
// Cells are the Cartesian product in the order models × data × partitions ×
// optimizers × lrs × seeds (seeds vary fastest). A cell's seed fixes the
// model's initialisation and the data order, so cells that differ only in
// partition, optimizer or learning rate see the same data in the same order
// (for the text corpus and synthetic sources the seed also draws which
// examples there are, so cells of other seeds hold out other examples).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "experiments/training/training_loop.h"

namespace blockscope::ablation {

inline constexpr const char* kDefaultPartition = "default";  // the optimizer's default partition

struct Grid {
  std::vector<std::string> models, data, partitions, optimizers;
  std::vector<double> lrs;
  std::vector<std::uint64_t> seeds;
  training::TrainOptions shared;  // the shared settings; axis fields unused

  // Every axis and setting, defaults filled in: what a resumed ablation must repeat.
  nlohmann::json canonical() const;
};

struct Cell {
  std::int64_t index = 0;
  std::string model, data, partition, optimizer;
  double lr = 0.0;
  std::uint64_t seed = 0;
};

// Parses a grid; `source` names it in errors. Throws one line naming the
// key and what it needs (an unknown key lists the valid ones).
Grid parse_grid(const nlohmann::json& config, const std::string& source);

// Reads and parses a GRID.json file.
Grid read_grid(const std::string& path);

std::vector<Cell> cells(const Grid& grid);

// The train options of one cell, writing its run file to `run_file`.
training::TrainOptions cell_options(const Grid& grid, const Cell& cell, const std::string& run_file);

}  // namespace blockscope::ablation
