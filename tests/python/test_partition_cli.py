"""`partition` and `diagnose` from the command line: every strategy on every
zoo model and on TorchScript models, the file schemas read back with h5py,
diagnostics recomputed with numpy from a gradient dump, partitions for
another model rejected, and bad input failing with one line and no file."""
import h5py
import numpy as np
import pytest

STRATEGIES = ["per-element", "per-tensor", "whole-model", "adam-mini", "gefen", "hessian"]
# Small sizes keep the sweep fast; data sources that fit each model.
ZOO = {
    "mlp": ["--model", "mlp"],
    "cnn": ["--model", "cnn:channels=4"],
    "resnet": ["--model", "resnet:width=4"],
    "gpt": ["--model", "gpt:n_layer=1,d_model=32,d_ff=64,head_dim=8,context=16", "--data", "markov"],
    "vit": ["--model", "vit:n_layer=1,d_model=32,d_ff=64", "--data", "images"],
}
# hessian: 2 Hutchinson probes on one batch of 4 examples.
FAST = ["--batch-size", "4", "--batches", "1", "--probes", "2"]


def strings(dataset):
    return [s.decode() if isinstance(s, bytes) else s for s in dataset[()]]


def check_partition_file(path, strategy, names_numels):
    """The blockscope.partition/1 layout: root attributes, /tensors/<i>, ranges covering every tensor."""
    with h5py.File(path, "r") as f:
        assert f.attrs["schema"] == "blockscope.partition/1"
        assert f.attrs["strategy"] == strategy
        assert "settings" in f
        n = int(f.attrs["num_tensors"])
        assert n == len(names_numels) == len(f["tensors"])
        ids = set()
        total = 0
        keys = list(f["tensors"])
        assert keys == sorted(keys, key=int), "tensor groups list in order (zero-padded names)"
        for key in keys:
            g = f["tensors"][key]
            name = g.attrs["name"]
            numel = int(np.prod(g["shape"][()])) if g["shape"].shape[0] else 1
            assert names_numels[name] == numel
            total += numel
            period = int(g.attrs["period"])
            if period > 0:
                assert numel % period == 0
                ranges = numel // period
            else:
                b = g["boundaries"][()]
                assert b[0] == 0 and b[-1] == numel and np.all(np.diff(b) > 0)
                ranges = len(b) - 1
            if "block_ids" in g:
                ids.update(g["block_ids"][()].tolist())
            else:
                ids.update(range(int(g.attrs["first_block"]), int(g.attrs["first_block"]) + ranges))
        assert total == int(f.attrs["num_parameters"])
        assert ids == set(range(int(f.attrs["num_blocks"])))
        return int(f.attrs["num_blocks"])


def info_table(blockscope, model_args):
    out = blockscope("info", *model_args[:2]).stdout
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1].startswith("[") and parts[-1].isdigit():
            rows[parts[0]] = int(parts[-1])
    return rows


@pytest.mark.parametrize("model", ZOO)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_on_every_zoo_model(blockscope, tmp_path, model, strategy):
    out = tmp_path / "p.h5"
    result = blockscope("partition", "--strategy", strategy, *ZOO[model], *FAST, "--out", out)
    blocks = check_partition_file(out, strategy, info_table(blockscope, ZOO[model]))
    assert f"v scalars: {blocks} " in result.stdout


@pytest.mark.parametrize("fixture", ["mlp", "attention"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_on_torchscript(blockscope, fixtures_dir, tmp_path, fixture, strategy):
    model = fixtures_dir / f"{fixture}.pt"
    with h5py.File(fixtures_dir / f"{fixture}.expected.h5", "r") as f:
        expected = dict(zip(strings(f["param_names"]), f["param_numels"][()].tolist()))
        n_examples, *shape = f["inputs"].shape
        inputs = f["inputs"][()]
    data = tmp_path / "data.h5"
    with h5py.File(data, "w") as f:  # a few examples the model takes, repeated
        f["inputs"] = np.concatenate([inputs] * 4)
        f["targets"] = (np.arange(4 * n_examples * (shape[0] if fixture == "attention" else 1)) % 3).reshape(
            (4 * n_examples, shape[0]) if fixture == "attention" else (4 * n_examples,)).astype(np.int64)
    heads = ["--n-heads", "2", "--head-dim", "8"] if fixture == "attention" else []
    out = tmp_path / "p.h5"
    blockscope("partition", "--strategy", strategy, "--model", model, "--data", data, *FAST, *heads, "--out", out)
    check_partition_file(out, strategy, expected)


def test_hessian_settings_recorded(blockscope, tmp_path):
    out = tmp_path / "h.h5"
    blockscope("partition", "-s", "hessian", *ZOO["mlp"], *FAST, "--target-blocks", "12", "--out", out)
    with h5py.File(out, "r") as f:
        s = f["settings"].attrs
        assert s["statistic"] == "curvature" and s["probes"] == 2 and s["target_blocks"] == 12
        assert s["hvp_count"] == 2
        assert f.attrs["num_blocks"] >= len(f["tensors"])  # never fewer than one block per tensor


def test_train_uses_the_hessian_strategy(blockscope, tmp_path):
    """`train --partition hessian` builds the Hessian-driven partition in the run (the strategy is registered in
    the core, not in the partition command) and trains on it."""
    run = tmp_path / "run.h5"
    blockscope("train", "--model", "mlp", "--partition", "hessian", "--optimizer", "adam-mini", "--steps", "2",
               "--batch-size", "16", "--out", run)
    # The same statistic settings (curvature, 16 probes, 8 batches of 16, seed 0) through `partition`:
    blockscope("partition", "-s", "hessian", "--model", "mlp", "--batch-size", "16", "--out", tmp_path / "h.h5")
    with h5py.File(run, "r") as f, h5py.File(tmp_path / "h.h5", "r") as p:
        assert f.attrs["partition_strategy"] == "hessian"
        assert f.attrs["v_blocks"] == p.attrs["num_blocks"]
        assert np.all(np.isfinite(f["loss"][()]))


def make_partition(blockscope, tmp_path, strategy, model="mlp", name=None):
    out = tmp_path / f"{name or strategy}.h5"
    blockscope("partition", "-s", strategy, *ZOO[model], *FAST, "--out", out)
    return out


def gradient_dump(path, names_shapes, k=3, seed=0):
    rng = np.random.default_rng(seed)
    grads = {}
    with h5py.File(path, "w") as f:
        for name, shape in names_shapes.items():
            g = (rng.standard_normal((k, *shape)) * np.exp(rng.standard_normal((1, *shape)))).astype(np.float32)
            g[:, 0] = 0.0  # a never-updated row / element
            f[name] = g
            grads[name] = g
    return grads


def mlp_shapes(blockscope, tmp_path):
    p = make_partition(blockscope, tmp_path, "per-element", name="shapes")
    with h5py.File(p, "r") as f:
        groups = [f["tensors"][k] for k in sorted(f["tensors"], key=int)]
        return {g.attrs["name"]: tuple(g["shape"][()]) for g in groups}


def test_diagnose_gradient_dump_matches_numpy(blockscope, tmp_path):
    shapes = mlp_shapes(blockscope, tmp_path)
    grads = gradient_dump(tmp_path / "grads.h5", shapes, k=3)
    parts = [make_partition(blockscope, tmp_path, s) for s in ["per-tensor", "whole-model", "adam-mini"]]
    out = tmp_path / "diag.h5"
    args = ["diagnose", "--gradients", tmp_path / "grads.h5", "--out", out]
    for p in parts:
        args += ["--partition", p]
    result = blockscope(*args)
    v = {n: (g.astype(np.float64) ** 2).mean(axis=0).ravel() for n, g in grads.items()}
    with h5py.File(out, "r") as f:
        assert f.attrs["schema"] == "blockscope.diagnostics/1"
        assert f.attrs["minibatches"] == 3
        assert f.attrs["gradient_source"] == str(tmp_path / "grads.h5")
        levels = f["quantile_levels"][()]
        g0 = f["partitions/0"]  # per-tensor: one block per tensor, in partition order
        assert g0.attrs["strategy"] == "per-tensor"
        names = strings(g0["tensors/names"])
        all_dev, all_logs = [], []
        for b, name in enumerate(names):
            x = v[name]
            mean = x.mean()
            # float64 in both; summation order differs: 1e-12 relative is ample.
            np.testing.assert_allclose(g0["blocks/mean_v"][b], mean, rtol=1e-12)
            np.testing.assert_allclose(g0["blocks/cv"][b], x.std() / mean, rtol=1e-10)
            np.testing.assert_allclose(g0["blocks/mean_abs_dev"][b], np.abs(x / mean - 1).mean(), rtol=1e-10)
            pos = x[x > 0]
            np.testing.assert_allclose(g0["blocks/max_min_ratio"][b], pos.max() / pos.min(), rtol=1e-12)
            np.testing.assert_allclose(g0["blocks/log_quantiles"][b], np.quantile(np.log(pos / mean), levels),
                                       rtol=1e-10, atol=1e-12)
            assert g0["blocks/zeros"][b] == (x == 0).sum()
            all_dev.append(np.abs(x / mean - 1))
            all_logs.append(np.log(pos / mean))
        np.testing.assert_allclose(g0.attrs["mean_abs_dev"], np.concatenate(all_dev).mean(), rtol=1e-10)
        np.testing.assert_allclose(g0["total_log_quantiles"][()], np.quantile(np.concatenate(all_logs), levels),
                                   rtol=1e-10, atol=1e-12)
        assert g0["histogram"][()].sum() == sum(len(l) for l in all_logs)
        # Optimizer-state bytes per parameter with one block per tensor, from the
        # storage each preset keeps (docs/algorithms.md §5-8): adamw fp32 m, v;
        # adam-mini fp32 m + one fp32 v per block; gefen uint8 m + fp32 v and
        # fp32 m scale per block (a one-range tensor is one scale group) + the
        # 256-entry fp32 codebook; flash-adamw int8 m, uint8 v, int8 rho and two
        # fp16 scales per 32 elements.
        n = g0.attrs["num_parameters"]
        numels = g0["tensors/elements"][()]
        blocks = len(names)
        assert g0.attrs["bytes_adamw"] == 8.0
        np.testing.assert_allclose(g0.attrs["bytes_adam_mini"], 4 + 4 * blocks / n, rtol=1e-15)
        np.testing.assert_allclose(g0.attrs["bytes_gefen"], (n + 8 * blocks + 1024) / n, rtol=1e-15)
        np.testing.assert_allclose(g0.attrs["bytes_flash_adamw"],
                                   sum(3 * k + 4 * -(-k // 32) for k in numels) / n, rtol=1e-15)
        whole = np.concatenate([v[n] for n in names])  # whole-model: one block
        g1 = f["partitions/1"]
        assert g1["blocks/size"].shape == (1,)
        np.testing.assert_allclose(g1["blocks/mean_abs_dev"][0], np.abs(whole / whole.mean() - 1).mean(), rtol=1e-10)
        assert "pair_check" not in g0
    lines = result.stdout.splitlines()
    assert any(line.startswith("all ") for line in lines)
    assert sum("strategy per-tensor" in line for line in lines) == 1
    assert any(line.startswith("partition ") for line in lines)  # the comparison header


def test_diagnose_model_dense_and_plots(blockscope, tmp_path):
    parts = [make_partition(blockscope, tmp_path, s) for s in ["per-tensor", "per-element"]]
    out, plots = tmp_path / "diag.h5", tmp_path / "plots"
    result = blockscope("diagnose", *ZOO["mlp"], "-k", "2", "--batch-size", "8", "--dense", "--partition", parts[0],
                        "--partition", parts[1], "--out", out, "--plots", plots)
    assert "g² ratio is in [c², 1/c²]" in result.stdout
    with h5py.File(out, "r") as f:
        assert f.attrs["dense"] and f.attrs["hvp_count"] == f["partitions/0"].attrs["num_parameters"]
        assert f.attrs["gradient_source"] == "model" and f.attrs["minibatches"] == 2
        per_tensor, per_element = f["partitions/0/pair_check"], f["partitions/1/pair_check"]
        c = len(per_tensor["thresholds"])
        assert per_tensor["pairs_above"].shape == (f["partitions/0"].attrs["num_blocks"], c)
        assert per_tensor["total_pairs_above"][()].sum() > 0
        assert per_element["total_pairs_above"][()].sum() == 0  # blocks of one element have no pairs
        assert f["partitions/1"].attrs["mean_abs_dev"] == 0.0  # per-element sharing is exact
    for png in ["log_ratio_histogram.png", "block_cv.png", "tensor_deviation.png"]:
        assert (plots / png).stat().st_size > 0


def test_hessian_beats_per_tensor_on_gpt(blockscope, tmp_path):
    per_tensor = make_partition(blockscope, tmp_path, "per-tensor", "gpt")
    with h5py.File(per_tensor, "r") as f:
        tensors = int(f.attrs["num_blocks"])
    hessian = tmp_path / "hessian.h5"
    blockscope("partition", "-s", "hessian", *ZOO["gpt"], "--batch-size", "8", "--batches", "4", "--probes", "4",
               "--target-blocks", str(2 * tensors), "--out", hessian)
    out = tmp_path / "diag.h5"
    blockscope("diagnose", *ZOO["gpt"], "-k", "4", "--batch-size", "8", "--seed", "1", "--partition", per_tensor,
               "--partition", hessian, "--out", out)
    with h5py.File(out, "r") as f:
        assert f["partitions/1"].attrs["num_blocks"] <= 2 * tensors
        assert f["partitions/1"].attrs["mean_abs_dev"] < f["partitions/0"].attrs["mean_abs_dev"]


def expect_error(blockscope, args, fragment, no_file):
    result = blockscope(*args, check=False)
    assert result.returncode != 0, f"{args} should fail"
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, f"expected one error line, got:\n{result.stderr}"
    assert fragment in lines[0], lines[0]
    assert not no_file.exists(), f"{no_file} written despite the error"
    assert not list(no_file.parent.glob(no_file.name + ".tmp-*")), "temporary file left behind"


def test_partition_for_another_model_is_rejected(blockscope, tmp_path):
    mlp = make_partition(blockscope, tmp_path, "per-tensor", "mlp")
    out = tmp_path / "out.h5"
    expect_error(blockscope, ["spectrum", *ZOO["cnn"], "--blocks", mlp, "--out", out],
                 "partition was made for another model: the model's tensor 'features.0.weight'", out)
    expect_error(blockscope, ["diagnose", *ZOO["cnn"], "--partition", mlp, "--out", out],
                 f"{mlp}: partition was made for another model", out)


def test_diagnose_rejects_partition_not_matching_gradient_dump(blockscope, tmp_path):
    gradient_dump(tmp_path / "grads.h5", {"fc.weight": (3, 2)})
    mlp = make_partition(blockscope, tmp_path, "per-tensor", "mlp")
    out = tmp_path / "out.h5"
    expect_error(blockscope, ["diagnose", "--gradients", tmp_path / "grads.h5", "--partition", mlp, "--out", out],
                 "has no gradient for parameter 'linear.0.weight' (the gradients and partition", out)


def test_unknown_strategy_lists_valid_names(blockscope, tmp_path):
    out = tmp_path / "out.h5"
    expect_error(blockscope, ["partition", "-s", "magic", "--model", "mlp", "--out", out],
                 "unknown partition strategy 'magic' (valid: per-element, per-tensor, whole-model, adam-mini, gefen, "
                 "hessian)", out)


@pytest.mark.parametrize("command", ["partition", "diagnose"])
def test_missing_and_corrupt_gradients_file(blockscope, tmp_path, command):
    out = tmp_path / "out.h5"
    extra = ["--partition", make_partition(blockscope, tmp_path, "per-tensor")] if command == "diagnose" else \
        ["-s", "gefen"]
    expect_error(blockscope, [command, "--gradients", tmp_path / "none.h5", *extra, "--out", out], "not found", out)
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    expect_error(blockscope, [command, "--gradients", bad, *extra, "--out", out], "is not an HDF5 file", out)


def test_inconsistent_gradient_dump(blockscope, tmp_path):
    part = make_partition(blockscope, tmp_path, "per-tensor")
    out = tmp_path / "out.h5"
    path = tmp_path / "grads.h5"
    shapes = mlp_shapes(blockscope, tmp_path)
    gradient_dump(path, shapes, k=3)
    last = list(shapes)[-1]
    with h5py.File(path, "a") as f:
        del f[last]
        f[last] = np.zeros((2, *shapes[last]), np.float32)
    expect_error(blockscope, ["diagnose", "--gradients", path, "--partition", part, "--out", out],
                 f"gradient '{last}' has 2 minibatches ([2, {shapes[last][0]}]) but the first dataset has 3", out)
    gradient_dump(path, shapes, k=1)
    with h5py.File(path, "a") as f:
        f[last][0, 0] = np.nan
    expect_error(blockscope, ["diagnose", "--gradients", path, "--partition", part, "--out", out],
                 f"gradient '{last}' holds a non-finite value", out)


def test_curvature_needs_a_model(blockscope, tmp_path):
    path = tmp_path / "g.h5"
    with h5py.File(path, "w") as f:
        f["w"] = np.ones((2, 3), np.float32)
        f.attrs["minibatches"] = 1  # one gradient per parameter: a lone [2, 3] dataset could also be 2 minibatches
    out = tmp_path / "out.h5"
    expect_error(blockscope, ["partition", "-s", "hessian", "--gradients", path, "--out", out],
                 "the curvature statistic needs --model/--data", out)
    blockscope("partition", "-s", "hessian", "--statistic", "squared-gradient", "--gradients", path, "--out", out)
    with h5py.File(out, "r") as f:
        assert f.attrs["num_blocks"] == 1  # both rows have g² = 1: they agree and merge


def test_dense_refuses_large_models(blockscope, tmp_path):
    part = make_partition(blockscope, tmp_path, "per-tensor", "gpt")
    out = tmp_path / "out.h5"
    expect_error(blockscope, ["diagnose", *ZOO["gpt"], "--dense", "--partition", part, "--out", out],
                 "--dense is for small models", out)
