#include "data/sources.h"

#include <fmt/format.h>

#include <filesystem>

#include "data/h5_dataset.h"
#include "data/synthetic.h"
#include "data/text_corpus.h"

namespace blockscope::data {
namespace {

using Kind = InputSpec::Kind;

std::string shape_string(at::IntArrayRef shape) {
  std::string s;
  for (std::int64_t d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

void require(bool ok, const std::string& source, const std::string& what) {
  if (!ok) {
    throw std::runtime_error(
        fmt::format("data source '{}' does not fit this model: it needs {} (pick another data source; `blockscope "
                    "models` lists them)",
                    source, what));
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::int64_t sequence_length(const InputSpec& input, const SourceOptions& options) {
  return options.sequence_length > 0 ? options.sequence_length : input.example_shape.at(0);
}

// The built-in source `spec` names for this model ("auto" resolved).
std::string resolved_name(const std::string& spec, const InputSpec& input) {
  if (spec != "auto") return spec;
  switch (input.kind) {
    case Kind::kFeatures:
      return "mixture";
    case Kind::kImage:
      return "images";
    case Kind::kTokens:
      return "text";
    case Kind::kUnknown:
      break;
  }
  throw std::runtime_error(
      "a TorchScript model declares no input shape: give an HDF5 data file with 'inputs' and 'targets'");
}

}  // namespace

bool is_file_source(const std::string& spec) {
  return ends_with(spec, ".h5") || ends_with(spec, ".hdf5") || spec.find('/') != std::string::npos;
}

double default_held_out_fraction(const std::string& spec, const InputSpec& input) {
  if (is_file_source(spec)) return 0.1;
  const std::string name = resolved_name(spec, input);
  const bool synthetic = name == "mixture" || name == "images" || name == "markov";
  return synthetic ? 0.0 : 0.1;
}

const std::vector<SourceDoc>& source_docs() {
  static const std::vector<SourceDoc> docs = {
      {"auto", "the source matching the model: mixture, images or text"},
      {"mixture", "Gaussian class mixture on feature vectors (mlp)"},
      {"images", "class templates plus noise on C×H×W images (cnn, resnet, vit)"},
      {"markov", "token sequences from a random Markov source (gpt)"},
      {"text", "Debian's license texts (/usr/share/common-licenses), byte tokens (gpt)"},
      {"FILE.h5", "your data: datasets 'inputs' and 'targets', first axis = examples"}};
  return docs;
}

Dataset load_dataset(const std::string& spec, const InputSpec& input, const SourceOptions& options) {
  if (options.examples <= 0) {
    throw std::runtime_error(fmt::format("the number of examples must be positive (got {})", options.examples));
  }
  if (is_file_source(spec)) return read_h5_dataset(spec);

  const std::string name = resolved_name(spec, input);
  const auto& shape = input.example_shape;
  if (name == "mixture") {
    require(input.kind == Kind::kFeatures, name, "a feature-vector model such as mlp");
    return gaussian_mixture(options.examples, shape[0], input.num_classes, options.seed);
  }
  if (name == "images") {
    require(input.kind == Kind::kImage, name, "an image model such as cnn, resnet or vit");
    return template_images(options.examples, shape[0], shape[1], shape[2], input.num_classes, options.seed);
  }
  if (name == "markov") {
    require(input.kind == Kind::kTokens, name, "a token model such as gpt");
    return markov_tokens(options.examples, sequence_length(input, options), input.vocab, options.seed);
  }
  if (name == "text") {
    require(input.kind == Kind::kTokens && input.vocab >= 256, name, "a token model with vocab ≥ 256 (byte tokens)");
    return text_windows(options.examples, sequence_length(input, options), options.seed);
  }
  // A path without a .h5 suffix or a '/': read it as the user's file, whose checks say what is wrong with it.
  if (std::filesystem::exists(spec)) return read_h5_dataset(spec);
  std::string valid;
  for (const SourceDoc& d : source_docs()) valid += (valid.empty() ? "" : ", ") + d.name;
  throw std::runtime_error(fmt::format("unknown data source '{}' (valid: {})", spec, valid));
}

void check_dataset_fits(const Dataset& d, const InputSpec& input) {
  if (input.kind == Kind::kUnknown) return;
  const std::string where = d.description;
  at::IntArrayRef example = d.inputs.sizes().slice(1);
  if (input.kind == Kind::kTokens) {
    if (d.inputs.dim() != 2 || at::isFloatingType(d.inputs.scalar_type()) || example[0] > input.example_shape[0]) {
      throw std::runtime_error(
          fmt::format("{}: inputs of shape {} do not fit a token model (need integer [N, T] with T ≤ {})", where,
                      shape_string(d.inputs.sizes()), input.example_shape[0]));
    }
    if (d.inputs.min().item<std::int64_t>() < 0 || d.inputs.max().item<std::int64_t>() >= input.vocab) {
      throw std::runtime_error(
          fmt::format("{}: token ids must lie in [0, {}) for this model's vocab", where, input.vocab));
    }
  } else if (example.vec() != input.example_shape || !at::isFloatingType(d.inputs.scalar_type())) {
    throw std::runtime_error(
        fmt::format("{}: inputs of shape {} (per example {}) do not fit the model, which takes float {}", where,
                    shape_string(d.inputs.sizes()), shape_string(example), shape_string(input.example_shape)));
  }
  if (!at::isFloatingType(d.targets.scalar_type())) {
    if (d.targets.min().item<std::int64_t>() < 0 || d.targets.max().item<std::int64_t>() >= input.num_classes) {
      throw std::runtime_error(
          fmt::format("{}: class ids in 'targets' must lie in [0, {}) for this model", where, input.num_classes));
    }
  }
}

}  // namespace blockscope::data
