// `blockscope train`: train a model with the partition-driven optimizer
// family (experiments/training/training_loop.h) and record the run
// (blockscope.run/1), optional checkpoints and final parameters. Progress on
// stderr; a summary on stdout when done.
#include <fmt/format.h>

#include "experiments/cli/commands.h"
#include "experiments/cli/validators.h"
#include "experiments/training/training_loop.h"
#include "io/progress_bar.h"
#include "optimizers/spec.h"

namespace blockscope::cli {
namespace {

void run_train(const training::TrainOptions& o) {
  std::unique_ptr<io::ProgressBar> bar;
  training::TrainSummary s = training::train(
      o,
      [&](std::int64_t done, std::int64_t total) {
        if (!bar) bar = std::make_unique<io::ProgressBar>("train", "steps");
        bar->update(done, total);
      },
      [](const std::string& line) { fmt::print(stderr, "warning: {}\n", line); });
  if (bar) bar->finish();
  fmt::print("model: {}\noptimizer: {} (partition {})\n", s.model_description, s.optimizer_spec, s.partition_strategy);
  fmt::print(
      "steps {}..{}: final loss {:.6g} in {:.1f} s; optimizer state {} bytes ({:.4f} bytes/param); "
      "{} tensor-steps skipped for non-finite gradients\n",
      s.first_step, s.steps, s.final_loss, s.seconds, s.state_bytes, s.state_bytes_per_parameter, s.skipped);
  if (s.eval_examples > 0) {
    fmt::print("held-out loss {:.6g} over {} examples (/eval/loss in the run file)\n", s.final_eval_loss,
               s.eval_examples);
  }
  fmt::print("wrote {}{}{}\n", o.out, o.checkpoint.empty() ? "" : ", " + o.checkpoint,
             o.save_params.empty() ? "" : ", " + o.save_params);
}

}  // namespace

void register_train(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("train",
                                     "Train a model with AdamW, Adam-mini, Gefen, FlashOptim-style AdamW or any "
                                     "optimizer spec over a partition");
  auto o = std::make_shared<training::TrainOptions>();
  cmd->add_option("--model,-m", o->model, "zoo model (see `blockscope models`) or TorchScript .pt")
      ->capture_default_str();
  cmd->add_option("--data,-d", o->data, "data source (auto, mixture, images, markov, text) or FILE.h5")
      ->capture_default_str();
  cmd->add_option("--optimizer", o->optimizer,
                  fmt::format("preset ({}) or spec \"v=element|shared|companded,m=fp32|bf16|codebook|companded,"
                              "w=fp32|bf16+int8|bf16+int16,exclude=norm:ln:bias|none,p1=reference|fixed\"",
                              fmt::join(optimizers::optimizer_preset_names(), ", ")))
      ->capture_default_str();
  cmd->add_option("--partition", o->partition,
                  "partition strategy (per-element, per-tensor, whole-model, adam-mini, gefen) or partition file; "
                  "default: gefen for codebook m, adam-mini for shared v, else per-element");
  cmd->add_option("--n-heads", o->n_heads,
                  "attention heads for adam-mini's per-head rule (default from a zoo transformer)")
      ->check(kPositive);
  cmd->add_option("--n-kv-heads", o->n_kv_heads, "key/value heads under grouped-query attention (default n-heads)")
      ->check(kPositive);
  cmd->add_option("--head-dim", o->head_dim, "width of one head (default: q rows / n-heads)")->check(kPositive);
  cmd->add_option("--steps", o->steps, "optimizer steps")->capture_default_str();
  cmd->add_option("--lr", o->lr, "peak learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", o->weight_decay,
                  "weight decay: decoupled (p *= 1 - lr*wd), except sgd's, added to the gradient (g + wd*p) as "
                  "torch.optim.SGD")
      ->capture_default_str();
  cmd->add_option("--betas", o->betas,
                  "b1,b2 (default 0.9,0.999; lion 0.9,0.99; sgd reads b1 as its momentum, default 0.9)");
  cmd->add_option("--eps", o->eps, "added to the bias-corrected sqrt(v) (adam rule only)")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "examples per batch")->capture_default_str();
  cmd->add_option("--examples", o->examples,
                  "examples drawn from a synthetic source (the text corpus and HDF5 files have their own size)")
      ->capture_default_str();
  cmd->add_flag("--shuffle", o->shuffle, "permute the examples each epoch (seeded); default: fixed order");
  cmd->add_option("--seed", o->seed, "seed for model initialisation, data and shuffling")->capture_default_str();
  cmd->add_option("--schedule", o->schedule, "learning-rate schedule: constant or cosine")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "linear warm-up steps")->capture_default_str();
  cmd->add_option("--non-finite", o->non_finite,
                  "non-finite gradient policy: skip (leave the tensor, count it) or error")
      ->capture_default_str();
  cmd->add_option("--eval-fraction", o->eval_fraction,
                  "hold out the last fraction of the examples, never trained on, for the held-out loss "
                  "(default 0.1 for text and HDF5 data, 0 for synthetic sources)")
      ->check(kFraction);
  cmd->add_option("--eval-every", o->eval_every,
                  "steps between held-out evaluations, and after the last (default 0: every ⌈steps/20⌉)")
      ->check(kNonNegative);
  cmd->add_option("--out,-o", o->out, "run file (HDF5, schema blockscope.run/1)")->capture_default_str();
  cmd->add_option("--checkpoint", o->checkpoint,
                  "checkpoint file (blockscope.checkpoint/1), written at the end and every "
                  "--checkpoint-every steps");
  cmd->add_option("--checkpoint-every", o->checkpoint_every, "steps between checkpoints (0 = only at the end)");
  cmd->add_option("--resume", o->resume, "continue from this checkpoint (same model, data, optimizer, partition)");
  cmd->add_option("--save-params", o->save_params, "write the final parameters here (blockscope.params/1)");
  cmd->callback([o] { run_train(*o); });
}

}  // namespace blockscope::cli
