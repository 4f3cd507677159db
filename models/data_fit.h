// Does a dataset fit a model? Checked once, before any work, by every
// command that puts data through a model, so that a mismatch is one line
// naming the data, the dataset, what was found and what the model expects —
// never an error from deep inside LibTorch or a TorchScript traceback
// halfway through a run.
#pragma once

#include "data/dataset.h"
#include "models/model.h"

namespace blockscope::models {

// Checks, in order: the model's declared input shape, token range and class
// range (zoo models; data::check_dataset_fits); one forward pass in eval mode,
// without gradients, on the first example and on the example holding the
// largest input value (so token ids beyond an embedding table surface for
// TorchScript models too); that the loss of those outputs against the targets
// can be formed (shapes, integer vs float targets); and that every integer
// target lies in [0, classes) for the model's number of outputs. Throws a
// one-line std::runtime_error otherwise. Leaves the model in eval mode.
void check_data_fits(Model& model, const data::Dataset& dataset);

}  // namespace blockscope::models
