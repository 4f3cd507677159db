// A user's data as HDF5: datasets `inputs` and `targets`, first axis =
// examples. Integer targets are class ids (cross-entropy, per position when
// they are [N, T]); float targets are regression outputs (MSE). Float data
// is read as float32, integers as int64.
#pragma once

#include <filesystem>

#include "data/dataset.h"

namespace blockscope::data {

// Throws a one-line error for a missing/corrupt file, a missing dataset,
// mismatched first dimensions, unsupported types, or non-finite values.
Dataset read_h5_dataset(const std::filesystem::path& path);

}  // namespace blockscope::data
