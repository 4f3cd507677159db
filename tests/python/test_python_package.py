"""The `blockscope` Python package: importable by a plain /usr/bin/python3
after the README's set-up, its optimizers against torch.optim.AdamW,
torch.optim.SGD and the Lion rule, and
bitwise against the CLI's `train`, and a plain PyTorch training loop with
blockscope.optim.Gefen on a model that is not in the zoo, judged on held-out
data."""
import contextlib
import functools
import math
import os
import subprocess

import h5py
import numpy as np
import pytest
import torch
from torch import nn

blockscope = pytest.importorskip("blockscope", reason="the Python package is built by scripts/build")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 24)
        self.norm = nn.LayerNorm(24)
        self.fc2 = nn.Linear(24, 4)

    def forward(self, x):
        return self.fc2(torch.tanh(self.norm(self.fc1(x))))


def test_import_with_a_plain_interpreter():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(["/usr/bin/python3", "-c", "import blockscope; print(blockscope.optim.Gefen.__name__)"],
                            capture_output=True, text=True, env=env, cwd="/")
    assert result.returncode == 0 and result.stdout.strip() == "Gefen", result.stderr


def test_adamw_matches_torch_optim_adamw():
    torch.manual_seed(0)
    ours, theirs = Net(), Net()
    theirs.load_state_dict(ours.state_dict())
    a = blockscope.optim.AdamW(ours.named_parameters(), lr=1e-2, weight_decay=0.1)
    b = torch.optim.AdamW(theirs.parameters(), lr=1e-2, weight_decay=0.1)
    schedulers = [torch.optim.lr_scheduler.StepLR(o, step_size=10, gamma=0.5) for o in (a, b)]
    x, y = torch.randn(64, 16), torch.randint(0, 4, (64,))
    for _ in range(30):
        for opt, model in ((a, ours), (b, theirs)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        for s in schedulers:
            s.step()
    # float32: both compute the same update with operations in another order
    # (bias corrections folded differently), a few ulp of |p| ≈ 0.3 per step;
    # 30 steps stay below 2e-6 absolute.
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=2e-6, msg=name)
    assert a.param_groups[0]["lr"] == b.param_groups[0]["lr"] == 1e-2 * 0.5 ** 3


def _train_pair(ours_opt, theirs_opt, ours, theirs, steps=30):
    x, y = torch.randn(64, 16), torch.randint(0, 4, (64,))
    for _ in range(steps):
        for opt, model in ((ours_opt, ours), (theirs_opt, theirs)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()


def test_sgd_matches_torch_optim_sgd():
    torch.manual_seed(3)
    ours, theirs = Net(), Net()
    theirs.load_state_dict(ours.state_dict())
    start = [p.detach().clone() for p in ours.parameters()]
    _train_pair(blockscope.optim.SGD(ours.named_parameters(), lr=5e-2, momentum=0.9, weight_decay=0.1),
                torch.optim.SGD(theirs.parameters(), lr=5e-2, momentum=0.9, weight_decay=0.1), ours, theirs)
    # float32: the same operations in the same order (g + wd·p, μ·buf + d,
    # p − lr·buf); torch's vectorised add may fuse one into an fma, a rounding
    # of |p| ≲ 1 per step: 30 steps stay below 2e-6 absolute.
    for (name, p), q, p0 in zip(ours.named_parameters(), theirs.parameters(), start):
        torch.testing.assert_close(p, q, rtol=0, atol=2e-6, msg=name)
        assert (p - p0).abs().max() > 1e-3, f"{name} did not move"


def _lion_reference_step(params, states, lr, beta1, beta2, wd):
    """lucidrains/lion-pytorch's update_fn (arXiv 2302.06675 Algorithm 2), with torch ops."""
    for p, exp_avg in zip(params, states):
        p.data.mul_(1 - lr * wd)
        update = exp_avg.clone().mul_(beta1).add(p.grad, alpha=1 - beta1).sign_()
        p.add_(update, alpha=-lr)
        exp_avg.mul_(beta2).add_(p.grad, alpha=1 - beta2)


def test_lion_matches_the_lion_rule():
    torch.manual_seed(4)
    ours, theirs = Net(), Net()
    theirs.load_state_dict(ours.state_dict())
    params = list(theirs.parameters())
    states = [torch.zeros_like(p) for p in params]

    class Reference:
        def zero_grad(self):
            for p in params:
                p.grad = None

        @torch.no_grad()
        def step(self):
            _lion_reference_step(params, states, 1e-3, 0.9, 0.99, 0.5)

    _train_pair(blockscope.optim.Lion(ours.named_parameters(), lr=1e-3, weight_decay=0.5), Reference(), ours, theirs)
    # sign(c) is ±1 in both unless c rounds across 0; the weight updates
    # p·(1 − lr·wd) − lr·sign are then the same roundings, so 2e-6 is ample
    # (one flipped sign would cost 2·lr = 2e-3).
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=2e-6, msg=name)


@pytest.mark.parametrize("preset", ["adamw", "adam-mini", "gefen", "flash-adamw", "sgd", "flash-lion"])
def test_python_optimizer_equals_cli_train_bitwise(blockscope_cli, tmp_path, preset):
    torch.manual_seed(1)
    model_path, data_path = tmp_path / "net.pt", tmp_path / "data.h5"
    torch.jit.save(torch.jit.script(Net()), str(model_path))
    x, y = _cli_data(tmp_path)
    steps, batch = 9, 8  # 5 full batches of the 43 training examples per epoch: the 6th step starts a second epoch
    blockscope_cli("train", "--model", model_path, "--data", data_path, "--optimizer", preset, "--steps", steps,
                   "--batch-size", batch, "--lr", "3e-3", "--out", tmp_path / "run.h5",
                   "--save-params", tmp_path / "params.h5")
    model = torch.jit.load(str(model_path))
    model.train()
    cls = {"adamw": blockscope.optim.AdamW, "adam-mini": blockscope.optim.AdamMini,
           "gefen": blockscope.optim.Gefen, "flash-adamw": blockscope.optim.FlashAdamW,
           "sgd": functools.partial(blockscope.optim.SGD, momentum=0.9),  # the CLI's sgd default
           "flash-lion": blockscope.optim.FlashLion}[preset]
    # adam-mini warns that no name rule matches fc1.weight / fc2.weight (they share one v each)
    # Python's profiling executor would differentiate the scripted forward through
    # its own autodiff subgraphs, whose gradients differ from the CLI's in the last
    # bit; unoptimized execution gives the CLI's gradients, so any difference left
    # would be the optimizer's.
    warns = pytest.warns(UserWarning, match="no name rule matched") if preset == "adam-mini" else contextlib.nullcontext()
    with warns, torch.jit.optimized_execution(False):
        opt = cls(model.named_parameters(), lr=3e-3)
        for s in range(steps):
            k = s % (len(x) // batch)
            xb, yb = torch.from_numpy(x[k * batch:(k + 1) * batch]), torch.from_numpy(y[k * batch:(k + 1) * batch])
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    with h5py.File(tmp_path / "params.h5") as f:
        for name, p in model.named_parameters():
            assert np.array_equal(p.detach().numpy(), f[name][()]), f"{preset}: {name} differs from the CLI's"


def test_gefen_trains_a_user_module_on_held_out_data():
    torch.manual_seed(2)
    teacher = Net()
    x = torch.randn(1200, 16)
    with torch.no_grad():
        y = teacher(x).argmax(-1)
    train_x, train_y, held_x, held_y = x[:1000], y[:1000], x[1000:], y[1000:]
    model = Net()
    opt = blockscope.optim.Gefen(model.named_parameters(), lr=1e-2)
    with torch.no_grad():
        before = nn.functional.cross_entropy(model(held_x), held_y).item()
    for epoch in range(5):
        for i in range(0, 1000, 50):
            opt.zero_grad()
            nn.functional.cross_entropy(model(train_x[i:i + 50]), train_y[i:i + 50]).backward()
            opt.step()
    with torch.no_grad():
        after = nn.functional.cross_entropy(model(held_x), held_y).item()
    summary = opt.summary()
    assert summary["partition"] == "gefen" and summary["state_bytes"]["codebook"] == 1024
    assert after < 0.5 * before, (before, after)


def test_bad_arguments_are_one_clear_error():
    model = Net()
    with pytest.raises(ValueError, match="unknown optimizer 'adamx'"):
        blockscope.optim.BlockOptimizer(model.named_parameters(), spec="adamx")
    with pytest.raises(RuntimeError, match="no-such-strategy"):
        blockscope.optim.AdamW(model.named_parameters(), partition="no-such-strategy")


def _cli_data(tmp_path, n=48):
    """Writes n examples to data.h5; returns the part `train` trains on: the CLI holds out the last ⌈0.1·n⌉
    examples of a data file by default (--eval-fraction 0.1), 5 of 48."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((n, 16)).astype(np.float32), rng.integers(0, 4, n)
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["inputs"], f["targets"] = x, y
    train = n - math.ceil(0.1 * n)
    return x[:train], y[:train]


def _train_python(model, opt, x, y, first_step, last_step, batch):
    """Steps first_step..last_step-1 in the CLI's data order (consecutive batches, epochs wrap)."""
    with torch.jit.optimized_execution(False):
        for s in range(first_step, last_step):
            k = s % (len(x) // batch)
            xb, yb = torch.from_numpy(x[k * batch:(k + 1) * batch]), torch.from_numpy(y[k * batch:(k + 1) * batch])
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()


@pytest.mark.parametrize("preset", ["adamw", "gefen", "flash-adamw"])
def test_cli_checkpoint_resumes_in_python_bitwise(blockscope_cli, tmp_path, preset):
    """A CLI checkpoint after 4 steps, loaded into the Python optimizer and trained 5 more steps, gives the
    parameters of a 9-step CLI run exactly; state_dict()/load_state_dict() carries the kernels' state."""
    torch.manual_seed(1)
    model_path = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(Net()), str(model_path))
    x, y = _cli_data(tmp_path)
    common = ["--model", model_path, "--data", tmp_path / "data.h5", "--optimizer", preset, "--batch-size", 8,
              "--lr", "3e-3"]
    blockscope_cli("train", *common, "--steps", 9, "--out", tmp_path / "run9.h5", "--save-params", tmp_path / "p9.h5")
    blockscope_cli("train", *common, "--steps", 4, "--out", tmp_path / "run4.h5", "--checkpoint", tmp_path / "ck4.h5")
    cls = {"adamw": blockscope.optim.AdamW, "gefen": blockscope.optim.Gefen,
           "flash-adamw": blockscope.optim.FlashAdamW}[preset]
    model = torch.jit.load(str(model_path))  # initial parameters: the checkpoint replaces them
    model.train()
    opt = cls(model.named_parameters(), lr=3e-3)
    opt.load_checkpoint(tmp_path / "ck4.h5")
    _train_python(model, opt, x, y, 4, 6, 8)
    # Round trip through a state dict into a fresh optimizer over a copy of the model.
    state = opt.state_dict()
    assert isinstance(state["blockscope_checkpoint"], bytes)
    twin = torch.jit.load(str(model_path))
    twin.train()
    twin_opt = cls(twin.named_parameters(), lr=3e-3)
    twin_opt.load_state_dict(state)
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        assert torch.equal(p, q), f"load_state_dict did not restore {name}"
    _train_python(model, opt, x, y, 6, 9, 8)
    _train_python(twin, twin_opt, x, y, 6, 9, 8)
    with h5py.File(tmp_path / "p9.h5") as f:
        for (name, p), q in zip(model.named_parameters(), twin.parameters()):
            assert np.array_equal(p.detach().numpy(), f[name][()]), f"{preset}: {name} differs from the CLI's"
            assert torch.equal(p, q), f"{preset}: {name} differs after the state-dict round trip"
    # And the Python optimizer's own checkpoint is the CLI's format.
    opt.save_checkpoint(tmp_path / "py.h5")
    with h5py.File(tmp_path / "py.h5") as f, h5py.File(tmp_path / "ck4.h5") as g:
        assert f.attrs["schema"] == g.attrs["schema"] == "blockscope.checkpoint/1"
        assert set(f["state"]) == set(g["state"])


def test_checkpoint_of_another_model_is_refused_and_changes_nothing(blockscope_cli, tmp_path):
    torch.manual_seed(1)
    torch.jit.save(torch.jit.script(Net()), str(tmp_path / "net.pt"))
    _cli_data(tmp_path)
    blockscope_cli("train", "--model", tmp_path / "net.pt", "--data", tmp_path / "data.h5", "--steps", 2,
                   "--batch-size", 8, "--out", tmp_path / "run.h5", "--checkpoint", tmp_path / "ck.h5")
    other = nn.Sequential(nn.Linear(16, 4))
    before = [p.detach().clone() for p in other.parameters()]
    opt = blockscope.optim.AdamW(other.named_parameters())
    with pytest.raises(RuntimeError, match="another model"):
        opt.load_checkpoint(tmp_path / "ck.h5")
    assert all(torch.equal(a, b) for a, b in zip(before, other.parameters()))
