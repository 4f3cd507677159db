// Exact optimizer checkpoints: HDF5, schema blockscope.checkpoint/1, written
// atomically (io/h5_file.h). Holds everything a resumed run needs for a
// bitwise-identical trajectory: the optimizer spec and non-finite policy,
// every param group's hyperparameters, the partition, the parameters, every
// state tensor, per-tensor step counts, the Gefen codebook and the skip count.
// Layout:
//   attrs  schema, optimizer_spec, non_finite_policy, skipped_tensor_steps,
//          num_groups, group<k>_{lr,beta1,beta2,eps,weight_decay}
//   /partition            attrs strategy, settings (JSON); /partition/<k>: attrs
//                         name, period, first_block; datasets shape, boundaries,
//                         block_ids (the last two when non-empty)
//   /params/<name>        fp32, the parameter's shape
//   /state/<name>/{m,m_scale,v,v_scale,rho}  1-D, dtypes as in block_optimizer.h
//                         (fp16/bf16 bits as int16); attr step
//   /state/shared_v [num_blocks], /state/codebook [256] when present
//   /<caller's groups>    e.g. /training, via write_extra
// Loading checks the file against the optimizer first — another model
// (parameter names/shapes), another partition, another spec or other
// betas/eps/weight decay each give a one-line error naming the difference —
// and changes nothing unless all of it matches. Not stored: model buffers
// (BatchNorm running statistics; training-mode forward passes do not read them).
#pragma once

#include <H5Cpp.h>

#include <filesystem>
#include <functional>

#include "optimizers/block_optimizer.h"

namespace blockscope::optimizers {

inline constexpr const char* kCheckpointSchema = "blockscope.checkpoint/1";

void save_checkpoint(const std::filesystem::path& path, const BlockOptimizer& optimizer,
                     const std::function<void(H5::H5File&)>& write_extra = {});

// Restores parameters (and group learning rates) and optimizer state.
// check_extra runs after the optimizer checks and before anything changes.
void load_checkpoint(const std::filesystem::path& path, BlockOptimizer& optimizer,
                     const std::function<void(H5::H5File&)>& check_extra = {});

}  // namespace blockscope::optimizers
