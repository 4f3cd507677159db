#include "partition/partition.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

namespace blockscope::partition {
namespace {

std::runtime_error invalid(const std::string& tensor, const std::string& what) {
  return std::runtime_error(fmt::format("invalid partition: tensor '{}' {}", tensor, what));
}

void check_settings(const nlohmann::json& settings) {
  if (!settings.is_object()) {
    throw std::runtime_error("invalid partition: settings must be a JSON object");
  }
  for (const auto& [key, value] : settings.items()) {
    if (key.empty() || key.find('/') != std::string::npos) {
      throw std::runtime_error(fmt::format("invalid partition: setting name '{}' must be non-empty without '/'", key));
    }
    bool string_list =
        value.is_array() && std::all_of(value.begin(), value.end(), [](const auto& v) { return v.is_string(); });
    if (!value.is_string() && !value.is_number() && !value.is_boolean() && !string_list) {
      throw std::runtime_error(
          fmt::format("invalid partition: setting '{}' must be a string, number, boolean or list of strings", key));
    }
  }
}

// Checks one tensor's ranges and ids, returns its largest block id (-1 if none).
std::int64_t check_tensor(const TensorBlocks& t) {
  const std::string& name = t.tensor.name;
  for (std::int64_t d : t.tensor.shape) {
    if (d < 0) {
      throw invalid(name, fmt::format("has a negative dimension in shape {}", shape_string(t.tensor.shape)));
    }
  }
  std::int64_t numel = t.tensor.numel();
  if (t.period < 0) throw invalid(name, fmt::format("has negative period {}", t.period));
  if (t.period > 0) {
    if (!t.boundaries.empty()) throw invalid(name, "has both a period and explicit boundaries");
    if (numel % t.period != 0) {
      throw invalid(name, fmt::format("has {} elements, not a multiple of its period {}", numel, t.period));
    }
  } else {
    const auto& b = t.boundaries;
    if (b.empty() || b.front() != 0 || b.back() != numel) {
      throw invalid(name, fmt::format("boundaries must run from 0 to its {} elements", numel));
    }
    for (std::size_t k = 1; k < b.size(); ++k) {
      if (b[k] <= b[k - 1]) {
        throw invalid(name, fmt::format("boundaries are not strictly increasing at index {}", k));
      }
    }
  }
  std::int64_t ranges = t.num_ranges();
  if (t.block_ids.empty()) {
    if (t.first_block < 0) {
      throw invalid(name, fmt::format("has negative first block {}", t.first_block));
    }
    return ranges > 0 ? t.first_block + ranges - 1 : -1;
  }
  if (static_cast<std::int64_t>(t.block_ids.size()) != ranges) {
    throw invalid(name, fmt::format("has {} block ids for {} ranges", t.block_ids.size(), ranges));
  }
  std::int64_t largest = -1;
  for (std::int64_t id : t.block_ids) {
    if (id < 0) throw invalid(name, fmt::format("has negative block id {}", id));
    largest = std::max(largest, id);
  }
  return largest;
}

}  // namespace

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

bool TensorInfo::operator==(const TensorInfo& other) const { return name == other.name && shape == other.shape; }

std::string shape_string(const std::vector<std::int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

TensorBlocks TensorBlocks::uniform(TensorInfo tensor, std::int64_t period) {
  TensorBlocks t;
  t.tensor = std::move(tensor);
  t.period = t.tensor.numel() == 0 ? 1 : period;
  return t;
}

TensorBlocks TensorBlocks::explicit_ranges(TensorInfo tensor, std::vector<std::int64_t> boundaries) {
  TensorBlocks t;
  t.tensor = std::move(tensor);
  t.boundaries = std::move(boundaries);
  return t;
}

std::int64_t TensorBlocks::num_ranges() const {
  if (period > 0) return tensor.numel() / period;
  return boundaries.empty() ? 0 : static_cast<std::int64_t>(boundaries.size()) - 1;
}

BlockRange TensorBlocks::range(std::int64_t k) const {
  std::int64_t id = block_ids.empty() ? first_block + k : block_ids[static_cast<std::size_t>(k)];
  if (period > 0) return {k * period, (k + 1) * period, id};
  return {boundaries[static_cast<std::size_t>(k)], boundaries[static_cast<std::size_t>(k) + 1], id};
}

std::int64_t TensorBlocks::range_of(std::int64_t element) const {
  if (period > 0) return element / period;
  auto it = std::upper_bound(boundaries.begin(), boundaries.end(), element);
  return static_cast<std::int64_t>(it - boundaries.begin()) - 1;
}

std::vector<std::vector<PlacedRange>> place_blocks(const Partition& p, const std::vector<TensorInfo>& layout) {
  p.validate_against(layout);
  std::vector<std::vector<PlacedRange>> blocks(static_cast<std::size_t>(p.num_blocks()));
  std::int64_t offset = 0;
  for (std::size_t t = 0; t < layout.size(); ++t) {
    const TensorBlocks& tb = p.tensors()[p.tensor_index(layout[t].name)];
    for (std::int64_t k = 0; k < tb.num_ranges(); ++k) {
      const BlockRange r = tb.range(k);
      blocks[static_cast<std::size_t>(r.block)].push_back({t, r.begin, r.end, offset});
    }
    offset += layout[t].numel();
  }
  return blocks;  // ascending: tensors in layout order, ranges in element order
}

void number_consecutively(std::vector<TensorBlocks>& tensors) {
  std::int64_t next = 0;
  for (TensorBlocks& t : tensors) {
    t.first_block = next;
    next += t.num_ranges();
  }
}

bool TensorBlocks::operator==(const TensorBlocks& other) const {
  return tensor == other.tensor && period == other.period && boundaries == other.boundaries &&
         first_block == other.first_block && block_ids == other.block_ids;
}

Partition::Partition(std::string strategy, nlohmann::json settings, std::vector<TensorBlocks> tensors)
    : strategy_(std::move(strategy)), settings_(std::move(settings)), tensors_(std::move(tensors)) {
  if (strategy_.empty()) throw std::runtime_error("invalid partition: the strategy name is empty");
  if (settings_.is_null()) settings_ = nlohmann::json::object();
  check_settings(settings_);
  std::set<std::string> names;
  std::int64_t largest = -1, ranges = 0;
  for (const TensorBlocks& t : tensors_) {
    if (t.tensor.name.empty()) {
      throw std::runtime_error("invalid partition: a tensor has an empty name");
    }
    if (!names.insert(t.tensor.name).second) throw invalid(t.tensor.name, "appears twice");
    largest = std::max(largest, check_tensor(t));
    num_parameters_ += t.tensor.numel();
    ranges += t.num_ranges();
  }
  num_blocks_ = largest + 1;
  if (num_blocks_ > ranges) {
    throw std::runtime_error(
        fmt::format("invalid partition: block ids go up to {} but there are only {} ranges; ids must be "
                    "0..B-1, each used",
                    largest, ranges));
  }
  // The ids used must be exactly 0..num_blocks-1, so that v has no unused slot.
  std::vector<bool> used(static_cast<std::size_t>(num_blocks_), false);
  for (const TensorBlocks& t : tensors_) {
    if (t.block_ids.empty()) {
      std::int64_t ranges = t.num_ranges();
      std::fill_n(used.begin() + t.first_block, ranges, true);
    } else {
      for (std::int64_t id : t.block_ids) used[static_cast<std::size_t>(id)] = true;
    }
  }
  auto unused = std::find(used.begin(), used.end(), false);
  if (unused != used.end()) {
    throw std::runtime_error(
        fmt::format("invalid partition: block id {} is unused although ids go up to {}; ids must be 0..{}",
                    unused - used.begin(), num_blocks_ - 1, num_blocks_ - 1));
  }
}

std::size_t Partition::tensor_index(const std::string& name) const {
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    if (tensors_[i].tensor.name == name) return i;
  }
  throw std::runtime_error(
      fmt::format("tensor '{}' is not in the partition (made by '{}' for {} tensors); check the name or "
                  "re-run blockscope partition for this model",
                  name, strategy_, tensors_.size()));
}

std::vector<std::int64_t> Partition::block_sizes() const {
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(num_blocks_), 0);
  for (const TensorBlocks& t : tensors_) {
    std::int64_t ranges = t.num_ranges();
    for (std::int64_t k = 0; k < ranges; ++k) {
      BlockRange r = t.range(k);
      sizes[static_cast<std::size_t>(r.block)] += r.size();
    }
  }
  return sizes;
}

std::int64_t Partition::block_of(std::size_t tensor, std::int64_t element) const {
  if (tensor >= tensors_.size()) {
    throw std::out_of_range(
        fmt::format("tensor index {} is out of range (the partition has {})", tensor, tensors_.size()));
  }
  const TensorBlocks& t = tensors_[tensor];
  if (element < 0 || element >= t.tensor.numel()) {
    throw std::out_of_range(fmt::format("element {} is out of range for tensor '{}' of {} elements", element,
                                        t.tensor.name, t.tensor.numel()));
  }
  return t.range(t.range_of(element)).block;
}

void Partition::validate_against(const std::vector<TensorInfo>& model) const {
  constexpr const char* kPrefix = "partition was made for another model:";
  constexpr const char* kFix = "re-run blockscope partition for this model";
  std::map<std::string, const TensorInfo*> ours;
  for (const TensorBlocks& t : tensors_) ours[t.tensor.name] = &t.tensor;
  std::set<std::string> seen;
  for (const TensorInfo& m : model) {
    auto it = ours.find(m.name);
    if (it == ours.end()) {
      throw std::runtime_error(fmt::format("{} the model's tensor '{}' {} is not in the partition; {}", kPrefix, m.name,
                                           shape_string(m.shape), kFix));
    }
    if (it->second->shape != m.shape) {
      throw std::runtime_error(fmt::format("{} tensor '{}' has shape {} in the partition but {} in the model; {}",
                                           kPrefix, m.name, shape_string(it->second->shape), shape_string(m.shape),
                                           kFix));
    }
    seen.insert(m.name);
  }
  for (const TensorBlocks& t : tensors_) {
    if (!seen.count(t.tensor.name)) {
      throw std::runtime_error(
          fmt::format("{} tensor '{}' of the partition is not in the model; {}", kPrefix, t.tensor.name, kFix));
    }
  }
}

nlohmann::json Partition::summary() const {
  nlohmann::json tensors = nlohmann::json::array();
  for (const TensorBlocks& t : tensors_) {
    tensors.push_back({{"name", t.tensor.name},
                       {"shape", t.tensor.shape},
                       {"numel", t.tensor.numel()},
                       {"blocks", t.num_ranges()},
                       {"period", t.period}});
  }
  return {{"strategy", strategy_},
          {"settings", settings_},
          {"num_parameters", num_parameters_},
          {"v_scalars", num_blocks_},
          {"tensors", std::move(tensors)}};
}

bool Partition::operator==(const Partition& other) const {
  return strategy_ == other.strategy_ && settings_ == other.settings_ && tensors_ == other.tensors_;
}

}  // namespace blockscope::partition
