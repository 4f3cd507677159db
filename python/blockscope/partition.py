"""Partitions of a model's parameters into blocks that share one optimizer
statistic — the strategies `blockscope partition` offers:

    p = blockscope.partition.adam_mini(model, n_heads=4)
    p.num_blocks, p.block_sizes; p.save("adam_mini.h5")
    opt = blockscope.optim.AdamMini(model.named_parameters(), partition=p)

model: an nn.Module or its named_parameters(). gefen reads each parameter's
.grad (its first-step gradients): call loss.backward() once before.
hessian measures its statistic on the model and batches you pass:

    p = blockscope.partition.hessian(model, [(x, y)], probes=16, target_blocks=64)
"""
import _blockscope_core as _core

Partition = _core.Partition


def _named(model):
    items = list(model.named_parameters() if hasattr(model, "named_parameters") else model)
    if not items or not all(isinstance(item, tuple) and len(item) == 2 for item in items):
        raise TypeError("pass an nn.Module or its named_parameters() ((name, tensor) pairs)")
    return [name for name, _ in items], [tensor for _, tensor in items]


def make(strategy, model, *, n_heads=0, n_kv_heads=0, head_dim=0):
    """The partition `strategy` (a name from strategies(), or a partition file) builds for `model`."""
    names, tensors = _named(model)
    return _core.make_partition(strategy, names, tensors, n_heads, n_kv_heads, head_dim)


def load(path):
    """A partition file (blockscope.partition/1)."""
    return _core.load_partition(str(path))


def strategies():
    """{name: one-line description} of every strategy."""
    return dict(_core.strategies())


def _strategy(name):
    def build(model, **kwargs):
        return make(name, model, **kwargs)

    build.__name__ = name.replace("-", "_")
    build.__doc__ = f"The {name} partition of `model`: {dict(_core.strategies())[name]}"
    return build


for _name in strategies():
    globals()[_name.replace("-", "_")] = _strategy(_name)


def hessian(model, batches, loss_fn=None, *, statistic="curvature", probes=16, target_blocks=0, merge_threshold=None,
            seed=0, progress=True):
    """The Hessian-driven partition (`blockscope partition --strategy hessian`) of `model` over `batches`:
    neighbouring rows merge while their per-element statistic agrees — Hutchinson's diag(H) over `probes` HVPs
    (statistic="curvature") or E[g²] over the batches ("squared-gradient") — until `target_blocks` (0: no target)
    or while within `merge_threshold` in log level. model, batches and loss_fn as blockscope.hessian.spectrum
    takes them."""
    from . import hessian as _hessian  # imports this module: resolved at call time

    if statistic not in ("curvature", "squared-gradient"):
        raise ValueError(f"statistic must be 'curvature' or 'squared-gradient', got {statistic!r}")
    if not (isinstance(probes, int) and probes >= 1):
        raise ValueError(f"probes must be a positive integer, got {probes!r}")
    if not (isinstance(target_blocks, int) and target_blocks >= 0):
        raise ValueError(f"target_blocks must be a non-negative integer (0: no target), got {target_blocks!r}")
    if merge_threshold is not None and not merge_threshold >= 0:
        raise ValueError(f"merge_threshold must be >= 0 (or None for the default), got {merge_threshold!r}")
    archive, description, pairs = _hessian._archive(model, batches)
    _hessian._check_loss(loss_fn, pairs)
    return _core.hessian_partition(archive, description, pairs, statistic, probes, target_blocks,
                                   float("nan") if merge_threshold is None else float(merge_threshold), seed, progress)


__all__ = ["Partition", "make", "load", "strategies", "hessian"] + [n.replace("-", "_") for n in strategies()]
