#include "analysis/hessian_session.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>

#include "data/loss.h"
#include "data/sources.h"
#include "hessian/random.h"
#include "models/data_fit.h"
#include "partition/partition.h"

namespace blockscope::analysis {
namespace {

std::vector<Block> per_tensor_blocks(const hessian::ParameterLayout& layout) {
  std::vector<Block> blocks;
  for (std::size_t t = 0; t < layout.names.size(); ++t) {
    blocks.push_back({layout.names[t],
                      {{layout.offsets[t], layout.offsets[t + 1]}},
                      static_cast<std::int64_t>(layout.shapes[t].size())});
  }
  return blocks;
}

// The blocks of a partition file in global indices, after checking that the
// partition was made for this model (names and shapes). A block inside one
// tensor is named "tensor[begin:end]" (or just "tensor" when it is all of
// it); a block over several ranges is "block k".
std::vector<Block> partition_blocks(const partition::Partition& p, const hessian::ParameterLayout& layout) {
  std::vector<partition::TensorInfo> model;
  for (std::size_t t = 0; t < layout.names.size(); ++t) model.push_back({layout.names[t], layout.shapes[t]});
  const std::vector<std::vector<partition::PlacedRange>> placed = partition::place_blocks(p, model);
  std::vector<Block> blocks(placed.size());
  for (std::size_t b = 0; b < placed.size(); ++b) {
    const partition::PlacedRange& first = placed[b].front();
    for (const partition::PlacedRange& r : placed[b]) blocks[b].ranges.push_back({r.global_begin(), r.global_end()});
    blocks[b].ndim = static_cast<std::int64_t>(model[first.tensor].shape.size());
    const bool whole = first.begin == 0 && first.end == model[first.tensor].numel();
    blocks[b].name = placed[b].size() > 1 ? fmt::format("block {}", b)
                     : whole              ? model[first.tensor].name
                                          : fmt::format("{}[{}:{}]", model[first.tensor].name, first.begin, first.end);
  }
  return blocks;
}

std::int64_t block_size(const Block& b) {
  std::int64_t n = 0;
  for (const auto& r : b.ranges) n += r.size();
  return n;
}

// Keeps `count` blocks, in their original order, sampled by size stratum:
// blocks are grouped by ⌊log2 size⌋, each group is shuffled (seeded), and
// the groups take turns — largest sizes first — giving one block each until
// `count` are chosen. A partition with thousands of one-element bias blocks
// and a few large weight blocks thus yields both kinds.
std::vector<Block> sample_blocks(std::vector<Block> blocks, std::int64_t count, std::uint64_t seed) {
  if (count <= 0 || count >= static_cast<std::int64_t>(blocks.size())) return blocks;
  std::map<int, std::vector<std::size_t>, std::greater<int>> strata;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    strata[static_cast<int>(std::floor(std::log2(double(std::max<std::int64_t>(1, block_size(blocks[i]))))))].push_back(
        i);
  }
  std::mt19937_64 rng(hessian::derive_seed(seed, 0x626c6f636b73));  // "blocks"
  for (auto& [level, members] : strata) {
    for (std::size_t i = 0; i + 1 < members.size(); ++i) {
      std::size_t j = i + rng() % (members.size() - i);  // Fisher–Yates, portable
      std::swap(members[i], members[j]);
    }
  }
  std::vector<std::size_t> chosen;
  for (std::size_t round = 0; static_cast<std::int64_t>(chosen.size()) < count; ++round) {
    for (auto& [level, members] : strata) {
      if (round < members.size() && static_cast<std::int64_t>(chosen.size()) < count) chosen.push_back(members[round]);
    }
  }
  std::sort(chosen.begin(), chosen.end());
  std::vector<Block> kept;
  for (std::size_t i : chosen) kept.push_back(std::move(blocks[i]));
  return kept;
}

// Per-tensor or partition blocks (sampled), and the settings every result
// file records, once the model, data and Hessian are in place.
void finish_session(HessianSession& s, const HessianInputs& in, std::int64_t n_batches) {
  if (in.blocks_partition) {
    s.blocks = partition_blocks(*in.blocks_partition, s.hessian->layout());
    s.block_source = "partition " + in.blocks_partition->strategy();
  } else if (in.blocks_file.empty()) {
    s.blocks = per_tensor_blocks(s.hessian->layout());
    s.block_source = "per-tensor";
  } else {
    s.blocks = partition_blocks(partition::Partition::load(in.blocks_file), s.hessian->layout());
    s.block_source = in.blocks_file;
  }
  s.blocks = sample_blocks(std::move(s.blocks), in.max_blocks, in.seed);
  s.settings = {
      {"model", s.model->description()},
      {"model_spec", in.model},
      {"params_file", in.params_file},
      {"data", s.dataset.description},
      {"dtype", in.dtype},
      {"n_batches", n_batches},
      {"batch_size", in.batch_size},
      {"examples", s.hessian->num_examples()},
      {"loss", s.hessian->loss()},
      {"loss_name", data::loss_name(s.dataset.targets)},
      {"graph_reused", s.hessian->graph_reused()},
      {"block_source", s.block_source},
      {"max_blocks", in.max_blocks},
      {"block_sampling", in.max_blocks > 0
                             ? std::string("by size stratum: groups of equal floor(log2 size) take turns, "
                                           "largest first, one seeded-random block each")
                             : std::string("none")},
      {"parameters", s.model->num_parameters()},
      {"intra_op_threads", static_cast<std::int64_t>(at::get_num_threads())},
  };
}

void check_dtype(const std::string& dtype) {
  if (dtype != "float32" && dtype != "float64") {
    throw std::runtime_error(fmt::format("unknown dtype '{}' (use float32 or float64)", dtype));
  }
}

}  // namespace

HessianSession open_hessian_session(const HessianInputs& in) {
  check_dtype(in.dtype);
  HessianSession s;
  s.model = models::load_model(in.model, in.seed, in.params_file);
  const std::int64_t batches = in.batches;
  const std::int64_t examples = in.examples > 0 ? in.examples : in.batch_size * std::max<std::int64_t>(batches, 1);
  s.dataset = data::load_dataset(in.data, s.model->input_spec(), {examples, 0, in.seed});
  if (in.batch_size > s.dataset.size()) {
    throw std::runtime_error(fmt::format("{} holds {} examples, fewer than one batch of {} (use a batch size ≤ {})",
                                         s.dataset.description, s.dataset.size(), in.batch_size, s.dataset.size()));
  }
  models::check_data_fits(*s.model, s.dataset);
  if (in.dtype == "float64") {
    s.model->to(at::kDouble);
    s.dataset = data::to_dtype(s.dataset, at::kDouble);
  }
  std::vector<data::Batch> list = data::make_batches(s.dataset, {in.batch_size, batches, false, in.seed});
  s.hessian = std::make_unique<hessian::LossHessian>(*s.model, list, hessian::HvpSettings{true, in.graph_memory_gib});
  finish_session(s, in, static_cast<std::int64_t>(list.size()));
  return s;
}

HessianSession open_hessian_session(std::unique_ptr<models::Model> model, std::vector<data::Batch> batches,
                                    const std::string& data_description, const HessianInputs& inputs) {
  check_dtype(inputs.dtype);
  if (batches.empty()) throw std::runtime_error("no batches given (pass at least one (inputs, targets) pair)");
  HessianInputs in = inputs;
  in.batch_size = batches.front().size();
  HessianSession s;
  s.model = std::move(model);
  std::vector<at::Tensor> inputs_list, targets_list;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const data::Batch& b = batches[i];
    if (!b.inputs.defined() || !b.targets.defined() || b.inputs.dim() == 0 || b.targets.dim() == 0 ||
        b.inputs.size(0) != b.targets.size(0)) {
      throw std::runtime_error(
          fmt::format("batch {}: inputs and targets must be tensors with the same first (example) dimension", i));
    }
    inputs_list.push_back(b.inputs.cpu());
    targets_list.push_back(b.targets.cpu());
  }
  try {
    s.dataset = {at::cat(inputs_list), at::cat(targets_list), data_description};
  } catch (const c10::Error&) {
    throw std::runtime_error(
        "the batches' inputs (or targets) differ in shape past the first axis; give batches of one shape");
  }
  models::check_data_fits(*s.model, s.dataset);
  if (in.dtype == "float64") {
    s.model->to(at::kDouble);
    s.dataset = data::to_dtype(s.dataset, at::kDouble);
  }
  std::vector<data::Batch> list;
  std::int64_t offset = 0;
  for (const data::Batch& b : batches) {
    list.push_back({s.dataset.inputs.narrow(0, offset, b.size()), s.dataset.targets.narrow(0, offset, b.size())});
    offset += b.size();
  }
  s.hessian = std::make_unique<hessian::LossHessian>(*s.model, list, hessian::HvpSettings{true, in.graph_memory_gib});
  finish_session(s, in, static_cast<std::int64_t>(list.size()));
  return s;
}

}  // namespace blockscope::analysis
