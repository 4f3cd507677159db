// The training loop behind `blockscope train`: a zoo or TorchScript model,
// a data source cut into fixed batches, and the partition-driven optimizer
// (optimizers/block_optimizer.h).
//
// Step s (0-based) uses batch s mod B of epoch ⌊s/B⌋ (B full batches; no
// shuffling unless `shuffle`, then epoch e is permuted with seed
// splitmix64(seed, e)), the model in training mode, the mean loss, one backward
// pass and one optimizer step at lr(s):
//   constant  lr·min(1, (s+1)/warmup)
//   cosine    the same warm-up, then lr·½(1 + cos(π·(s−warmup)/(steps−warmup)))
// Held-out evaluation: the last ⌈eval_fraction·N⌉ examples of the data
// (data::split_held_out) are never trained on; after every eval_every steps
// and after the last, the mean loss over them is taken with the model in
// evaluation mode (this does not change the training trajectory).
// eval_fraction defaults to 0.1 for the text corpus and HDF5 files and to 0
// for synthetic sources (data::default_held_out_fraction); eval_every 0 means
// every ⌈steps/20⌉ steps (at most 20 evaluations).
// Results (all atomic, nothing written on bad input):
//   run file (experiments/training/run_file.h): per-step loss, lr, step time
//     and skips, held-out loss per evaluation, state bytes, every setting.
//   checkpoints (blockscope.checkpoint/1, optimizers/checkpoint.h) every
//     checkpoint_every steps and at the end, with the model's buffers
//     (BatchNorm running statistics), and /training holding the settings that
//     fix the trajectory and the history so far; a resume continues
//     bitwise-identically and refuses other settings.
//   parameters (blockscope.params/1): one fp32 dataset per qualified name.
// Gradient-driven partition strategies (gefen) take their first-step
// gradients from the first training batch at the initial parameters.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace blockscope::training {

inline constexpr double kDefaultEvalFraction = -1.0;  // TrainOptions::eval_fraction: the data's default

struct TrainOptions {
  std::string model = "mlp";
  std::string data = "auto";
  std::string optimizer = "adamw";  // preset or spec (optimizers/spec.h)
  std::string partition;            // strategy name or partition file; empty = the spec's default
  std::int64_t steps = 100;
  double lr = 1e-3;
  double weight_decay = 0.0;
  std::string betas;  // "b1,b2"; empty = the rule's (optimizers::default_betas)
  double eps = 1e-8;
  std::int64_t batch_size = 32;
  std::int64_t examples = 4096;  // drawn from a synthetic source (not tied to steps, so a resume sees the same data)
  bool shuffle = false;
  std::uint64_t seed = 0;
  std::string schedule = "constant";
  std::int64_t warmup = 0;
  std::string non_finite = "skip";
  double eval_fraction = kDefaultEvalFraction;  // [0, 1)
  std::int64_t eval_every = 0;                  // 0: every ⌈steps/20⌉ steps
  std::string out = "run.h5";
  std::string checkpoint;
  std::int64_t checkpoint_every = 0;
  std::string resume;
  std::string save_params;
  std::int64_t n_heads = 0, n_kv_heads = 0, head_dim = 0;  // adam-mini heads over the zoo's (0 = not given)
};

struct TrainSummary {
  std::int64_t first_step = 0;  // > 0 after a resume
  std::int64_t steps = 0;
  double final_loss = 0.0;
  double final_eval_loss = 0.0;  // NaN without held-out examples
  std::int64_t eval_examples = 0;
  double seconds = 0.0;
  std::int64_t state_bytes = 0;
  double state_bytes_per_parameter = 0.0;
  std::int64_t skipped = 0;
  std::string model_description;
  std::string optimizer_spec;
  std::string partition_strategy;
};

// progress(done, total) after every step; notice(line) for warnings found
// before the first step (an adam-mini partition's unmatched tensors).
// Throws std::runtime_error / std::invalid_argument with one line on bad input.
TrainSummary train(const TrainOptions& options, const std::function<void(std::int64_t, std::int64_t)>& progress = {},
                   const std::function<void(const std::string&)>& notice = {});

// The checks train() makes before its first step, without training: the
// options, model, data and held-out split, and the partition (a file loaded
// and validated against the model; a strategy built, except gefen and
// hessian, which measure gradients or curvature first). For a grid of runs
// checked before any starts.
void check_train_options(const TrainOptions& options);

// The learning rate of step s (see above); schedule "constant" or "cosine".
double scheduled_lr(const std::string& schedule, double lr, std::int64_t warmup, std::int64_t steps, std::int64_t s);

}  // namespace blockscope::training
