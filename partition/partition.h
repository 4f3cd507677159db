// The Partition: which parameters share one optimizer statistic (one v
// scalar). Every strategy (per-element, per-tensor, whole-model, Adam-mini,
// Gefen, Hessian-driven) produces this one type, and the optimizer kernels,
// the diagnostics and the result files consume it (docs/design.md).
//
// Contract. Each tensor of the model, flattened row-major (numel elements),
// is cut into contiguous ranges [begin, end); every range carries a GLOBAL
// block id in [0, num_blocks). Ids may be shared by ranges of one tensor or of
// several tensors (whole-model: every tensor's single range has id 0); the ids
// used are exactly 0..num_blocks-1, so num_blocks is the number of v scalars a
// shared-v optimizer keeps. Indices are global (unsharded) element indices.
//
// Ranges are stored either uniformly (a period P with numel % P == 0: no
// shorter last block, so every range of the tensor has P elements; a tensor
// whose length is not a multiple uses explicit boundaries) or as explicit
// boundaries 0 = b_0 < b_1 < ... < b_R = numel. Ids are either consecutive
// (first_block + k for range k) or an explicit list. The compact forms keep a
// per-element partition of a 7 B model at a few bytes per tensor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace blockscope::partition {

// One named parameter tensor of a model; shape is row-major ([out, in] for a
// linear weight), empty for a scalar.
struct TensorInfo {
  std::string name;
  std::vector<std::int64_t> shape;

  std::int64_t numel() const;
  bool operator==(const TensorInfo& other) const;
};

// "[64, 64]"; "[]" for a scalar.
std::string shape_string(const std::vector<std::int64_t>& shape);

// Flattened element indices [begin, end) of one tensor sharing global block `block`.
struct BlockRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t block = 0;
  std::int64_t size() const { return end - begin; }
};

// The ranges of one tensor and their global block ids (see the file comment).
struct TensorBlocks {
  TensorInfo tensor;
  std::int64_t period = 0;               // > 0: uniform ranges of `period` elements
  std::vector<std::int64_t> boundaries;  // period == 0: R + 1 explicit boundaries
  std::int64_t first_block = 0;          // block_ids empty: range k has id first_block + k
  std::vector<std::int64_t> block_ids;   // else: [R] explicit ids

  // Uniform ranges of `period` elements (an empty tensor gets no ranges), and
  // explicit boundaries [R + 1] from 0 to numel; ids consecutive from 0 (see
  // number_consecutively).
  static TensorBlocks uniform(TensorInfo tensor, std::int64_t period);
  static TensorBlocks explicit_ranges(TensorInfo tensor, std::vector<std::int64_t> boundaries);

  std::int64_t num_ranges() const;
  // Range k in [0, num_ranges()); unchecked.
  BlockRange range(std::int64_t k) const;
  // Index of the range holding flattened element e in [0, numel); unchecked.
  std::int64_t range_of(std::int64_t element) const;
  bool operator==(const TensorBlocks& other) const;
};

class Partition {
 public:
  // Validates the contract above and throws std::runtime_error with one line
  // naming the offending tensor. `settings` is a flat JSON object (null = {})
  // whose values are strings, integers, floats, booleans or arrays of strings
  // (each is stored as an attribute, or a string dataset, in the partition file).
  Partition(std::string strategy, nlohmann::json settings, std::vector<TensorBlocks> tensors);

  const std::string& strategy() const { return strategy_; }
  const nlohmann::json& settings() const { return settings_; }
  const std::vector<TensorBlocks>& tensors() const { return tensors_; }
  std::size_t num_tensors() const { return tensors_.size(); }
  // Index of the tensor called `name`; throws naming it when absent.
  std::size_t tensor_index(const std::string& name) const;
  std::int64_t num_parameters() const { return num_parameters_; }
  // Distinct global blocks = the number of v scalars a shared-v optimizer keeps.
  std::int64_t num_blocks() const { return num_blocks_; }
  // [num_blocks]: elements in each global block (summed over all its ranges).
  std::vector<std::int64_t> block_sizes() const;
  // Global block of flattened element `element` of tensor `tensor`; throws
  // std::out_of_range outside [0, num_tensors) x [0, numel).
  std::int64_t block_of(std::size_t tensor, std::int64_t element) const;

  // Throws, naming the first tensor that differs, unless `model` has exactly
  // the partition's tensor names (any order) with the same shapes.
  void validate_against(const std::vector<TensorInfo>& model) const;

  // {"strategy", "settings", "num_parameters", "v_scalars", "tensors": [{"name",
  // "shape", "numel", "blocks" (ranges), "period" (0 = explicit)}]}.
  nlohmann::json summary() const;

  // HDF5, schema "blockscope.partition/1", written atomically (io/h5_file.h).
  void save(const std::filesystem::path& path) const;
  // Throws a one-line message for a missing file, another schema or
  // inconsistent content.
  static Partition load(const std::filesystem::path& path);

  // Same strategy, settings and representation (period vs explicit) of every tensor.
  bool operator==(const Partition& other) const;

 private:
  std::string strategy_;
  nlohmann::json settings_;
  std::vector<TensorBlocks> tensors_;
  std::int64_t num_parameters_ = 0;
  std::int64_t num_blocks_ = 0;
};

// One range of a block placed in a flat vector of all parameters: tensor
// `tensor` of the layout, its elements [begin, end), which sit at
// [offset + begin, offset + end) of the flat vector.
struct PlacedRange {
  std::size_t tensor = 0;
  std::int64_t begin = 0, end = 0;
  std::int64_t offset = 0;
  std::int64_t global_begin() const { return offset + begin; }
  std::int64_t global_end() const { return offset + end; }
};

// The ranges of every block of `partition` (result[b], ascending) over the
// tensors laid out flat in the order of `layout` (the order of a Hessian's or
// a gradient dump's parameters). The one bridge from a partition to
// flat-vector blocks. Throws like validate_against unless `layout` holds
// exactly the partition's tensors.
std::vector<std::vector<PlacedRange>> place_blocks(const Partition& partition, const std::vector<TensorInfo>& layout);

// Sets first_block of each tensor (whose block_ids must be empty) to the number
// of ranges before it: consecutive ids in the given order.
void number_consecutively(std::vector<TensorBlocks>& tensors);

inline constexpr const char* kPartitionSchema = "blockscope.partition/1";

}  // namespace blockscope::partition
