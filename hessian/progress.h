// Progress hook shared by the long-running Hessian routines (SLQ, coupling):
// called after each unit of work with (done, total); may be empty. Called on
// the thread running the routine.
#pragma once

#include <functional>

namespace blockscope::hessian {

using ProgressCallback = std::function<void(int done, int total)>;

}  // namespace blockscope::hessian
