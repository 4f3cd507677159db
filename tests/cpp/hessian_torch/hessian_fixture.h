// Small float64 models with their fixed batches and LossHessian, for the
// HVP validation tests. "tiny-gpt" is an attention model (GQA, 1 layer).
#pragma once

#include <memory>
#include <string>

#include "data/sources.h"
#include "hessian/hvp.h"
#include "models/model.h"

namespace blockscope::hessian::testing {

struct SmallProblem {
  std::unique_ptr<models::Model> model;
  std::unique_ptr<LossHessian> hessian;
};

// Token models get the Markov source (their vocab is below the text's 256).
inline SmallProblem make_problem(const std::string& spec, std::int64_t examples, std::int64_t batch_size,
                                 std::uint64_t seed = 0, bool reuse_graph = true) {
  SmallProblem p;
  p.model = models::load_model(spec, seed);
  p.model->to(at::kDouble);
  data::SourceOptions options{examples, 0, seed};
  const bool tokens = p.model->input_spec().kind == data::InputSpec::Kind::kTokens;
  data::Dataset d =
      data::to_dtype(data::load_dataset(tokens ? "markov" : "auto", p.model->input_spec(), options), at::kDouble);
  auto batches = data::make_batches(d, {batch_size, 0, false, 0});
  p.hessian = std::make_unique<LossHessian>(*p.model, batches, HvpSettings{reuse_graph, 8.0});
  return p;
}

// 1 layer, GQA (2 query heads, 1 kv head), 1 032 parameters.
inline const char* kTinyGpt = "gpt:n_layer=1,n_head=2,n_kv_head=1,head_dim=4,d_model=8,d_ff=16,vocab=24,context=6";
inline const char* kSmallMlp = "mlp:d_in=5,hidden=12,depth=2,classes=3";

}  // namespace blockscope::hessian::testing
