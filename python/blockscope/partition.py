"""Partitions of a model's parameters into blocks that share one optimizer
statistic — the strategies `blockscope partition` offers:

    p = blockscope.partition.adam_mini(model, n_heads=4)
    p.num_blocks, p.block_sizes; p.save("adam_mini.h5")
    opt = blockscope.optim.AdamMini(model.named_parameters(), partition=p)

model: an nn.Module or its named_parameters(). gefen reads each parameter's
.grad (its first-step gradients): call loss.backward() once before.
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

__all__ = ["Partition", "make", "load", "strategies"] + [n.replace("-", "_") for n in strategies()]
