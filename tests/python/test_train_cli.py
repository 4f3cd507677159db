"""`blockscope train`: the run file, exact resume through the CLI, and bad
input (one-line error, non-zero exit, no files written)."""
import h5py
import numpy as np
import pytest
import torch

from test_bad_inputs import expect_error

SMALL = {"--model": "mlp", "--steps": "6", "--batch-size": "8", "--examples": "64"}


def train_args(tmp_path, *extra):
    """A small run; options in `extra` replace the defaults in SMALL."""
    given = set(extra[0::2])
    defaults = {**SMALL, "--out": tmp_path / "run.h5"}
    return ["train", *[x for key, value in defaults.items() if key not in given for x in (key, value)], *extra]


def expect_train_error(blockscope, tmp_path, extra, fragment):
    before = set(tmp_path.iterdir())
    expect_error(blockscope, train_args(tmp_path, *extra), fragment)
    assert set(tmp_path.iterdir()) == before, "no files (not even partial ones) on bad input"


def test_run_file_records_loss_lr_time_and_state_bytes(blockscope, tmp_path):
    blockscope(*train_args(tmp_path, "--optimizer", "flash-adamw", "--schedule", "cosine", "--warmup", "2",
                           "--save-params", tmp_path / "params.h5"))
    with h5py.File(tmp_path / "run.h5") as f:
        assert f.attrs["schema"] == "blockscope.run/1"
        assert f.attrs["optimizer_spec"] == "rule=adam,v=companded,m=companded,w=bf16+int8,exclude=none,p1=reference"
        assert f["loss"].shape == (6,) and np.all(np.isfinite(f["loss"][()]))
        lr = f["lr"][()]
        assert lr[0] == pytest.approx(0.5e-3) and lr[1] == pytest.approx(1e-3) and lr[-1] < lr[2]
        assert np.all(f["step_time"][()] > 0)
        sb = f["state_bytes"].attrs
        assert sb["total"] == sb["m"] + sb["v"] + sb["scales"] + sb["codebook"] + sb["weight_correction"]
        assert sb["weight_correction"] == f.attrs["parameters"]  # one int8 ρ per parameter
    with h5py.File(tmp_path / "params.h5") as p:
        assert p.attrs["schema"] == "blockscope.params/1"
        assert sorted(p.keys()) == sorted(["linear.0.weight", "linear.0.bias", "linear.1.weight", "linear.1.bias",
                                           "linear.2.weight", "linear.2.bias"])


def test_resume_is_bitwise_identical(blockscope, tmp_path):
    common = ["train", "--model", "gpt:n_layer=1", "--data", "markov", "--batch-size", "4", "--examples", "32",
              "--optimizer", "gefen", "--lr", "3e-3", "--shuffle", "--eval-fraction", "0.25", "--eval-every", "3"]
    blockscope(*common, "--steps", "12", "--out", tmp_path / "straight.h5", "--save-params", tmp_path / "a.h5")
    # --steps 5 with the constant schedule stops at the same state as step 5 of 12
    blockscope(*common, "--steps", "5", "--out", tmp_path / "first.h5", "--checkpoint", tmp_path / "ck5.h5",
               "--checkpoint-every", "2")
    blockscope(*common, "--steps", "12", "--out", tmp_path / "resumed.h5", "--resume", tmp_path / "ck5.h5",
               "--save-params", tmp_path / "b.h5")
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert sorted(a.keys()) == sorted(b.keys())
        for name in a:
            assert np.array_equal(a[name][()], b[name][()]), name
    with h5py.File(tmp_path / "straight.h5") as s, h5py.File(tmp_path / "resumed.h5") as r:
        assert r.attrs["resumed_from_step"] == 5
        assert np.array_equal(s["loss"][()], r["loss"][()])
        # The held-out curve continues across the resume, with the first run's final evaluation (step 5) kept.
        assert list(s["eval/step"][()]) == [3, 6, 9, 12] and list(r["eval/step"][()]) == [3, 5, 6, 9, 12]
        assert np.array_equal(s["eval/loss"][()], np.delete(r["eval/loss"][()], 1))
    # Another held-out fraction trains on other examples: refused.
    expect_error(blockscope, [*common[:-4], "--eval-fraction", "0.5", "--steps", "12", "--out", tmp_path / "x.h5",
                              "--resume", tmp_path / "ck5.h5"], "was written with eval_fraction = 0.25, this run has 0.5")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(6, 12), torch.nn.Linear(12, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def test_held_out_examples_are_never_trained_on_and_their_loss_is_recorded(blockscope, tmp_path):
    """A data file of 50 examples: the last ⌈0.1·50⌉ = 5 are held out by default. Ground truth: (1) the training
    losses equal, bitwise, those of a run on a file holding only the first 45 examples with no held-out part;
    (2) the recorded held-out loss equals torch's cross-entropy of the saved final parameters on the last 5
    examples; (3) how often one evaluates does not change training."""
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(Net()), str(tmp_path / "net.pt"))
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((50, 6)).astype(np.float32), rng.integers(0, 3, 50)
    for name, n in (("all.h5", 50), ("head.h5", 45)):
        with h5py.File(tmp_path / name, "w") as f:
            f["inputs"], f["targets"] = x[:n], y[:n]
    common = ["train", "--model", tmp_path / "net.pt", "--batch-size", "8", "--steps", "7", "--lr", "1e-2"]
    blockscope(*common, "--data", tmp_path / "all.h5", "--eval-every", "3", "--out", tmp_path / "run.h5",
               "--save-params", tmp_path / "params.h5")
    blockscope(*common, "--data", tmp_path / "all.h5", "--eval-every", "1", "--out", tmp_path / "often.h5")
    blockscope(*common, "--data", tmp_path / "head.h5", "--eval-fraction", "0", "--out", tmp_path / "head_run.h5")
    model = torch.jit.load(str(tmp_path / "net.pt"))
    with h5py.File(tmp_path / "run.h5") as r, h5py.File(tmp_path / "often.h5") as o, \
            h5py.File(tmp_path / "head_run.h5") as h, h5py.File(tmp_path / "params.h5") as p:
        assert (r.attrs["eval_fraction"], r.attrs["train_examples"], r.attrs["eval_examples"]) == (0.1, 45, 5)
        assert np.array_equal(r["loss"][()], h["loss"][()])
        assert np.array_equal(r["loss"][()], o["loss"][()])
        assert list(r["eval/step"][()]) == [3, 6, 7] and list(o["eval/step"][()]) == list(range(1, 8))
        assert h["eval/loss"].shape == (0,) and h.attrs["eval_examples"] == 0
        with torch.no_grad():
            for name, param in model.named_parameters():
                param.copy_(torch.from_numpy(p[name][()]))
            expected = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[45:])), torch.from_numpy(y[45:]))
        # float32 forward of 5 examples in the same operations: agreement to a few ulp of the loss (~1e-7)
        assert r["eval/loss"][-1] == pytest.approx(expected.item(), rel=1e-6)
        assert o["eval/loss"][-1] == r["eval/loss"][-1]


def test_held_out_fraction_that_leaves_no_training_batch_is_refused(blockscope, tmp_path):
    expect_train_error(blockscope, tmp_path, ["--examples", "10", "--eval-fraction", "0.5"],
                       "the data holds 5 training examples after 5 held out, fewer than one batch of 8 (lower "
                       "--batch-size or --eval-fraction)")
    expect_train_error(blockscope, tmp_path, ["--eval-fraction", "1"], "--eval-fraction: must lie in [0, 1), got 1")


def test_unknown_optimizer_lists_presets(blockscope, tmp_path):
    expect_train_error(blockscope, tmp_path, ["--optimizer", "adagrad"],
                       "unknown optimizer 'adagrad' (presets: adamw, adam-mini, gefen, flash-adamw, sgd, lion, "
                       "flash-sgd, flash-lion")


def test_rule_and_storage_that_do_not_go_together_are_named(blockscope, tmp_path):
    expect_train_error(blockscope, tmp_path, ["--optimizer", "sgd,v=element"],
                       "optimizer 'sgd,v=element': rule sgd keeps no second moment; set v=none")


def test_bad_spec_value_lists_valid_values(blockscope, tmp_path):
    expect_train_error(blockscope, tmp_path, ["--optimizer", "v=half"],
                       "unknown value 'half' for optimizer key 'v' (valid: element, shared, companded, none)")


def test_unknown_partition_strategy(blockscope, tmp_path):
    expect_train_error(blockscope, tmp_path, ["--partition", "per-row"], "unknown partition strategy 'per-row' (valid:")


def test_missing_partition_file(blockscope, tmp_path):
    expect_train_error(blockscope, tmp_path, ["--partition", tmp_path / "nope.h5"], "nope.h5")


def test_partition_of_another_model(blockscope, tmp_path):
    other = tmp_path / "other.h5"
    blockscope("partition", "--strategy", "per-tensor", "--model", "mlp:hidden=8", "--out", other)
    expect_train_error(blockscope, tmp_path, ["--partition", other], "linear.0.weight")


@pytest.mark.parametrize("extra,fragment", [
    (["--steps", "0"], "--steps must be positive"),
    (["--betas", "0.9"], "--betas needs two numbers in [0, 1)"),
    (["--betas", "0.9,1.5"], "--betas needs two numbers in [0, 1)"),
    (["--lr", "-1"], "--lr must be a finite number >= 0"),
    (["--schedule", "linear"], "unknown --schedule 'linear' (valid: constant, cosine)"),
    (["--warmup", "99"], "--warmup must be in [0, steps = 6]"),
    (["--checkpoint-every", "2"], "--checkpoint-every needs --checkpoint FILE"),
    (["--non-finite", "ignore"], "unknown non-finite gradient policy 'ignore' (valid: skip, error)"),
    (["--batch-size", "100"], "fewer than one batch of 100"),
])
def test_bad_settings(blockscope, tmp_path, extra, fragment):
    expect_train_error(blockscope, tmp_path, extra, fragment)


def test_missing_resume_file(blockscope, tmp_path):
    expect_train_error(blockscope, tmp_path, ["--resume", tmp_path / "none.h5"], "checkpoint")


def test_out_in_missing_directory(blockscope, tmp_path):
    before = set(tmp_path.iterdir())
    expect_error(blockscope, train_args(tmp_path, "--out", tmp_path / "no" / "run.h5"), "does not exist")
    assert set(tmp_path.iterdir()) == before


def test_resume_from_another_model_or_optimizer(blockscope, tmp_path):
    ck = tmp_path / "ck.h5"
    blockscope(*train_args(tmp_path, "--checkpoint", ck))
    (tmp_path / "run.h5").unlink()
    expect_train_error(blockscope, tmp_path, ["--model", "mlp:hidden=16", "--resume", ck],
                       "was written with model = mlp(d_in=16, hidden=32, depth=2, classes=4, activation=tanh), "
                       "this run has mlp(d_in=16, hidden=16")
    expect_train_error(blockscope, tmp_path, ["--optimizer", "adam-mini", "--resume", ck], "was written by optimizer")
    expect_train_error(blockscope, tmp_path, ["--lr", "0.5", "--resume", ck], "was written with lr = 0.001")


def test_resume_restores_batchnorm_buffers(blockscope, tmp_path):
    """Training-mode forwards never read BatchNorm's running statistics, so only
    the checkpoint carries them: a resumed run ends with the same buffers (and
    batch counters) as an uninterrupted one, and a checkpoint without them is
    refused."""
    common = ["train", "--model", "resnet", "--batch-size", "4", "--examples", "16"]
    blockscope(*common, "--steps", "6", "--out", tmp_path / "straight.h5", "--checkpoint", tmp_path / "straight_ck.h5")
    blockscope(*common, "--steps", "3", "--out", tmp_path / "first.h5", "--checkpoint", tmp_path / "ck3.h5")
    blockscope(*common, "--steps", "6", "--out", tmp_path / "resumed.h5", "--resume", tmp_path / "ck3.h5",
               "--checkpoint", tmp_path / "resumed_ck.h5")
    with h5py.File(tmp_path / "straight_ck.h5") as s, h5py.File(tmp_path / "resumed_ck.h5") as r:
        names = sorted(s["buffers"].keys())
        assert names == sorted(r["buffers"].keys())
        for name in names:
            assert np.array_equal(s["buffers"][name][()], r["buffers"][name][()]), name
        counters = [n for n in names if n.endswith("num_batches_tracked")]
        means = [n for n in names if n.endswith("running_mean")]
        assert counters and means
        assert all(s["buffers"][n][()] == 6 for n in counters)  # one update per training step
        assert not np.allclose(s["buffers"][means[0]][()], 0.0)  # moved from the initial zeros
    no_buffers = tmp_path / "no_buffers.h5"
    with h5py.File(tmp_path / "ck3.h5") as src, h5py.File(no_buffers, "w") as dst:
        for key in src:
            if key != "buffers":
                src.copy(key, dst)
        dst.attrs.update(src.attrs)
    expect_train_error(blockscope, tmp_path, [*common[1:], "--steps", "6", "--resume", no_buffers],
                       "has no model buffers")


@pytest.mark.parametrize("model", ["mlp", "cnn", "resnet", "gpt", "vit"])
@pytest.mark.parametrize("preset", ["adamw", "adam-mini", "gefen", "flash-adamw"])
def test_every_preset_trains_every_zoo_model(blockscope, tmp_path, model, preset):
    """Six steps on one repeated batch: the loss must fall (any Adam-family step
    of lr 3e-3 is a descent step here), and each state component takes the
    bytes its format needs (state_layout.h) for n parameters and B v blocks."""
    blockscope("train", "--model", model, "--optimizer", preset, "--steps", "6", "--lr", "3e-3", "--batch-size", "8",
               "--examples", "8", "--eval-fraction", "0", "--out", tmp_path / "run.h5", "--save-params", tmp_path / "params.h5")
    with h5py.File(tmp_path / "params.h5") as p:
        # 32-element groups, per tensor (parameters are the root's datasets; /buffers holds BatchNorm statistics)
        groups32 = sum(-(-p[name].size // 32) for name in p if isinstance(p[name], h5py.Dataset))
    with h5py.File(tmp_path / "run.h5") as f:
        loss = f["loss"][()]
        assert np.all(np.isfinite(loss)) and loss[-1] < loss[0], loss
        n, blocks, b = f.attrs["parameters"], f.attrs["v_blocks"], f["state_bytes"].attrs
        m, v, scales, codebook, rho = b["m"], b["v"], b["scales"], b["codebook"], b["weight_correction"]
    if preset == "adamw":
        assert (m, v, scales, codebook, rho) == (4 * n, 4 * n, 0, 0, 0)
    elif preset == "adam-mini":
        assert (m, v, scales, codebook, rho) == (4 * n, 4 * blocks, 0, 0, 0)
    elif preset == "gefen":  # uint8 codes, fp32 v per block, fp32 scales, 256 fp32 levels
        assert (m, v, codebook, rho) == (n, 4 * blocks, 1024, 0) and 0 < scales <= 4 * n
    else:  # int8 m, uint8 v, int8 ρ; two fp16 scales (m, v) per 32-element group
        assert (m, v, scales, codebook, rho) == (n, n, 4 * groups32, 0, n)


@pytest.mark.parametrize("model", ["mlp", "gpt"])
@pytest.mark.parametrize("preset", ["sgd", "lion", "flash-sgd", "flash-lion"])
def test_momentum_presets_train_and_keep_only_m(blockscope, tmp_path, model, preset):
    """Six steps on one repeated batch: the loss falls (a small SGD or Lion
    step descends on one batch); the state is m alone: fp32 (4 B), or int8
    with one fp16 scale per 32-element group plus the int8 ρ of bf16+int8 weights."""
    blockscope("train", "--model", model, "--optimizer", preset, "--steps", "6", "--batch-size", "8", "--examples", "8",
               "--lr", "3e-2" if "sgd" in preset else "1e-3", "--eval-fraction", "0", "--out", tmp_path / "run.h5",
               "--save-params", tmp_path / "params.h5")
    with h5py.File(tmp_path / "params.h5") as p:
        groups32 = sum(-(-p[name].size // 32) for name in p if isinstance(p[name], h5py.Dataset))
    with h5py.File(tmp_path / "run.h5") as f:
        loss = f["loss"][()]
        assert np.all(np.isfinite(loss)) and loss[-1] < loss[0], loss
        assert (f.attrs["beta1"], f.attrs["beta2"]) == ((0.9, 0.0) if "sgd" in preset else (0.9, 0.99))
        n, b = f.attrs["parameters"], f["state_bytes"].attrs
        got = (b["m"], b["v"], b["scales"], b["codebook"], b["weight_correction"])
    assert got == ((4 * n, 0, 0, 0, 0) if not preset.startswith("flash") else (n, 0, 2 * groups32, 0, n))
