"""Hessian analyses of a PyTorch model, the same core calls as the CLI's
`spectrum`, `dense` and `coupling` (docs/algorithms.md §2–4):

    import blockscope
    result = blockscope.hessian.spectrum(model, [(x, y)], probes=20)
    result.js            # [B, B] Jensen–Shannon distances between block spectra
    result.save("spectrum.h5")   # the file `blockscope spectrum` writes

model: an nn.Module (scripted with torch.jit.script, or traced on the first
batch when scripting fails) or a torch.jit.ScriptModule; forward(x) must
return one tensor of outputs. batches: (inputs, targets) pairs; integer
targets give cross-entropy (per position for sequences), float targets mean
squared error, both mean-reduced — the loss every blockscope analysis uses.
blocks: None (one block per parameter tensor), a blockscope.partition
Partition, or a partition file. The model is copied: its own parameters are
never changed.
"""
import io

import torch

import _blockscope_core as _core

from . import partition as _partition

_LOSSES = {torch.nn.CrossEntropyLoss: "integer (class-id) targets", torch.nn.MSELoss: "float targets"}


def _script(model, example):
    """A ScriptModule for `model`, or one TypeError saying what to change."""
    if isinstance(model, torch.jit.ScriptModule):
        return model
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module or a ScriptModule, got {type(model).__name__}")
    try:
        return torch.jit.script(model)
    except Exception as script_error:  # noqa: BLE001 - any scripting failure falls back to tracing
        try:
            with torch.no_grad():
                return torch.jit.trace(model, example, check_trace=False)
        except Exception as trace_error:  # noqa: BLE001
            first = str(script_error).strip().splitlines()[0] if str(script_error).strip() else type(script_error).__name__
            raise TypeError(
                f"blockscope.hessian could not script or trace {type(model).__name__}: scripting said '{first}', "
                f"tracing said '{str(trace_error).strip().splitlines()[0]}'. Make forward(x) take one tensor and "
                "return one tensor (add type annotations for torch.jit.script), or pass "
                "torch.jit.trace(model, example_inputs)") from None


def _archive(model, batches):
    """(TorchScript archive bytes, description, batches as tensor pairs)."""
    pairs = []
    for i, batch in enumerate(batches):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2 and all(torch.is_tensor(t) for t in batch)):
            raise TypeError(f"batch {i} must be an (inputs, targets) pair of tensors")
        pairs.append((batch[0].detach().cpu(), batch[1].detach().cpu()))
    if not pairs:
        raise ValueError("batches is empty: pass at least one (inputs, targets) pair")
    buffer = io.BytesIO()
    torch.jit.save(_script(model, pairs[0][0]), buffer)  # loaded onto the CPU by the core
    description = f"python({getattr(model, 'original_name', type(model).__name__)})"
    return buffer.getvalue(), description, pairs


def _check_loss(loss_fn, pairs):
    if loss_fn is None:
        return
    kind = type(loss_fn)
    if kind not in _LOSSES or getattr(loss_fn, "reduction", "mean") != "mean":
        raise ValueError("loss_fn: blockscope analyses use mean cross-entropy (integer targets) or mean squared error "
                         "(float targets), chosen by the targets' dtype; pass loss_fn=None, CrossEntropyLoss() or "
                         "MSELoss() with reduction='mean'")
    integer = not pairs[0][1].is_floating_point()
    if integer != (kind is torch.nn.CrossEntropyLoss):
        raise ValueError(f"loss_fn {kind.__name__} needs {_LOSSES[kind]}, but the targets are "
                         f"{pairs[0][1].dtype}; convert the targets or change loss_fn")


def _inputs(blocks, dtype, seed, graph_memory_gib, max_blocks):
    inputs = _core.HessianInputs()
    inputs.dtype = dtype
    inputs.seed = seed
    inputs.graph_memory_gib = graph_memory_gib
    inputs.max_blocks = max_blocks
    if isinstance(blocks, _partition.Partition):
        inputs.blocks_partition = blocks
    elif blocks is not None:
        inputs.blocks_file = str(blocks)
    return inputs


def _settings(cls, values):
    settings = cls()
    for name, value in values.items():
        setattr(settings, name, value)
    return settings


def spectrum(model, batches, loss_fn=None, blocks=None, *, lanczos_steps=100, probes=10, sigma=0.01,
             sigma_mode="relative", grid_points=4000, top_k=5, reorthogonalize=True, bootstrap=100, threads=0,
             dtype="float32", seed=0, graph_memory_gib=8.0, max_blocks=0, progress=True):
    """Per-block spectra by SLQ, JS distances, top eigenvalues and traces (a SpectrumResult).
    Settings as `blockscope spectrum` names them (--lanczos-steps → lanczos_steps, ...)."""
    archive, description, pairs = _archive(model, batches)
    _check_loss(loss_fn, pairs)
    settings = _settings(_core.SpectrumSettings, dict(
        lanczos_steps=lanczos_steps, probes=probes, sigma=sigma, sigma_mode=sigma_mode, grid_points=grid_points,
        top_k=top_k, reorthogonalize=reorthogonalize, bootstrap=bootstrap, threads=threads))
    return _core.spectrum(archive, description, pairs, _inputs(blocks, dtype, seed, graph_memory_gib, max_blocks),
                          settings, progress)


def dense(model, batches, loss_fn=None, blocks=None, *, max_params=5000, thresholds=(0.1, 0.25, 0.5, 0.75),
          keep_matrix=False, dtype="float64", seed=0, graph_memory_gib=8.0, max_blocks=0, progress=True):
    """The exact Hessian of a small model: per-block eigenvalues and Gefen's element-pair check (a DenseResult)."""
    archive, description, pairs = _archive(model, batches)
    _check_loss(loss_fn, pairs)
    settings = _settings(_core.DenseSettings, dict(max_params=max_params, thresholds=list(thresholds),
                                                   keep_matrix=keep_matrix))
    return _core.dense(archive, description, pairs, _inputs(blocks, dtype, seed, graph_memory_gib, max_blocks),
                       settings, progress)


def coupling(model, batches, loss_fn=None, blocks=None, *, probes=30, dtype="float32", seed=0,
             graph_memory_gib=8.0, max_blocks=0, progress=True):
    """Coupling r_ab = ‖H_ab‖_F / sqrt(‖H_aa‖_F ‖H_bb‖_F) between blocks (a CouplingResult)."""
    archive, description, pairs = _archive(model, batches)
    _check_loss(loss_fn, pairs)
    return _core.coupling(archive, description, pairs, _inputs(blocks, dtype, seed, graph_memory_gib, max_blocks),
                          probes, progress)


__all__ = ["spectrum", "dense", "coupling"]
