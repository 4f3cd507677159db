// Matrix-free symmetric operators: the one concept every Hessian routine
// (Lanczos, SLQ, top-k, dense, coupling) consumes.
//
// Shaped like Spectra's DenseSymMatProd (docs/style.md 4): `Scalar`, rows(),
// cols(), perform_op(const double* x, double* y) const, so an operator can be
// handed to a Spectra solver by reference. perform_op is non-virtual: it
// counts the application (thread-safe) and calls the protected virtual
// apply(), so every caller — our routines and Spectra's — is counted the same
// way. Implementations (dense matrix, HVP, adapters) override rows() and
// apply(). Vectors are float64, contiguous, length rows(); x and y never alias.
//
// Adapters here: DenseOperator (an explicit matrix; tests and small blocks),
// ShiftedOperator (A − σI), RestrictedOperator (H_bb of a full operator for a
// block given as global index ranges). Adapters hold a reference to the
// operator they wrap: it must outlive them.
#pragma once

#include <Eigen/Core>

#include <atomic>
#include <cstdint>
#include <vector>

namespace blockscope::hessian {

// Half-open global index range [begin, end) of a flattened parameter vector.
struct IndexRange {
  Eigen::Index begin = 0;
  Eigen::Index end = 0;
  Eigen::Index size() const { return end - begin; }
};

// One block: the union of disjoint index ranges (a block may span tensors).
using BlockRanges = std::vector<IndexRange>;

class SymmetricOperator {
 public:
  using Scalar = double;

  virtual ~SymmetricOperator() = default;
  SymmetricOperator(const SymmetricOperator&) = delete;
  SymmetricOperator& operator=(const SymmetricOperator&) = delete;

  virtual Eigen::Index rows() const = 0;
  Eigen::Index cols() const { return rows(); }

  // y = A x. x, y: rows() float64 values each, not aliasing. Counted.
  void perform_op(const double* x, double* y) const {
    num_operations_.fetch_add(1, std::memory_order_relaxed);
    apply(x, y);
  }

  // Applications since construction or the last reset (all threads).
  std::int64_t num_operations() const { return num_operations_.load(std::memory_order_relaxed); }
  void reset_num_operations() { num_operations_.store(0, std::memory_order_relaxed); }

 protected:
  SymmetricOperator() = default;
  // The product itself; called only through perform_op.
  virtual void apply(const double* x, double* y) const = 0;

 private:
  mutable std::atomic<std::int64_t> num_operations_{0};
};

// A = an explicit square matrix [n, n] (float64), applied as given: symmetry
// is the caller's (dense_matrix() measures and removes any asymmetry).
class DenseOperator final : public SymmetricOperator {
 public:
  explicit DenseOperator(Eigen::MatrixXd matrix);
  Eigen::Index rows() const override { return matrix_.rows(); }
  const Eigen::MatrixXd& matrix() const { return matrix_; }

 protected:
  void apply(const double* x, double* y) const override;

 private:
  Eigen::MatrixXd matrix_;
};

// A − σI over a wrapped operator of the same size.
class ShiftedOperator final : public SymmetricOperator {
 public:
  ShiftedOperator(const SymmetricOperator& base, double shift);
  Eigen::Index rows() const override { return base_.rows(); }
  double shift() const { return shift_; }

 protected:
  void apply(const double* x, double* y) const override;

 private:
  const SymmetricOperator& base_;
  double shift_;
};

// H_bb: the full operator restricted to one block. Block-local index i maps to
// the i-th global index of the ranges taken in the order given. Each
// application zero-pads x to the full size, applies the full operator once and
// gathers the block's entries (one full application per block application).
class RestrictedOperator final : public SymmetricOperator {
 public:
  RestrictedOperator(const SymmetricOperator& full, BlockRanges ranges);
  Eigen::Index rows() const override { return size_; }
  const BlockRanges& ranges() const { return ranges_; }

 protected:
  void apply(const double* x, double* y) const override;

 private:
  const SymmetricOperator& full_;
  BlockRanges ranges_;
  Eigen::Index size_ = 0;
};

// Checks that `ranges` are non-empty, inside [0, n) and pairwise disjoint;
// throws std::runtime_error naming the offending range otherwise. Returns
// the total number of indices.
Eigen::Index validate_ranges(const BlockRanges& ranges, Eigen::Index n);

}  // namespace blockscope::hessian
