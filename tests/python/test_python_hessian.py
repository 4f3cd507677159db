"""blockscope.hessian, blockscope.partition and blockscope.load on a
user-defined nn.Module: the spectrum equals the file the CLI writes for the
same module and data, the dense Hessian equals torch.autograd's, the coupling
estimate agrees with the exact block norms, and a module that can be neither
scripted nor traced gets one error saying what to change."""
import copy
import json

import h5py
import numpy as np
import pytest
import torch
from torch import nn

blockscope = pytest.importorskip("blockscope", reason="the Python package is built by scripts/build")


class Residual(nn.Module):
    """Not in the zoo: a residual tanh block with a learned gate."""

    def __init__(self, width=6, classes=3):
        super().__init__()
        self.inp = nn.Linear(5, width)
        self.mix = nn.Linear(width, width)
        self.gate = nn.Parameter(torch.full((width,), 0.5))
        self.out = nn.Linear(width, classes)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        return self.out(h + self.gate * torch.tanh(self.mix(h)))


def _data(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)


def _batches(x, y, size):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


def _saved_model_and_data(tmp_path):
    """A seeded Residual and data, also saved for the CLI as m.pt (TorchScript) and d.h5."""
    torch.manual_seed(0)
    model = Residual()
    x, y = _data()
    torch.jit.save(torch.jit.script(model), str(tmp_path / "m.pt"))
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["inputs"], f["targets"] = x.numpy(), y.numpy()
    return model, x, y


def test_spectrum_from_python_equals_the_cli_file(blockscope_cli, tmp_path):
    model, x, y = _saved_model_and_data(tmp_path)
    settings = dict(lanczos_steps=12, probes=4, top_k=2, bootstrap=10, threads=1, seed=3)
    blockscope_cli("spectrum", "--model", tmp_path / "m.pt", "--data", tmp_path / "d.h5", "--batch-size", 16,
                   "--batches", 2, "--lanczos-steps", 12, "--probes", 4, "--top-k", 2, "--bootstrap", 10,
                   "--threads", 1, "--seed", 3, "--out", tmp_path / "cli.h5")
    result = blockscope.hessian.spectrum(model, _batches(x, y, 16), progress=False, **settings)
    result.save(str(tmp_path / "py.h5"))
    cli, ours = blockscope.load(tmp_path / "cli.h5"), blockscope.load(tmp_path / "py.h5")
    assert ours.schema == cli.schema == "blockscope.spectrum/1"
    assert set(ours.keys()) == set(cli.keys())
    # The same module, data, batches and seeds through the same core: the same
    # numbers to the last bit (only the recorded model/data descriptions differ).
    for key in cli.keys():
        if key == "blocks/names":
            assert ours[key] == cli[key]
        else:
            np.testing.assert_array_equal(ours[key], cli[key], err_msg=key)
    # one block per parameter tensor, in the scripted module's order
    assert result.names == [name for name, _ in torch.jit.script(model).named_parameters()]
    np.testing.assert_array_equal(result.js, cli["js/matrix"])
    assert result.settings["n_batches"] == 2 and result.settings["examples"] == 32
    # The caller's module is untouched.
    assert all(not p.grad_fn and p.grad is None for p in model.parameters())


def _torch_hessian(model, x, y):
    """Ground truth: the full float64 Hessian of the mean cross-entropy by torch.autograd.functional.hessian."""
    model = model.double()
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(vector):
        params, offset = {}, 0
        for name, shape in zip(names, shapes):
            size = int(np.prod(shape)) if len(shape) else 1
            params[name] = vector[offset:offset + size].reshape(shape)
            offset += size
        out = torch.nn.utils.stateless.functional_call(model, params, (x.double(),))
        return nn.functional.cross_entropy(out, y)

    sizes = [int(np.prod(s)) if len(s) else 1 for s in shapes]
    return torch.autograd.functional.hessian(loss, flat).numpy(), sizes


def test_dense_equals_torch_autograd_hessian():
    torch.manual_seed(1)
    model = Residual()
    x, y = _data(24, seed=1)
    result = blockscope.hessian.dense(model, [(x, y)], keep_matrix=True, progress=False)
    h, sizes = _torch_hessian(copy.deepcopy(model), x, y)
    # float64 both ways; HVPs and the functional Hessian differ only in
    # summation order: 1e-10 of the largest entry is far above that noise.
    scale = np.abs(h).max()
    np.testing.assert_allclose(result.matrix, h, rtol=0, atol=1e-10 * scale)
    offsets = np.cumsum([0] + sizes)
    for b, name in enumerate(result.names):
        block = h[offsets[b]:offsets[b + 1], offsets[b]:offsets[b + 1]]
        np.testing.assert_allclose(result.eigenvalues[b], np.linalg.eigvalsh(block), rtol=0, atol=1e-9 * scale,
                                   err_msg=name)
    np.testing.assert_allclose(result.full_eigenvalues, np.linalg.eigvalsh(h), rtol=0, atol=1e-9 * scale)


def test_coupling_agrees_with_exact_block_norms():
    torch.manual_seed(2)
    model = Residual()
    x, y = _data(24, seed=2)
    result = blockscope.hessian.coupling(model, [(x, y)], probes=400, dtype="float64", progress=False)
    h, sizes = _torch_hessian(copy.deepcopy(model), x, y)
    offsets = np.cumsum([0] + sizes)
    exact = np.array([[np.linalg.norm(h[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]])
                       for b in range(len(sizes))] for a in range(len(sizes))])
    # Hutchinson estimates of ‖H_ab‖²_F from 400 Rademacher probes: each entry
    # is within 5 standard errors of the exact value (the file's own error bars).
    se = np.sqrt(np.maximum(result.squared_stderr, 1e-300))
    assert np.all(np.abs(result.squared - exact ** 2) <= 5 * se + 1e-12), (result.squared, exact ** 2)
    np.testing.assert_allclose(np.diag(result.ratio), 1.0)


def test_a_module_that_cannot_be_scripted_or_traced_gets_one_error():
    class Dicty(nn.Module):
        """*args defeats torch.jit.script, a str in the output defeats torch.jit.trace."""

        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(5, 3)

        def forward(self, *args):
            return {"logits": self.lin(args[0]), "note": "not a tensor"}

    with pytest.raises(TypeError, match="could not script or trace Dicty.*return one tensor") as error:
        blockscope.hessian.spectrum(Dicty(), [_data()], progress=False)
    assert "\n" not in str(error.value)


def test_a_scriptable_module_returning_no_tensor_is_refused_by_the_core():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(5, 3)

        def forward(self, x):
            return self.lin(x), x

    with pytest.raises(RuntimeError, match="instead of one tensor"):
        blockscope.hessian.spectrum(Pair(), [_data()], progress=False)


def test_bad_inputs_are_refused_before_work(tmp_path):
    model = Residual()
    x, y = _data()
    with pytest.raises(ValueError, match="batches is empty"):
        blockscope.hessian.spectrum(model, [], progress=False)
    with pytest.raises(TypeError, match=r"batch 0 must be an \(inputs, targets\) pair"):
        blockscope.hessian.spectrum(model, [x], progress=False)
    with pytest.raises(ValueError, match="loss_fn"):
        blockscope.hessian.spectrum(model, [(x, y)], loss_fn=nn.NLLLoss(), progress=False)
    with pytest.raises(RuntimeError, match="Lanczos steps per probe must be ≥ 2"):
        blockscope.hessian.spectrum(model, [(x, y)], lanczos_steps=1, progress=False)
    with pytest.raises(ValueError, match="probes=5 is too few"):
        blockscope.hessian.coupling(model, [(x, y)], probes=5, progress=False)
    with pytest.raises(RuntimeError, match="does not fit|class|targets"):
        blockscope.hessian.spectrum(model, [(x, y + 10)], progress=False)
    with pytest.raises(RuntimeError, match="max-params"):
        blockscope.hessian.dense(model, [(x, y)], max_params=10, progress=False)
    (tmp_path / "not.h5").write_text("hello")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        blockscope.load(tmp_path / "not.h5")
    with pytest.raises(FileNotFoundError):
        blockscope.load(tmp_path / "missing.h5")


def test_partitions_from_python_equal_the_cli_and_drive_spectrum_and_optimizer(blockscope_cli, tmp_path):
    torch.manual_seed(3)
    model = Residual()
    torch.jit.save(torch.jit.script(model), str(tmp_path / "m.pt"))
    blockscope_cli("partition", "--model", tmp_path / "m.pt", "--strategy", "per-tensor", "--out", tmp_path / "p.h5")
    ours = blockscope.partition.per_tensor(model)
    assert ours == blockscope.load(tmp_path / "p.h5")
    assert ours.num_blocks == 7 and sum(ours.block_sizes) == sum(p.numel() for p in model.parameters())
    whole = blockscope.partition.whole_model(model)
    x, y = _data()
    result = blockscope.hessian.spectrum(model, [(x, y)], blocks=whole, lanczos_steps=8, probes=2, top_k=0,
                                         progress=False)
    assert result.names == ["block 0"] and result.sizes == [ours.num_parameters]
    opt = blockscope.optim.AdamMini(model.named_parameters(), partition=ours)
    assert opt.summary()["v_blocks"] == 7
    with pytest.raises(RuntimeError, match="another model|no tensor|differs"):
        blockscope.optim.AdamW(nn.Linear(2, 2).named_parameters(), partition=ours)


def test_hessian_partition_from_python_equals_the_cli(blockscope_cli, tmp_path):
    """blockscope.partition.hessian on the caller's module and batches merges exactly as `partition --strategy
    hessian` does on the same module saved as TorchScript and the same data: block for block, element by element."""
    model, x, y = _saved_model_and_data(tmp_path)
    names = [name for name, _ in torch.jit.script(model).named_parameters()]
    sizes = {name: p.numel() for name, p in model.named_parameters()}
    for statistic in ["curvature", "squared-gradient"]:
        cli_file = tmp_path / f"{statistic}.h5"
        blockscope_cli("partition", "-s", "hessian", "--model", tmp_path / "m.pt", "--data", tmp_path / "d.h5",
                       "--batch-size", 16, "--batches", 2, "--statistic", statistic, "--probes", 3,
                       "--target-blocks", 12, "--seed", 3, "--out", cli_file)
        cli = blockscope.partition.load(cli_file)
        ours = blockscope.partition.hessian(model, _batches(x, y, 16), statistic=statistic, probes=3,
                                            target_blocks=12, seed=3, progress=False)
        assert ours.strategy == cli.strategy == "hessian"
        assert ours.tensor_names == cli.tensor_names == names
        assert ours.num_blocks == cli.num_blocks == 12 and ours.block_sizes == cli.block_sizes  # rows merged, not per-tensor
        for name in names:
            assert [ours.block_of(name, i) for i in range(sizes[name])] == \
                [cli.block_of(name, i) for i in range(sizes[name])], (statistic, name)
        recorded, cli_recorded = json.loads(ours.summary_json())["settings"], json.loads(cli.summary_json())["settings"]
        for key in ["statistic", "batches", "seed"] + (["probes", "hvp_count"] if statistic == "curvature" else []):
            assert recorded[key] == cli_recorded[key], key
    assert all(p.grad is None for p in model.parameters())  # the caller's module is untouched
    with pytest.raises(ValueError, match="statistic must be"):
        blockscope.partition.hessian(model, [(x, y)], statistic="diag")
    with pytest.raises(ValueError, match="probes must be"):
        blockscope.partition.hessian(model, [(x, y)], probes=0)
    with pytest.raises(ValueError, match="batches is empty"):
        blockscope.partition.hessian(model, [])
