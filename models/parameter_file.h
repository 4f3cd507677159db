// A model's trained state as a file: schema blockscope.params/1, written by
// `train --save-params`, read by every analysis command's --params.
// Layout:
//   attrs  schema, model (description), parameters (count)
//   /<qualified name>     one dataset per parameter, in its own dtype
//   /buffers/<name>       the model's buffers (BatchNorm running statistics,
//                         batch counters, masks), in their own dtype
// Datasets are written by io/h5_tensor.h (attribute `dtype`).
// The reader also takes a checkpoint (blockscope.checkpoint/1), whose
// /params and /buffers groups have the same shape.
#pragma once

#include <filesystem>

#include "models/model.h"

namespace blockscope::models {

inline constexpr const char* kParamsSchema = "blockscope.params/1";

// Writes the model's parameters and buffers (atomically).
void write_parameter_file(const std::filesystem::path& path, const Model& model);

// Copies the parameters (and buffers) stored in `path` into the model. The
// file must hold exactly the model's parameters with their shapes (names as
// Model::parameters() lists them) and, when the model has buffers, each of
// them with its shape and dtype; anything else is a one-line
// std::runtime_error naming the difference, and the model is unchanged.
void load_parameter_file(const std::filesystem::path& path, Model& model);

}  // namespace blockscope::models
