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
//   /buffers/<name>       the model's buffers (BatchNorm running statistics
//                         and batch counters), in their own dtype
//   /<caller's groups>    e.g. /training, via write_extra
// Loading checks the file against the optimizer and the buffers first —
// another model (parameter or buffer names/shapes/dtypes), another
// partition, another spec or other betas/eps/weight decay each give a
// one-line error naming the difference — and changes nothing unless all of
// it matches.
#pragma once

#include <H5Cpp.h>

#include <filesystem>
#include <functional>

#include "io/h5_file.h"
#include "optimizers/block_optimizer.h"

namespace blockscope::optimizers {

inline constexpr const char* kCheckpointSchema = "blockscope.checkpoint/1";

// buffers: the model's non-trainable state (Model::named_buffers()).
void save_checkpoint(const std::filesystem::path& path, const BlockOptimizer& optimizer,
                     const std::vector<NamedTensor>& buffers = {},
                     const std::function<void(io::AtomicH5Writer&)>& write_extra = {});

// Restores parameters (and group learning rates), optimizer state and the
// buffers (copied into the given tensors; the file must hold exactly these).
// check_extra runs first, after the schema check (the caller's settings,
// such as the data a run trained on, explain most mismatches), and before
// anything changes.
void load_checkpoint(const std::filesystem::path& path, BlockOptimizer& optimizer,
                     const std::vector<NamedTensor>& buffers = {},
                     const std::function<void(H5::H5File&)>& check_extra = {});

// The partition a checkpoint was written with (to build a matching
// optimizer before load_checkpoint). Throws for another schema.
partition::Partition read_checkpoint_partition(const std::filesystem::path& path);

}  // namespace blockscope::optimizers
