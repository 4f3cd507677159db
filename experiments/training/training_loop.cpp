// The training loop; contract in training_loop.h.
#include "experiments/training/training_loop.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <variant>

#include "analysis/partition_builder.h"
#include "data/dataset.h"
#include "data/loss.h"
#include "data/sources.h"
#include "experiments/training/run_file.h"
#include "io/h5_file.h"
#include "models/data_fit.h"
#include "models/model.h"
#include "models/parameter_file.h"
#include "optimizers/block_optimizer.h"
#include "optimizers/checkpoint.h"
#include "partition/strategies.h"

namespace blockscope::training {
namespace {

using optimizers::BlockOptimizer;

std::pair<double, double> parse_betas(const std::string& text) {
  const std::size_t comma = text.find(',');
  try {
    if (comma == std::string::npos) throw std::invalid_argument("no comma");
    std::size_t used1 = 0, used2 = 0;
    const std::string a = text.substr(0, comma), b = text.substr(comma + 1);
    const double b1 = std::stod(a, &used1), b2 = std::stod(b, &used2);
    if (used1 != a.size() || used2 != b.size()) throw std::invalid_argument("trailing text");
    if (!(b1 >= 0.0 && b1 < 1.0 && b2 >= 0.0 && b2 < 1.0)) throw std::invalid_argument("range");
    return {b1, b2};
  } catch (const std::logic_error&) {
    throw std::invalid_argument(
        fmt::format("--betas needs two numbers in [0, 1) as b1,b2 (e.g. 0.9,0.999), got '{}'", text));
  }
}

void check_options(const TrainOptions& o) {
  if (o.steps <= 0) throw std::invalid_argument(fmt::format("--steps must be positive, got {}", o.steps));
  if (!(o.lr >= 0.0) || !std::isfinite(o.lr))
    throw std::invalid_argument(fmt::format("--lr must be a finite number >= 0, got {}", o.lr));
  if (!(o.weight_decay >= 0.0) || !std::isfinite(o.weight_decay)) {
    throw std::invalid_argument(fmt::format("--weight-decay must be a finite number >= 0, got {}", o.weight_decay));
  }
  if (!(o.eps >= 0.0) || !std::isfinite(o.eps))
    throw std::invalid_argument(fmt::format("--eps must be >= 0, got {}", o.eps));
  if (o.examples <= 0) throw std::invalid_argument(fmt::format("--examples must be positive, got {}", o.examples));
  if (o.batch_size <= 0)
    throw std::invalid_argument(fmt::format("--batch-size must be positive, got {}", o.batch_size));
  if (o.schedule != "constant" && o.schedule != "cosine") {
    throw std::invalid_argument(fmt::format("unknown --schedule '{}' (valid: constant, cosine)", o.schedule));
  }
  if (o.warmup < 0 || o.warmup > o.steps) {
    throw std::invalid_argument(fmt::format("--warmup must be in [0, steps = {}], got {}", o.steps, o.warmup));
  }
  if (!(o.eval_fraction == kDefaultEvalFraction || (o.eval_fraction >= 0.0 && o.eval_fraction < 1.0))) {
    throw std::invalid_argument(fmt::format("--eval-fraction must lie in [0, 1), got {}", o.eval_fraction));
  }
  if (o.eval_every < 0) throw std::invalid_argument(fmt::format("--eval-every must be >= 0, got {}", o.eval_every));
  if (o.checkpoint_every < 0) throw std::invalid_argument("--checkpoint-every must be >= 0");
  if (o.checkpoint_every > 0 && o.checkpoint.empty()) {
    throw std::invalid_argument("--checkpoint-every needs --checkpoint FILE to write to");
  }
  for (const std::string* path : {&o.out, &o.checkpoint, &o.save_params}) {
    if (!path->empty()) io::check_output_file(*path);
  }
  if (!o.resume.empty() && !std::filesystem::exists(o.resume)) {
    throw std::invalid_argument(fmt::format("--resume: checkpoint {} not found", o.resume));
  }
}

// Seed of epoch e's permutation: splitmix64 of (seed, e).
std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(epoch + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Cuts the dataset into full batches per epoch, permuted per epoch when shuffling.
class BatchSchedule {
 public:
  BatchSchedule(const data::HeldOutSplit& split, const TrainOptions& o) : dataset_(split.train), options_(o) {
    const std::int64_t full = dataset_.size() / o.batch_size;
    if (full == 0 && split.held_out.size() == 0) {
      throw std::invalid_argument(
          fmt::format("the data holds {} examples, fewer than one batch of {} (lower --batch-size)", dataset_.size(),
                      o.batch_size));
    }
    if (full == 0) {
      throw std::invalid_argument(
          fmt::format("the data holds {} training examples after {} held out, fewer than one batch of {} (lower "
                      "--batch-size or --eval-fraction)",
                      dataset_.size(), split.held_out.size(), o.batch_size));
    }
    per_epoch_ = full;
  }
  std::int64_t batches_per_epoch() const { return per_epoch_; }
  const data::Batch& at(std::int64_t step) {
    const std::int64_t epoch = step / per_epoch_;
    if (epoch != epoch_) {
      const std::uint64_t seed = options_.shuffle ? epoch_seed(options_.seed, epoch) : options_.seed;
      batches_ = data::make_batches(dataset_, {options_.batch_size, per_epoch_, options_.shuffle, seed});
      epoch_ = epoch;
    }
    return batches_[static_cast<std::size_t>(step % per_epoch_)];
  }

 private:
  const data::Dataset& dataset_;
  const TrainOptions& options_;
  std::int64_t per_epoch_ = 0;
  std::int64_t epoch_ = -1;
  std::vector<data::Batch> batches_;
};

// The partition `choice` names for the model: a strategy (gefen from the
// first training batch's gradients; hessian measured on the run's model
// spec and data, curvature over its default probes, on the first 8 batches
// of the source, which lie in the training part unless the held-out tail
// reaches into them) or a partition file.
partition::Partition make_partition(const TrainOptions& o, const std::string& choice, models::Model& model,
                                    BatchSchedule& batches) {
  partition::StrategyInputs in = analysis::strategy_inputs(model, {o.n_heads, o.n_kv_heads, o.head_dim});
  std::vector<std::vector<float>> grads;
  if (choice == "gefen") grads = analysis::batch_gradients(model, batches.at(0));
  for (const auto& v : grads) in.gradients.push_back({v.data(), static_cast<std::int64_t>(v.size())});
  const analysis::StatisticSource source{o.model, o.data, "", o.batch_size, o.seed};
  return analysis::strategy_registry(source, {}).make_or_load(choice, in);
}

// Settings that fix the trajectory; a resume must match them all.
// Numbers are stored as numbers; checkpoints written before that stored
// every value as its text, which still compares. Checkpoints from before
// held-out evaluation trained on all the data (eval_fraction 0).
struct Fixed {
  std::string key;
  std::variant<std::string, std::int64_t, double> value;
  std::string when_absent = "(missing)";  // what a checkpoint without the key had

  std::string text() const {
    return std::visit([](const auto& v) { return fmt::format("{}", v); }, value);
  }
  void write(H5::Group& g) const {
    std::visit([&](const auto& v) { io::set_attribute(g, key, v); }, value);
  }
  // The stored value as text, or "(missing)".
  std::string stored_text(const H5::Group& g) const {
    if (!io::has_attribute(g, key)) return when_absent;
    switch (g.openAttribute(key).getTypeClass()) {
      case H5T_STRING:
        return io::read_string_attribute(g, key);
      case H5T_INTEGER:
        return fmt::format("{}", io::read_int_attribute(g, key));
      case H5T_FLOAT:
        return fmt::format("{}", io::read_double_attribute(g, key));
      default:
        return "(not a number or string)";
    }
  }
};

std::vector<Fixed> fixed_settings(const TrainOptions& o, const models::Model& model, const data::Dataset& d,
                                  double eval_fraction) {
  std::vector<Fixed> f = {{"model", model.description()},
                          {"data", d.description},
                          {"eval_fraction", eval_fraction, "0"},
                          {"batch_size", o.batch_size},
                          {"shuffle", std::string(o.shuffle ? "true" : "false")},
                          {"seed", static_cast<std::int64_t>(o.seed)},
                          {"schedule", o.schedule},
                          {"lr", o.lr},
                          {"warmup", o.warmup}};
  if (o.schedule == "cosine") f.push_back({"steps", o.steps});
  return f;
}

// Zeroes every defined gradient in place (LibTorch 1.13's zero_grad; 2.x's
// sets them to none, which would skip a tensor the next loss does not reach
// instead of stepping it with a zero gradient).
void zero_gradients(models::Model& model) {
  for (const auto& p : model.parameters()) {
    at::Tensor& grad = p.tensor.mutable_grad();
    if (grad.defined()) {
      grad.detach_();
      grad.zero_();
    }
  }
}

std::vector<optimizers::NamedTensor> model_buffers(const models::Model& model) {
  std::vector<optimizers::NamedTensor> out;
  for (auto& [name, tensor] : model.named_buffers()) out.push_back({name, tensor});
  return out;
}

void save(const TrainOptions& o, const BlockOptimizer& opt, const models::Model& model, const std::vector<Fixed>& fixed,
          const TrainingHistory& h) {
  optimizers::save_checkpoint(o.checkpoint, opt, model_buffers(model), [&](io::AtomicH5Writer& writer) {
    describe_history(writer, "/training");
    H5::Group g = io::ensure_group(writer.file(), "/training");
    for (const Fixed& f : fixed) f.write(g);
    io::set_attribute(g, "completed_steps", static_cast<std::int64_t>(h.loss.size()));
    write_history(g, h);
  });
}

std::vector<RunSetting> run_settings(const TrainOptions& o, const BlockOptimizer& opt, const models::Model& model,
                                     const data::HeldOutSplit& split, std::int64_t first_step,
                                     const std::string& partition_name, double eval_fraction, std::int64_t eval_every) {
  const auto [beta1, beta2] = static_cast<const optimizers::BlockOptimizerOptions&>(opt.defaults()).betas();
  return {{"model", model.description()},
          {"model_spec", o.model},
          {"data", split.train.description},
          {"eval_data", split.held_out.description},
          {"loss_name", data::loss_name(split.train.targets)},
          {"optimizer", o.optimizer},
          {"optimizer_spec", opt.spec().to_string()},
          {"partition", partition_name},
          {"partition_strategy", opt.partition().strategy()},
          {"v_blocks", opt.partition().num_blocks()},
          {"parameters", model.num_parameters()},
          {"steps", o.steps},
          {"resumed_from_step", first_step},
          {"lr", o.lr},
          {"weight_decay", o.weight_decay},
          {"beta1", beta1},
          {"beta2", beta2},
          {"eps", o.eps},
          {"batch_size", o.batch_size},
          {"shuffle", o.shuffle},
          {"seed", static_cast<std::int64_t>(o.seed)},
          {"schedule", o.schedule},
          {"warmup", o.warmup},
          {"non_finite", o.non_finite},
          {"eval_fraction", eval_fraction},
          {"eval_every", eval_every},
          {"train_examples", split.train.size()},
          {"eval_examples", split.held_out.size()},
          {"targets_per_example", split.train.targets.numel() / split.train.size()},
          {"intra_op_threads", static_cast<std::int64_t>(at::get_num_threads())}};
}

// Mean loss over the held-out examples, each weighing the same, with the model
// in evaluation mode and no gradients; training mode is restored after.
double held_out_loss(models::Model& model, const data::Dataset& held_out, std::int64_t batch_size) {
  const at::NoGradGuard no_grad;
  model.set_training(false);
  double sum = 0.0;
  for (const data::Batch& b : data::make_batches(held_out, {batch_size, 0, false, 0})) {
    sum += data::mean_loss(model.forward(b.inputs), b.targets).item<double>() * static_cast<double>(b.size());
  }
  model.set_training(true);
  return sum / static_cast<double>(held_out.size());
}

// The held-out fraction: the option, or the data source's default.
double resolved_eval_fraction(const TrainOptions& o, const models::Model& model) {
  return o.eval_fraction == kDefaultEvalFraction ? data::default_held_out_fraction(o.data, model.input_spec())
                                                 : o.eval_fraction;
}

// Steps between held-out evaluations: the option, or 20 evaluations over the run.
std::int64_t evaluation_interval(const TrainOptions& o) {
  return o.eval_every > 0 ? o.eval_every : std::max<std::int64_t>(1, (o.steps + 19) / 20);
}

}  // namespace

double scheduled_lr(const std::string& schedule, double lr, std::int64_t warmup, std::int64_t steps, std::int64_t s) {
  if (warmup > 0 && s < warmup) return lr * static_cast<double>(s + 1) / static_cast<double>(warmup);
  if (schedule == "constant") return lr;
  const double progress =
      static_cast<double>(s - warmup) / static_cast<double>(std::max<std::int64_t>(1, steps - warmup));
  return lr * 0.5 * (1.0 + std::cos(M_PI * progress));
}

void check_train_options(const TrainOptions& o) {
  check_options(o);
  if (!o.betas.empty()) parse_betas(o.betas);
  const optimizers::OptimizerSpec spec = optimizers::parse_optimizer_spec(o.optimizer);
  optimizers::parse_non_finite_policy(o.non_finite);
  const std::string choice = o.partition.empty() ? optimizers::default_partition_strategy(spec) : o.partition;
  std::unique_ptr<models::Model> model = models::load_model(o.model, o.seed);
  const data::Dataset dataset = data::load_dataset(o.data, model->input_spec(), {o.examples, 0, o.seed});
  models::check_data_fits(*model, dataset);
  const double eval_fraction = resolved_eval_fraction(o, *model);
  const data::HeldOutSplit split = data::split_held_out(dataset, eval_fraction);
  const BatchSchedule batches(split, o);
  // A file is loaded and validated; strategies are built but those that measure (gefen, hessian).
  const partition::StrategyRegistry registry =
      analysis::strategy_registry({o.model, o.data, "", o.batch_size, o.seed}, {});
  if (choice != "gefen" && choice != "hessian") {
    registry.make_or_load(choice, analysis::strategy_inputs(*model, {o.n_heads, o.n_kv_heads, o.head_dim}));
  }
}

TrainSummary train(const TrainOptions& o, const std::function<void(std::int64_t, std::int64_t)>& progress,
                   const std::function<void(const std::string&)>& notice) {
  check_options(o);
  const optimizers::OptimizerSpec spec = optimizers::parse_optimizer_spec(o.optimizer);
  const auto [beta1, beta2] = o.betas.empty() ? optimizers::default_betas(spec.rule) : parse_betas(o.betas);
  const optimizers::NonFinitePolicy policy = optimizers::parse_non_finite_policy(o.non_finite);
  const std::string partition_choice = o.partition.empty() ? optimizers::default_partition_strategy(spec) : o.partition;

  std::unique_ptr<models::Model> model = models::load_model(o.model, o.seed);
  data::Dataset dataset = data::load_dataset(o.data, model->input_spec(), {o.examples, 0, o.seed});
  models::check_data_fits(*model, dataset);
  const double eval_fraction = resolved_eval_fraction(o, *model);
  const data::HeldOutSplit split = data::split_held_out(dataset, eval_fraction);
  const std::int64_t eval_every = evaluation_interval(o);
  BatchSchedule batches(split, o);
  partition::Partition partition = make_partition(o, partition_choice, *model, batches);
  if (notice) {
    for (const std::string& line : partition::unmatched_tensor_warnings(partition)) notice(line);
  }

  std::vector<optimizers::NamedTensor> params;
  for (const auto& p : model->parameters()) params.push_back({p.name, p.tensor});
  BlockOptimizer opt(
      params, std::move(partition), spec,
      optimizers::BlockOptimizerOptions(o.lr).betas({beta1, beta2}).eps(o.eps).weight_decay(o.weight_decay), policy);
  const std::vector<Fixed> fixed = fixed_settings(o, *model, dataset, eval_fraction);

  TrainingHistory history;
  if (!o.resume.empty()) {
    optimizers::load_checkpoint(o.resume, opt, model_buffers(*model), [&](H5::H5File& file) {
      if (!file.nameExists("/training")) throw std::runtime_error("holds no training state (/training)");
      H5::Group g = file.openGroup("/training");
      for (const Fixed& f : fixed) {
        const std::string stored = f.stored_text(g);
        if (stored != f.text()) {
          throw std::runtime_error(
              fmt::format("was written with {} = {}, this run has {} (a resume must repeat the "
                          "settings that fix the trajectory)",
                          f.key, stored, f.text()));
        }
      }
      history = read_history(g);
      if (static_cast<std::int64_t>(history.loss.size()) > o.steps) {
        throw std::runtime_error(
            fmt::format("has {} completed steps, more than --steps {}", history.loss.size(), o.steps));
      }
    });
  }
  const std::int64_t first = static_cast<std::int64_t>(history.loss.size());
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  model->set_training(true);
  for (std::int64_t s = first; s < o.steps; ++s) {
    const auto t0 = clock::now();
    const double lr = scheduled_lr(o.schedule, o.lr, o.warmup, o.steps, s);
    for (auto& group : opt.param_groups()) group.options().set_lr(lr);
    const data::Batch& batch = batches.at(s);
    zero_gradients(*model);
    at::Tensor loss = data::mean_loss(model->forward(batch.inputs), batch.targets);
    loss.backward();
    opt.step();
    history.loss.push_back(loss.item<double>());
    history.lr.push_back(lr);
    history.step_time.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    history.skipped.push_back(opt.skipped_tensor_steps());
    if (split.held_out.size() > 0 && ((s + 1) % eval_every == 0 || s + 1 == o.steps)) {
      history.eval_step.push_back(s + 1);
      history.eval_loss.push_back(held_out_loss(*model, split.held_out, o.batch_size));
    }
    if (!o.checkpoint.empty() && o.checkpoint_every > 0 && (s + 1) % o.checkpoint_every == 0 && s + 1 < o.steps) {
      save(o, opt, *model, fixed, history);
    }
    if (progress) progress(s + 1 - first, o.steps - first);
  }
  if (!o.checkpoint.empty()) save(o, opt, *model, fixed, history);
  write_run_file(o.out, run_settings(o, opt, *model, split, first, partition_choice, eval_fraction, eval_every),
                 history, opt.state_bytes(), model->num_parameters());
  if (!o.save_params.empty()) models::write_parameter_file(o.save_params, *model);

  TrainSummary summary;
  summary.first_step = first;
  summary.steps = o.steps;
  summary.final_loss = history.loss.back();
  summary.final_eval_loss = history.eval_loss.empty() ? std::nan("") : history.eval_loss.back();
  summary.eval_examples = split.held_out.size();
  summary.seconds = std::chrono::duration<double>(clock::now() - start).count();
  summary.state_bytes = opt.state_bytes().total();
  summary.state_bytes_per_parameter =
      static_cast<double>(summary.state_bytes) / static_cast<double>(model->num_parameters());
  summary.skipped = opt.skipped_tensor_steps();
  summary.model_description = model->description();
  summary.optimizer_spec = opt.spec().to_string();
  summary.partition_strategy = opt.partition().strategy();
  return summary;
}

}  // namespace blockscope::training
