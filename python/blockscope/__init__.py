"""blockscope from Python, over the same C++ core as the CLI:

    import blockscope
    opt = blockscope.optim.Gefen(model.named_parameters(), lr=1e-3)
    ...; loss.backward(); opt.step(); opt.zero_grad()

- blockscope.optim: AdamW, AdamMini, Gefen, FlashAdamW, SGD, Lion, FlashSGD, FlashLion, BlockOptimizer —
  torch.optim optimizers running the C++ kernels in place;
- blockscope.hessian: spectrum, dense, coupling of an nn.Module;
- blockscope.partition: every partition strategy, partition files;
- blockscope.load(path): any blockscope result file.

Built and put on /usr/bin/python3's path by `bash scripts/build`.
"""
try:
    import torch  # noqa: F401  (loads libtorch before the extension that links it)
    import _blockscope_core as _core  # noqa: F401
except ImportError as error:  # pragma: no cover - a set-up problem, said plainly
    raise ImportError(
        f"blockscope's C++ extension could not be loaded ({error}); build it with `bash scripts/build` "
        "and use Debian's /usr/bin/python3, whose torch the extension was built against") from error

from . import hessian, optim, partition  # noqa: E402,F401
from .results import Result, load  # noqa: E402,F401

__all__ = ["hessian", "optim", "partition", "load", "Result"]
