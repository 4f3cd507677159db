"""What a new user hit with their own models and files (issue: bool buffers,
aborts, tracebacks, outputs checked after the work, Adam-mini on user models,
gradient layouts, flags, costly defaults, analysis at trained weights,
comparisons, self-describing files). Each test failed before the fix.

Models are the user's own, exported here with python3-torch the way the
README says: torch.jit.script (or trace) and torch.jit.save."""
import re

import h5py
import numpy as np
import pytest
import torch
from torch import nn


def error_line(blockscope, args, fragment, *never_written):
    """Exit code 1, exactly one line on stderr containing `fragment`, nothing
    on stdout, and none of `never_written` created."""
    result = blockscope(*args, check=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert len(lines) == 1, f"expected one error line, got:\n{result.stderr}"
    assert fragment in lines[0], lines[0]
    assert result.stdout == ""
    for path in never_written:
        assert not path.exists(), f"{path} was written on failure"
    return lines[0]


# ---------------------------------------------------------------- user models


class MaskedLM(nn.Module):
    """A causal LM whose mask is a registered bool buffer (the usual pattern)."""

    def __init__(self, vocab=32, context=8, width=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.head = nn.Linear(width, vocab)
        self.register_buffer("mask", torch.ones(context, context, dtype=torch.bool).tril())

    def forward(self, x):
        t = x.shape[1]
        h = self.embed(x) + self.pos(torch.arange(t))
        scores = self.q_proj(h) @ self.k_proj(h).transpose(1, 2)
        scores = scores.masked_fill(~self.mask[:t, :t], float("-inf"))
        return self.head(scores.softmax(-1) @ h)


class MhaLM(nn.Module):
    """nn.MultiheadAttention (fused in_proj_weight, out_proj) with a bool mask buffer."""

    def __init__(self, vocab=32, context=8, width=16, heads=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.gate = nn.Parameter(torch.randn(width, width) * 0.1)  # a weight no Adam-mini rule knows
        self.head = nn.Linear(width, vocab)
        self.register_buffer("mask", torch.ones(context, context, dtype=torch.bool).triu(1))

    def forward(self, x):
        t = x.shape[1]
        h = self.embed(x)
        y, _ = self.attn(h, h, h, attn_mask=self.mask[:t, :t], need_weights=False)
        return self.head((h + y) @ self.gate)


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 12)
        self.fc2 = nn.Linear(12, 4)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, x, y):
        return self.fc(x) + y


def save_script(module, path):
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(module), str(path))
    return path


def token_file(path, n=64, t=8, vocab=32, target_vocab=None, seed=0):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f["inputs"] = rng.integers(0, vocab, size=(n, t))
        f["targets"] = rng.integers(0, target_vocab or vocab, size=(n, t))
    return path


def feature_file(path, n=64, d=16, classes=4, seed=0, inputs=None):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f["inputs"] = rng.standard_normal((n, d)).astype(np.float32) if inputs is None else inputs
        f["targets"] = rng.integers(0, classes, size=n)
    return path


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    d = tmp_path_factory.mktemp("user")
    return {
        "dir": d,
        "masked": save_script(MaskedLM(), d / "masked.pt"),
        "mha": save_script(MhaLM(), d / "mha.pt"),
        "regressor": save_script(Regressor(), d / "regressor.pt"),
        "two": save_script(TwoInputs(), d / "two.pt"),
        "tokens": token_file(d / "tokens.h5"),
        "features": feature_file(d / "features.h5"),
    }


# ---------------------------------------------------- 1. bool and other buffers


@pytest.mark.parametrize("model", ["masked", "mha"])
def test_bool_mask_buffers_survive_checkpoints_params_and_float64(blockscope, user, tmp_path, model):
    ck, params, run = tmp_path / "ck.h5", tmp_path / "params.h5", tmp_path / "run.h5"
    blockscope("train", "--model", user[model], "--data", user["tokens"], "--steps", "3", "--batch-size", "8",
               "--out", run, "--checkpoint", ck, "--save-params", params)
    mask = torch.jit.load(str(user[model])).mask.numpy()
    for path, group in [(params, "buffers"), (ck, "buffers")]:
        with h5py.File(path) as f:
            stored = f[f"{group}/mask"]
            assert stored.attrs["dtype"] == "bool"
            np.testing.assert_array_equal(stored[()].astype(bool), mask)
    blockscope("train", "--model", user[model], "--data", user["tokens"], "--steps", "4", "--batch-size", "8",
               "--out", tmp_path / "run2.h5", "--resume", ck)
    # float64 converts floating tensors only: the mask stays bool, so the forward still runs.
    blockscope("dense", "--model", user[model], "--data", user["tokens"], "--batch-size", "4", "--dtype", "float64",
               "--max-params", "10000", "--out", tmp_path / "dense.h5")


def test_save_params_carries_batchnorm_statistics(blockscope, tmp_path):
    ck, params = tmp_path / "ck.h5", tmp_path / "params.h5"
    blockscope("train", "--model", "resnet", "--steps", "3", "--batch-size", "8", "--examples", "16",
               "--out", tmp_path / "run.h5", "--checkpoint", ck, "--save-params", params)
    with h5py.File(params) as p, h5py.File(ck) as c:
        names = [n for n in p["buffers"]]
        assert any(n.endswith("running_mean") for n in names) and any(n.endswith("num_batches_tracked") for n in names)
        for name in names:
            np.testing.assert_array_equal(p["buffers"][name][()], c["buffers"][name][()])
            assert p["buffers"][name].dtype == c["buffers"][name].dtype
        counter = [n for n in names if n.endswith("num_batches_tracked")][0]
        assert p["buffers"][counter].dtype == np.int64 and p["buffers"][counter][()] == 3


# ------------------------------------------------ 2. directories never abort


@pytest.mark.parametrize("args", [
    ["info", "--model", "mlp", "--data", "{dir}"],
    ["spectrum", "--model", "mlp", "--blocks", "{dir}"],
    ["diagnose", "--model", "mlp", "-p", "{dir}"],
    ["partition", "-s", "gefen", "--gradients", "{dir}"],
    ["spectrum", "--model", "mlp", "--params", "{dir}"],
    ["train", "--model", "mlp", "--resume", "{dir}"],
    ["info", "--model", "{dir}"],
])
def test_a_directory_where_a_file_belongs_is_one_line(blockscope, tmp_path, args):
    folder = tmp_path / "folder"
    folder.mkdir()
    out = tmp_path / "out.h5"
    error_line(blockscope, [a.format(dir=folder) for a in args] + ["--out", out][: 0 if args[0] == "info" else 2],
               "is a directory", out)


# ------------------------------------------- 3. data that does not fit the model


def test_data_that_does_not_fit_is_named_in_one_line(blockscope, user, tmp_path):
    d = tmp_path
    out = d / "out.h5"
    cases = [
        # (model, data file, fragments of the one line)
        ("regressor", feature_file(d / "seven.h5", d=7), ["seven.h5", "'inputs'", "float32 [64, 7]", "mat1 and mat2"]),
        ("regressor", feature_file(d / "ints.h5", inputs=np.ones((64, 16), np.int64)), ["'inputs'", "int64 [64, 16]"]),
        ("masked", token_file(d / "vocab.h5", vocab=32), None),  # fits: the control
        ("masked", token_file(d / "long.h5", t=12), ["'inputs'", "length 12", "position table"]),
        ("masked", token_file(d / "classes.h5", target_vocab=40), ["'targets'", "class ids in [0, 39]", "32 outputs"]),
        ("regressor", feature_file(d / "classes4.h5", classes=9), ["'targets'", "[0, 8]", "4 outputs"]),
        ("two", feature_file(d / "two.h5"), ["'inputs'", "forward pass fails"]),
    ]
    # Token ids beyond the vocabulary in ONE late example only: still found before any work.
    with h5py.File(d / "late.h5", "w") as f:
        x = np.random.default_rng(0).integers(0, 32, size=(64, 8))
        x[50, 3] = 40
        f["inputs"], f["targets"] = x, np.zeros((64, 8), np.int64)
    cases.append(("masked", d / "late.h5", ["late.h5", "ids up to 40"]))
    for model, data, fragments in cases:
        for command in (["train", "--steps", "2"], ["spectrum", "--lanczos-steps", "4", "--probes", "1"]):
            args = [command[0], "--model", user[model], "--data", data, "--batch-size", "8", *command[1:],
                    "--out", out]
            if fragments is None:
                blockscope(*args)
                out.unlink()
                continue
            line = error_line(blockscope, args, fragments[0], out)
            for fragment in fragments[1:]:
                assert fragment in line, (fragment, line)


# ---------------------------------------------- 4. outputs checked before work


def test_outputs_are_checked_before_any_work(blockscope, tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir").mkdir()
    slow = ["spectrum", "--model", "gpt", "--lanczos-steps", "100", "--probes", "10"]  # minutes if it ran
    out = tmp_path / "s.h5"
    error_line(blockscope, [*slow, "--out", "/proc/blockscope.h5"], "/proc is not writable")
    error_line(blockscope, [*slow, "--out", out, "--plots", tmp_path / "a_file"], "a_file is a file", out)
    error_line(blockscope, [*slow, "--out", out, "--plots", tmp_path / "a_file" / "sub"], "a_file is a file", out)
    error_line(blockscope, [*slow, "--out", tmp_path / "a_dir"], "it is a directory")
    error_line(blockscope, ["train", "--model", "gpt", "--steps", "100000", "--out", out, "--checkpoint",
                            tmp_path / "missing" / "ck.h5"], "does not exist", out)
    error_line(blockscope, ["train", "--model", "mlp", "--out", tmp_path / "a_dir"], "it is a directory")
    error_line(blockscope, ["partition", "--model", "gpt", "--out", out, "--json", tmp_path / "a_dir"],
               "it is a directory", out)


# ------------------------------------------- 5. Adam-mini on a user's model


def test_adam_mini_on_multihead_attention(blockscope, user, tmp_path):
    out = tmp_path / "am.h5"
    line = error_line(blockscope, ["partition", "-s", "adam-mini", "--model", user["mha"], "--out", out],
                      "attn.in_proj_weight", out)
    assert "n-heads" in line and "head-dim" in line
    result = blockscope("partition", "-s", "adam-mini", "--model", user["mha"], "--n-heads", "4", "--out", out)
    assert "warning: adam-mini: no name rule matched tensor 'gate'" in result.stderr
    with h5py.File(out) as f:
        tensors = {g.attrs["name"]: g for g in (f["tensors"][k] for k in f["tensors"])}
        fused = tensors["attn.in_proj_weight"]  # [48, 16]: q 4 heads + k 4 heads + v 16 rows, head_dim 16/4
        assert len(fused["boundaries"][()]) - 1 == 4 + 4 + 16
        assert tensors["attn.out_proj.weight"].attrs["period"] == 16  # one block per row
        assert f["settings"].attrs["head_dim"] == 4
    result = blockscope("train", "--model", user["mha"], "--data", user["tokens"], "--optimizer", "adam-mini",
                        "--n-heads", "4", "--steps", "2", "--batch-size", "8", "--out", tmp_path / "run.h5")
    assert "no name rule matched tensor 'gate'" in result.stderr


# ------------------------------------------------ 6. one gradient-file layout


def test_both_gradient_layouts_are_read_and_ambiguity_refused(blockscope, tmp_path):
    shapes = {"linear.0.weight": (32, 16), "linear.0.bias": (32,), "linear.1.weight": (32, 32),
              "linear.1.bias": (32,), "linear.2.weight": (4, 32), "linear.2.bias": (4,)}
    info = blockscope("info", "--model", "mlp").stdout
    assert all(name in info for name in shapes), info
    rng = np.random.default_rng(0)
    stacked = {n: rng.standard_normal((3, *s)).astype(np.float32) for n, s in shapes.items()}
    with h5py.File(tmp_path / "stacked.h5", "w") as f:
        for n, g in stacked.items():
            f[n] = g
    with h5py.File(tmp_path / "single.h5", "w") as f:
        for n, g in stacked.items():
            f[n] = g[0]
    part = tmp_path / "pt.h5"
    blockscope("partition", "-s", "per-tensor", "--model", "mlp", "--out", part)
    for name, k in [("stacked", 3), ("single", 1)]:
        out = tmp_path / f"diag_{name}.h5"
        blockscope("diagnose", "--gradients", tmp_path / f"{name}.h5", "-p", part, "--out", out)
        with h5py.File(out) as f:
            assert f.attrs["minibatches"] == k
        blockscope("partition", "-s", "gefen", "--model", "mlp", "--gradients", tmp_path / f"{name}.h5",
                   "--out", tmp_path / f"gefen_{name}.h5")
    # Gefen reads the first gradient either way: the same partition from both files.
    with h5py.File(tmp_path / "gefen_stacked.h5") as a, h5py.File(tmp_path / "gefen_single.h5") as b:
        assert a.attrs["num_blocks"] == b.attrs["num_blocks"]
    # Without a model, a file whose every dataset starts with 3 could be either layout.
    out = tmp_path / "never.h5"
    error_line(blockscope, ["partition", "-s", "gefen", "--gradients", tmp_path / "stacked.h5", "--out", out],
               "cannot tell whether", out)
    with h5py.File(tmp_path / "stacked.h5", "a") as f:
        f.attrs["minibatches"] = 3
    blockscope("partition", "-s", "gefen", "--gradients", tmp_path / "stacked.h5", "--out", out)
    with h5py.File(out) as f:
        assert f.attrs["num_parameters"] == sum(int(np.prod(s)) for s in shapes.values())


# --------------------------------------------------- 7. flags that lied


def test_flags_and_values_that_lied(blockscope, user, tmp_path):
    out = tmp_path / "out.h5"
    error_line(blockscope, ["spectrum", "--threads", "-2", "--out", out], "--threads: must be ≥ 0, got -2", out)
    part = tmp_path / "pt.h5"
    blockscope("partition", "-s", "per-tensor", "--model", "mlp", "--out", part)
    big = feature_file(tmp_path / "small.h5", n=128)
    line = error_line(blockscope, ["diagnose", "--model", "mlp", "--data", big, "-p", part, "-k", "400", "--out", out],
                      "400 batches of 32 examples need 12800 examples but the data has 128", out)
    assert "--batches" not in line
    error_line(blockscope, ["spectra", "--model", "mlp"], "unknown subcommand 'spectra': did you mean 'spectrum'?")
    error_line(blockscope, ["spectrum", "--model", "mlp", "--data", big, "--batch-size", "1000", "--out", out],
               "holds 128 examples, fewer than one batch of 1000", out)
    error_line(blockscope, ["spectrum", "--model", "mlp", "--data", big, "--batch-size", "1000", "--batches", "0",
                            "--out", out], "fewer than one batch of 1000", out)


# -------------------------------------------- 8. costly defaults made visible


def test_spectrum_plans_its_work_and_uses_one_batch_by_default(blockscope, tmp_path):
    data = feature_file(tmp_path / "d256.h5", n=256)
    out = tmp_path / "s.h5"
    result = blockscope("spectrum", "--model", "mlp", "--data", data, "--lanczos-steps", "30", "--probes", "4",
                        "--top-k", "0", "--out", out)
    with h5py.File(out) as f:
        assert f.attrs["n_batches"] == 1 and f.attrs["examples"] == 32
        sizes = f["blocks/sizes"][()]
    assert "the data holds 256 examples; the Hessian uses the first 32" in result.stderr
    planned = 4 * sum(min(30, int(n)) for n in sizes)  # probes × min(m, n_b) per block; no top-k
    plan = re.search(r"plan: (\d+) HVPs", result.stderr)
    assert plan and int(plan.group(1)) == planned, result.stderr
    totals = {int(m) for m in re.findall(r"\d+/(\d+) HVPs", result.stderr)}
    assert totals == {planned}, f"the progress total moved: {totals}"
    assert "(0.0/s)" not in result.stderr


# ----------------------------------------------- 9. analysis at trained weights


def test_analysis_at_trained_parameters_matches_torch(blockscope, user, tmp_path):
    params, ck = tmp_path / "params.h5", tmp_path / "ck.h5"
    data = feature_file(tmp_path / "reg.h5", n=64)
    blockscope("train", "--model", user["regressor"], "--data", data, "--steps", "20", "--lr", "0.05",
               "--batch-size", "16", "--out", tmp_path / "run.h5", "--save-params", params, "--checkpoint", ck)
    module = torch.jit.load(str(user["regressor"]))
    initial = None
    with h5py.File(data) as f:
        x, y = torch.from_numpy(f["inputs"][:16]), torch.from_numpy(f["targets"][:16])
    with torch.no_grad():
        initial = nn.functional.cross_entropy(module(x), y).item()
        with h5py.File(params) as p:
            for name, tensor in module.named_parameters():
                tensor.copy_(torch.from_numpy(p[name][()]))
        trained = nn.functional.cross_entropy(module(x), y).item()
    assert trained < initial - 1e-3
    for source in (params, ck):
        for command in (["spectrum", "--lanczos-steps", "4", "--probes", "1", "--top-k", "0"], ["dense"],
                        ["coupling", "--probes", "30"]):
            out = tmp_path / f"{command[0]}.h5"
            blockscope(command[0], "--model", user["regressor"], "--data", data, "--batch-size", "16",
                       "--params", source, *command[1:], "--out", out)
            with h5py.File(out) as f:
                # float32 forward on 16 examples: agreement to rounding (1e-6 relative is ~10 ulp).
                assert f.attrs["loss"] == pytest.approx(trained, rel=1e-6), command
                assert f.attrs["params_file"] == str(source)
    part = tmp_path / "pt.h5"
    blockscope("partition", "-s", "per-tensor", "--model", user["regressor"], "--params", params, "--out", part)
    blockscope("diagnose", "--model", user["regressor"], "--data", data, "--params", params, "-p", part,
               "-k", "2", "--batch-size", "16", "--out", tmp_path / "diag.h5")
    error_line(blockscope, ["spectrum", "--model", "mlp", "--params", params, "--out", tmp_path / "x.h5"],
               "has no parameter 'linear.0.weight'", tmp_path / "x.h5")


# -------------------------------------------------------- 10. readable report


def test_report_keeps_model_names_and_warns_on_unlike_settings(blockscope, tmp_path):
    common = ["--lanczos-steps", "6", "--probes", "2", "--top-k", "0"]
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    blockscope("spectrum", "--model", "mlp:hidden=12", *common, "--out", a)
    blockscope("spectrum", "--model", "mlp:hidden=20", "--lanczos-steps", "6", "--probes", "3", "--top-k", "0",
               "--out", b)
    result = blockscope("report", a, b)
    assert "mlp:hidden=12" in result.stdout and "mlp:hidden=20" in result.stdout
    assert "warning: the files were made with different settings" in result.stderr
    assert "n_v = 2" in result.stderr and "n_v = 3" in result.stderr


def test_max_blocks_samples_large_and_small_blocks(blockscope, tmp_path):
    part = tmp_path / "am.h5"
    blockscope("partition", "-s", "adam-mini", "--model", "gpt", "--out", part)
    out = tmp_path / "s.h5"
    blockscope("spectrum", "--model", "gpt", "--batch-size", "2", "--blocks", part, "--max-blocks", "8",
               "--lanczos-steps", "4", "--probes", "1", "--top-k", "0", "--out", out)
    with h5py.File(out) as f:
        sizes = f["blocks/sizes"][()]
        assert len(sizes) == 8
        # adam-mini on gpt: thousands of 1-element bias/norm blocks, few ≥ 1024-element ones; strata take turns.
        assert sizes.max() >= 1024 and sizes.min() == 1 and len(set(np.floor(np.log2(sizes)))) >= 4, sizes
        assert "stratum" in f.attrs["block_sampling"]


# --------------------------------------------------- 11. self-describing files


def test_every_result_file_describes_itself(blockscope, tmp_path):
    files = {
        "spectrum": ["spectrum", "--model", "mlp", "--lanczos-steps", "6", "--probes", "2", "--top-k", "2"],
        "dense": ["dense", "--model", "mlp"],
        "coupling": ["coupling", "--model", "mlp", "--probes", "30"],
        "partition": ["partition", "-s", "adam-mini", "--model", "gpt"],
        "run": ["train", "--model", "mlp", "--steps", "2", "--checkpoint", tmp_path / "ck.h5",
                "--save-params", tmp_path / "params.h5"],
    }
    for name, args in files.items():
        blockscope(*args, "--out", tmp_path / f"{name}.h5")
    blockscope("partition", "-s", "per-tensor", "--model", "mlp", "--out", tmp_path / "pt.h5")
    blockscope("diagnose", "--model", "mlp", "-p", tmp_path / "pt.h5", "-k", "2", "--out", tmp_path / "diag.h5")
    version = blockscope("--version").stdout.split()[1]
    for path in sorted(tmp_path.glob("*.h5")):
        with h5py.File(path) as f:
            assert f.attrs["blockscope_version"] == version, path
            assert f.attrs["command_line"].split()[1] in ("spectrum", "dense", "coupling", "partition", "train",
                                                         "diagnose"), path
            undescribed = []
            f.visititems(lambda n, o: undescribed.append(n)
                         if isinstance(o, h5py.Dataset) and not o.attrs.get("description") else None)
            assert undescribed == [], f"{path.name}: datasets without a description: {undescribed}"
    with h5py.File(tmp_path / "ck.h5") as f:
        g = f["training"].attrs
        assert isinstance(g["lr"], float) and isinstance(g["batch_size"], (int, np.integer))
        assert isinstance(g["seed"], (int, np.integer)) and isinstance(g["warmup"], (int, np.integer))
    with h5py.File(tmp_path / "partition.h5") as f:
        keys = list(f["tensors"])
        assert len(keys) > 10 and keys == sorted(keys) and keys[0] == "00", keys[:12]


def test_a_strategy_name_wins_over_a_file_of_that_name(blockscope, tmp_path, monkeypatch):
    (tmp_path / "adam-mini").mkdir()  # a folder named like the strategy, in the working directory
    monkeypatch.chdir(tmp_path)
    blockscope("train", "--model", "gpt", "--optimizer", "adam-mini", "--steps", "1", "--batch-size", "2",
               "--out", tmp_path / "run.h5")
    with h5py.File(tmp_path / "run.h5") as f:
        assert f.attrs["partition_strategy"] == "adam-mini"


def test_gradient_file_minibatches_attribute_must_be_positive(blockscope, tmp_path):
    with h5py.File(tmp_path / "g.h5", "w") as f:
        f["w"] = np.ones((3, 2), np.float32)
        f.attrs["minibatches"] = -7
    out = tmp_path / "p.h5"
    error_line(blockscope, ["partition", "-s", "gefen", "--gradients", tmp_path / "g.h5", "--out", out],
               "the root attribute minibatches must be ≥ 1, got -7", out)
