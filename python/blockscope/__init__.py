"""blockscope from Python: the partition-driven optimizer kernels (AdamW,
Adam-mini, Gefen, FlashOptim-style AdamW) as torch.optim optimizers, and
readers of blockscope's HDF5 result files.

    import blockscope
    opt = blockscope.optim.Gefen(model.named_parameters(), lr=1e-3)
    ...; loss.backward(); opt.step(); opt.zero_grad()

Built and put on /usr/bin/python3's path by `bash scripts/build`.
"""
try:
    import torch  # noqa: F401  (loads libtorch before the extension that links it)
    import _blockscope_core as _core  # noqa: F401
except ImportError as error:  # pragma: no cover - a set-up problem, said plainly
    raise ImportError(
        f"blockscope's C++ extension could not be loaded ({error}); build it with `bash scripts/build` "
        "and use Debian's /usr/bin/python3, whose torch the extension was built against") from error

from . import optim  # noqa: E402,F401

__all__ = ["optim"]
