// Data sources, chosen by a spec string:
//   auto     — the source matching the model: mixture (feature models),
//              images (image models), text (token models)
//   mixture  — Gaussian class mixture on feature vectors
//   images   — class templates (blocky low-frequency patterns) plus noise
//   markov   — token sequences from a random first-order Markov source
//   text     — the real text corpus (Debian's license texts), byte tokens
//   FILE.h5  — a user's HDF5 file with datasets `inputs` and `targets`
// Synthetic sources are deterministic functions of (spec, model input, seed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/input_spec.h"

namespace blockscope::data {

struct SourceOptions {
  std::int64_t examples = 512;       // synthetic sources; text is capped by the corpus
  std::int64_t sequence_length = 0;  // token sources; 0 = the model's context
  std::uint64_t seed = 0;
};

struct SourceDoc {
  std::string name;
  std::string summary;
};
const std::vector<SourceDoc>& source_docs();

// True when a --data spec names a user file (ends in .h5/.hdf5 or has a '/')
// rather than a built-in source.
bool is_file_source(const std::string& spec);

// The held-out fraction a training run uses unless told: 0.1 for the text
// corpus and a user's file (a fixed set of examples), 0 for synthetic
// sources (which draw as many examples as asked; ask for a split to get one).
double default_held_out_fraction(const std::string& spec, const InputSpec& input);

// Throws a one-line std::runtime_error for an unknown name, a source that
// does not fit the model, or a bad HDF5 file.
Dataset load_dataset(const std::string& spec, const InputSpec& input, const SourceOptions& options);

// Checks that a dataset fits a model's declared inputs: per-example shape,
// token ids and class ids in range. No-op parts for kUnknown (TorchScript).
void check_dataset_fits(const Dataset& dataset, const InputSpec& input);

}  // namespace blockscope::data
