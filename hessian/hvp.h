// Hessian-vector products of the MEAN loss over a fixed list of batches
// (docs/algorithms.md §1), and block operators over them.
//
//   L(θ) = Σ_b (n_b / N) · L_b(θ),  L_b = mean loss of batch b (per position
//   for sequences), n_b = examples in batch b, N = Σ n_b.
//   Hv = ∂(gᵀv)/∂θ with g = ∂L/∂θ built with create_graph (double backward).
//
// The model is put in eval mode (dropout off, BatchNorm running statistics).
// The first-order graph of every batch is built once and reused by every
// product (retain_graph) unless its memory, measured on the first batch and
// extrapolated, exceeds the limit; then each product rebuilds it (slower,
// bounded memory). This is the one place where an HVP is reduced over
// batches (a distributed version will all-reduce here).
//
// Products are restricted: v lives on a set of input tensors (zero
// elsewhere) and only the output tensors' part of Hv is computed, which
// prunes the second backward. Concurrent product() calls from several
// threads are safe (autograd allows concurrent backward over a retained
// graph). Non-finite losses or products throw std::runtime_error.
#pragma once

#include <ATen/ATen.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "hessian/operator.h"
#include "models/model.h"

namespace blockscope::hessian {

// Where each parameter tensor sits in the flattened (row-major) parameter
// vector θ of length total().
struct ParameterLayout {
  std::vector<std::string> names;
  std::vector<std::vector<std::int64_t>> shapes;
  std::vector<std::int64_t> offsets;  // [P + 1]; tensor t is [offsets[t], offsets[t+1])
  std::int64_t total() const { return offsets.empty() ? 0 : offsets.back(); }
  std::int64_t numel(std::size_t t) const { return offsets[t + 1] - offsets[t]; }
  // A flat vector of total() values cut into one vector per tensor.
  std::vector<std::vector<double>> per_tensor(const double* flat) const;
};

struct HvpSettings {
  bool reuse_graph = true;              // keep first-order graphs across products
  double graph_memory_limit_gib = 8.0;  // fall back to rebuilding above this
};

class LossHessian {
 public:
  // Throws if there are no batches, no trainable parameters, or the loss is
  // not finite at the current parameters.
  LossHessian(models::Model& model, std::vector<data::Batch> batches, const HvpSettings& settings);

  const ParameterLayout& layout() const { return layout_; }
  double loss() const { return loss_; }
  std::int64_t num_examples() const { return num_examples_; }
  std::size_t num_batches() const { return batches_.size(); }
  bool graph_reused() const { return reuse_; }
  at::ScalarType dtype() const { return dtype_; }
  // Products computed so far (all threads); one product = one HVP.
  std::int64_t num_products() const { return num_products_.load(); }

  // (Hv)_t for t in `outputs`, where v = Σ_i inputs[i].second placed on
  // tensor inputs[i].first (each shaped like that parameter).
  std::vector<at::Tensor> product(const std::vector<std::pair<int, at::Tensor>>& inputs,
                                  const std::vector<int>& outputs) const;

  // ∂L/∂θ per tensor (no graph).
  std::vector<at::Tensor> gradient() const;
  // Σ_b (n_b/N) (∂L_b/∂θ)² per tensor: the minibatch estimate of E[g²] that
  // Adam-style second moments track.
  std::vector<at::Tensor> squared_gradient() const;

 private:
  // ∂L_b/∂θ per tensor, zeros where unused (no graph).
  std::vector<at::Tensor> batch_gradient(std::size_t batch) const;
  // g_b = ∂L_b/∂θ_t for t in wrt, with its graph; *loss_value = L_b if given.
  std::vector<at::Tensor> first_order(std::size_t batch, const std::vector<int>& wrt, double* loss_value) const;

  models::Model& model_;
  std::vector<data::Batch> batches_;
  std::vector<double> batch_weights_;  // n_b / N
  std::vector<at::Tensor> params_;
  ParameterLayout layout_;
  bool reuse_ = true;
  std::vector<std::vector<at::Tensor>> graphs_;  // [batch][tensor] g_b with graph
  double loss_ = 0.0;
  std::int64_t num_examples_ = 0;
  at::ScalarType dtype_ = at::kFloat;
  mutable std::atomic<std::int64_t> num_products_{0};
};

// H restricted to one block: the block's global index ranges (ascending,
// disjoint) mapped onto the tensors they touch. Block-local index i is the
// i-th global index of the ranges in order. A block covering all of θ is the
// full Hessian (dense mode, coupling).
class BlockHessian final : public SymmetricOperator {
 public:
  BlockHessian(const LossHessian& hessian, BlockRanges ranges, std::string name);
  Eigen::Index rows() const override { return size_; }
  const std::string& name() const { return name_; }

 protected:
  void apply(const double* x, double* y) const override;

 private:
  struct Piece {
    int tensor;
    std::int64_t local_begin;  // within the flattened tensor
    std::int64_t length;
    std::int64_t block_offset;  // position in the block vector
  };
  const LossHessian& hessian_;
  std::vector<Piece> pieces_;
  std::vector<int> tensors_;  // distinct tensors touched, ascending
  Eigen::Index size_ = 0;
  std::string name_;
};

}  // namespace blockscope::hessian
