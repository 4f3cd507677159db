"""torch.optim optimizers whose step() runs blockscope's C++ kernels in place
on the caller's tensors (optimizers/block_optimizer.h is the contract).

    BlockOptimizer(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   spec="adamw", partition=None, n_heads=0, n_kv_heads=0, head_dim=0,
                   non_finite="skip")

params: model.named_parameters() (names drive the name-based partitions and
the weight-decay exclusions), an iterable of tensors (named param.0, ...),
or param groups (dicts with "params" of either kind plus per-group lr, betas,
eps, weight_decay). spec: a preset (adamw, adam-mini, gefen, flash-adamw, sgd,
lion, flash-sgd, flash-lion) or a spec string such as "v=shared,m=codebook,w=fp32".
Rule sgd reads betas[0] as its momentum and adds weight_decay·p to the
gradient (torch.optim.SGD); rule lion decays p by lr·weight_decay (decoupled);
neither reads eps. The SGD and Lion classes below take torch's and the Lion
paper's argument names. partition: a strategy
(per-element, per-tensor, whole-model, adam-mini, gefen), a partition file or
a blockscope.partition.Partition;
default: the spec's own (adam-mini for shared v, gefen for codebook m).
The C++ optimizer is built here — bf16+int8 weight specs round the
parameters at once, as `blockscope train` does — except for the gefen
partition, which is built at the first step() from its gradients. A learning-rate scheduler
works as usual: each step passes every group's current lr. Changing betas,
eps or weight_decay after the first step is refused.

State: state_dict() holds the param groups and, once the kernels exist, the
whole kernel state as a blockscope.checkpoint/1 file's bytes
("blockscope_checkpoint"); load_state_dict() restores it — parameters
included, as a blockscope checkpoint is exact (bf16+int8 weight specs keep
part of each weight in the state). save_checkpoint(path) / load_checkpoint(path)
read and write the very files `blockscope train --checkpoint` writes, so a run
moves between the CLI and Python: pass model.named_buffers() as `buffers` for
a model with buffers (BatchNorm statistics), as the CLI stores them.
"""
import os
import tempfile
import warnings

import torch

import _blockscope_core as _core

_FIXED = ("betas", "eps", "weight_decay")


def _named_groups(params):
    """Param groups with a "names" list beside "params"."""
    params = list(params)
    if not params:
        raise ValueError("the optimizer got an empty parameter list")
    groups = params if isinstance(params[0], dict) else [{"params": params}]
    counter = 0
    out = []
    for group in groups:
        group = dict(group)
        items = list(group["params"])
        names = []
        tensors = []
        for item in items:
            if isinstance(item, tuple):
                name, tensor = item
            else:
                name, tensor = f"param.{counter}", item
            counter += 1
            names.append(name)
            tensors.append(tensor)
        group["params"], group["names"] = tensors, names
        out.append(group)
    return out


def _buffer_lists(buffers):
    items = list(buffers)
    return [name for name, _ in items], [tensor for _, tensor in items]


class BlockOptimizer(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, spec="adamw",
                 partition=None, n_heads=0, n_kv_heads=0, head_dim=0, non_finite="skip"):
        if not lr >= 0.0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(_named_groups(params), defaults)
        self._settings = dict(spec=spec, partition=partition if partition is not None else "", n_heads=n_heads,
                              n_kv_heads=n_kv_heads, head_dim=head_dim, non_finite=non_finite)
        self._core = None
        self._fixed = None
        if not isinstance(partition, (str, type(None))) or (partition or _core.default_partition(spec)) != "gefen":
            self._core, self._fixed = self._build(), self._fixed_settings()

    def _fixed_settings(self):
        return [tuple(g[key] for key in _FIXED) for g in self.param_groups]

    def _build(self):
        names, tensors, group_of, options = [], [], [], []
        for k, group in enumerate(self.param_groups):
            b1, b2 = group["betas"]
            options.append(_core.GroupOptions(group["lr"], b1, b2, group["eps"], group["weight_decay"]))
            for name, tensor in zip(group["names"], group["params"]):
                names.append(name)
                tensors.append(tensor)
                group_of.append(k)
        core = _core.Optimizer(names, tensors, group_of, options, **self._settings)
        for line in core.warnings:
            warnings.warn(line)
        return core

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        fixed = self._fixed_settings()
        if self._core is None:
            self._core, self._fixed = self._build(), fixed
        elif fixed != self._fixed:
            raise ValueError("betas, eps and weight_decay are fixed once the first step has run (only lr may change)")
        self._core.step([g["lr"] for g in self.param_groups])
        return loss

    def save_checkpoint(self, path, buffers=()):
        """Writes a blockscope.checkpoint/1 file (what `blockscope train --checkpoint` writes)."""
        self._require_core("save_checkpoint")
        names, tensors = _buffer_lists(buffers)
        self._core.save_checkpoint(os.fspath(path), names, tensors)

    def load_checkpoint(self, path, buffers=()):
        """Restores state, parameters, learning rates (and buffers) from a blockscope checkpoint, after
        checking it matches this optimizer; nothing changes otherwise."""
        path = os.fspath(path)
        if self._core is None:  # gefen before its first step: build on the checkpoint's partition
            self._settings["partition"] = _core.checkpoint_partition(path)
            self._core, self._fixed = self._build(), self._fixed_settings()
        names, tensors = _buffer_lists(buffers)
        self._core.load_checkpoint(path, names, tensors)
        for group, lr in zip(self.param_groups, self._core.learning_rates()):
            group["lr"] = lr

    def state_dict(self):
        state = super().state_dict()
        if self._core is not None:
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "state.h5")
                self._core.save_checkpoint(path, [], [])
                with open(path, "rb") as f:
                    state["blockscope_checkpoint"] = f.read()
        return state

    def load_state_dict(self, state_dict):
        checkpoint = state_dict.get("blockscope_checkpoint")
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "blockscope_checkpoint"})
        if checkpoint is None:
            return
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "state.h5")
            with open(path, "wb") as f:
                f.write(checkpoint)
            self.load_checkpoint(path)

    def _require_core(self, what):
        if self._core is None:
            raise RuntimeError(f"a gefen partition is built at the first step(); call {what}() after it")

    def summary(self):
        """Spec, partition, v blocks and optimizer-state bytes by component (after the first step)."""
        self._require_core("summary")
        return self._core.summary()


def _preset(name, doc):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, **kwargs):
        BlockOptimizer.__init__(self, params, lr, betas, eps, weight_decay, spec=name, **kwargs)

    return type(doc.split()[0], (BlockOptimizer,), {"__init__": __init__, "__doc__": doc})


AdamW = _preset("adamw", "AdamW — per-element m and v (torch.optim.AdamW's update).")
AdamMini = _preset("adam-mini", "AdamMini — one shared v per Adam-mini block (head/neuron/token rules).")
Gefen = _preset("gefen", "Gefen — shared v over Gefen's periods and an 8-bit codebook momentum.")
FlashAdamW = _preset("flash-adamw", "FlashAdamW — FlashOptim-style companded m, v and bf16+int8 weights.")


# eps is not read by sgd and lion; it is passed as the CLI's default, 1e-8, so
# checkpoints move between `blockscope train` and Python.
def _momentum_preset(class_name, name, doc):
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, **kwargs):
        BlockOptimizer.__init__(self, params, lr, (momentum, 0.0), 1e-8, weight_decay, spec=name, **kwargs)

    return type(class_name, (BlockOptimizer,), {"__init__": __init__, "__doc__": doc})


def _lion_preset(class_name, name, doc):
    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, **kwargs):
        BlockOptimizer.__init__(self, params, lr, betas, 1e-8, weight_decay, spec=name, **kwargs)

    return type(class_name, (BlockOptimizer,), {"__init__": __init__, "__doc__": doc})


SGD = _momentum_preset("SGD", "sgd", "SGD(params, lr, momentum=0, weight_decay=0) — torch.optim.SGD's update "
                              "(dampening 0, no Nesterov).")
FlashSGD = _momentum_preset("FlashSGD", "flash-sgd", "FlashSGD — SGD with FlashOptim's companded int8 momentum and "
                                         "bf16+int8 weights (2.0625 B/param).")
Lion = _lion_preset("Lion", "lion", "Lion(params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0) — the Lion rule "
                            "(arXiv 2302.06675).")
FlashLion = _lion_preset("FlashLion", "flash-lion", "FlashLion — Lion with FlashOptim's companded int8 momentum and "
                                       "bf16+int8 weights (2.0625 B/param).")
