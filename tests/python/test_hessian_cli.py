"""`spectrum`, `dense` and `coupling` from the command line: the HDF5
contract, the Hessian against torch.autograd.functional.hessian on a
TorchScript model, determinism, and bad input."""
import h5py
import numpy as np
import pytest
import torch
from torch.nn.utils import stateless

from export_fixtures import TinyAttentionLM
from test_bad_inputs import expect_error

FAST = ["--lanczos-steps", "8", "--probes", "3", "--bootstrap", "4", "--top-k", "2"]


def test_spectrum_file_follows_the_contract(blockscope, tmp_path):
    out = tmp_path / "s.h5"
    plots = tmp_path / "plots"
    res = blockscope("spectrum", "--model", "mlp", *FAST, "--out", out, "--plots", plots)
    assert "mean pairwise JS distance" in res.stdout
    with h5py.File(out) as f:
        assert f.attrs["schema"] == "blockscope.spectrum/1"
        for key in ["sigma", "sigma_mode", "lanczos_steps", "probes", "reorthogonalize", "dtype", "seed",
                    "n_batches", "loss_reduction", "model", "data", "hvp_count"]:
            assert key in f.attrs, key
        assert f.attrs["loss_reduction"] == "mean"
        B = len(f["blocks/names"])
        assert B == 6 and list(f["blocks/sizes"][()]) == [512, 32, 1024, 32, 128, 4]
        assert f["slq/nodes"].shape == (B, 3, 8) and f["slq/weights"].shape == (B, 3, 8)
        weights = f["slq/weights"][()]
        np.testing.assert_allclose(weights.sum(axis=2), 1.0, atol=1e-10)  # Σ τ_k = 1 per probe
        grid, values = f["density/grid"][()], f["density/values"][()]
        assert grid.size >= 4000 and values.shape == (B, grid.size)
        np.testing.assert_allclose(np.trapz(values, grid, axis=1), 1.0, atol=1e-6)
        js = f["js/matrix"][()]
        assert js.shape == (B, B) and np.all((js >= 0) & (js <= 1)) and np.allclose(js, js.T)
        assert f["top_eigenvalues"].shape == (B, 2) and f["trace"].shape == (B,)
    assert (plots / "densities.png").stat().st_size > 10_000
    assert (plots / "js_heatmap.png").stat().st_size > 10_000


def test_same_seed_gives_identical_numbers(blockscope, tmp_path):
    files = []
    for name in ["a.h5", "b.h5"]:
        blockscope("spectrum", "--model", "cnn", *FAST, "--seed", "3", "--out", tmp_path / name)
        files.append(h5py.File(tmp_path / name))
    a, b = files
    for key in ["slq/nodes", "slq/weights", "density/values", "js/matrix", "js/stderr", "top_eigenvalues", "trace"]:
        assert np.array_equal(a[key][()], b[key][()], equal_nan=True), key


def _attention_data(tmp_path):
    torch.manual_seed(2)
    path = tmp_path / "tokens.h5"
    tokens = torch.randint(0, 32, (6, 9))
    with h5py.File(path, "w") as f:
        f["inputs"] = tokens[:, :-1].numpy()
        f["targets"] = tokens[:, 1:].numpy()
    return path, tokens[:, :-1], tokens[:, 1:]


def test_dense_hessian_matches_torch_autograd(blockscope, fixtures_dir, tmp_path):
    """The Hessian of the mean per-position cross-entropy of a TorchScript
    attention model with a tied embedding, against torch's own double
    backward in Python (float64 both sides)."""
    data, x, y = _attention_data(tmp_path)
    out = tmp_path / "dense.h5"
    blockscope("dense", "--model", fixtures_dir / "attention.pt", "--data", data, "--batch-size", "4", "--batches", "0",
               "--dtype", "float64", "--save-matrix", "--out", out)
    # The eager twin of the exported module (stateless calls need eager code).
    scripted = torch.jit.load(str(fixtures_dir / "attention.pt"))
    module = TinyAttentionLM()
    module.load_state_dict(scripted.state_dict())
    module = module.double().eval()
    names = [n for n, _ in module.named_parameters()]  # de-duplicated: lm_head is tied
    params = [p.detach().clone() for _, p in module.named_parameters()]
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]

    def loss(flat):
        tensors = dict(zip(names, [t.view(s) for t, s in zip(flat.split(sizes), shapes)]))
        tensors["lm_head.weight"] = tensors["embed.weight"]
        logits = stateless.functional_call(module, tensors, (x,))
        return torch.nn.functional.cross_entropy(logits.reshape(-1, 32), y.reshape(-1))

    expected = torch.autograd.functional.hessian(loss, torch.cat([p.reshape(-1) for p in params])).numpy()
    with h5py.File(out) as f:
        assert f.attrs["schema"] == "blockscope.dense/1"
        ours = f["hessian"][()]
        # Batches of 4 + 2 examples weighted 4/6 and 2/6 = one batch of 6.
        assert f.attrs["n_batches"] == 2
    # Same math in float64; rounding only (entries are O(1)).
    np.testing.assert_allclose(ours, expected, atol=1e-10, rtol=1e-8)


def test_coupling_file_and_plot(blockscope, tmp_path):
    out = tmp_path / "c.h5"
    blockscope("coupling", "--model", "mlp", "--probes", "30", "--out", out, "--plots", tmp_path / "p")
    with h5py.File(out) as f:
        assert f.attrs["schema"] == "blockscope.coupling/1"
        r = f["coupling/ratio"][()]
        assert r.shape == (6, 6) and np.allclose(np.diag(r), 1.0) and np.allclose(r, r.T)
    assert (tmp_path / "p" / "coupling_heatmap.png").exists()


@pytest.mark.parametrize("args,fragment", [
    (["--sigma", "0"], "--sigma: must be > 0, got 0"),
    (["--sigma", "-1"], "--sigma: must be > 0, got -1"),
    (["--lanczos-steps", "1"], "--lanczos-steps: must be ≥ 2, got 1"),
    (["--probes", "0"], "--probes: must be ≥ 1, got 0"),
])
def test_spectrum_rejects_bad_settings(blockscope, tmp_path, args, fragment):
    out = tmp_path / "never.h5"
    expect_error(blockscope, ["spectrum", "--model", "mlp", *args, "--out", out], fragment)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_spectrum_rejects_a_partition_of_another_model(blockscope, tmp_path):
    part = tmp_path / "gpt_partition.h5"
    blockscope("partition", "--strategy", "per-tensor", "--model", "gpt", "--out", part)
    out = tmp_path / "never.h5"
    expect_error(blockscope, ["spectrum", "--model", "mlp", "--blocks", part, "--out", out],
                 "partition was made for another model")
    assert not out.exists()


def test_spectrum_rejects_a_model_without_trainable_parameters(blockscope, tmp_path):
    module = torch.nn.Linear(3, 2)
    for p in module.parameters():
        p.requires_grad_(False)
    path = tmp_path / "frozen.pt"
    torch.jit.script(module).save(str(path))
    expect_error(blockscope, ["spectrum", "--model", path, "--out", tmp_path / "x.h5"], "has no trainable parameters")


def test_spectrum_rejects_a_non_finite_loss(blockscope, tmp_path):
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:
        f["inputs"] = np.full((8, 16), 3e38, np.float32)
        f["targets"] = np.zeros(8, np.int64)
    out = tmp_path / "never.h5"
    result = blockscope("spectrum", "--model", "mlp:activation=relu", "--data", path, "--batch-size", "8", "--out", out,
                        check=False)
    assert result.returncode != 0 and "not finite" in result.stderr
    assert not out.exists()


def test_dense_refuses_large_models(blockscope, tmp_path):
    expect_error(blockscope, ["dense", "--model", "gpt", "--out", tmp_path / "d.h5"], "the dense Hessian is for small models")
