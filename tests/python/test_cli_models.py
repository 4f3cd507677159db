"""The `models` and `info` commands against torch's own view of the models."""
import re

import h5py
import numpy as np
import pytest
import torch

ZOO = ["mlp", "cnn", "resnet", "gpt", "vit"]


def parse_info(stdout):
    rows = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\S+)\s+\[([0-9, ]*)\]\s+(\d+)", line)
        if m:
            rows[m.group(1)] = int(m.group(3))
    total = int(re.search(r"total: (\d+) parameters", stdout).group(1))
    return rows, total


def test_models_lists_every_zoo_model(blockscope):
    out = blockscope("models").stdout
    for name in ZOO:
        assert re.search(rf"^{name}\s+\d+ params", out, re.M), name
    assert "text" in out and "FILE.h5" in out


@pytest.mark.parametrize("name", ZOO)
def test_info_table_adds_up(blockscope, name):
    rows, total = parse_info(blockscope("info", "--model", name).stdout)
    assert rows and sum(rows.values()) == total


@pytest.mark.parametrize("fixture", ["mlp", "attention"])
def test_info_on_torchscript_matches_torch(blockscope, fixtures_dir, fixture):
    module = torch.jit.load(str(fixtures_dir / f"{fixture}.pt"))
    expected = {n: p.numel() for n, p in module.named_parameters()}  # de-duplicated by torch
    rows, total = parse_info(blockscope("info", "--model", fixtures_dir / f"{fixture}.pt").stdout)
    assert rows == expected
    assert total == sum(expected.values())


def test_info_reports_tied_weights(blockscope, fixtures_dir):
    out = blockscope("info", "--model", fixtures_dir / "attention.pt").stdout
    assert "(tied: lm_head.weight)" in out


def test_info_loss_on_user_hdf5_matches_torch(blockscope, fixtures_dir, tmp_path):
    torch.manual_seed(1)
    x = torch.randn(300, 6)
    y = torch.randint(0, 3, (300,))
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["inputs"] = x.numpy()
        f["targets"] = y.numpy()
    module = torch.jit.load(str(fixtures_dir / "mlp.pt"))
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(module(x), y).item()
    out = blockscope("info", "--model", fixtures_dir / "mlp.pt", "--data", path).stdout
    loss = float(re.search(r"loss: cross_entropy \(mean over 300 examples\) = ([0-9.]+)", out).group(1))
    # Printed with 6 decimals; torch's fp32 loss agrees far below that.
    assert abs(loss - expected) < 2e-6


def test_info_data_on_every_zoo_model(blockscope):
    for name in ZOO:
        out = blockscope("info", "--model", name, "--data", "auto", "--examples", "16").stdout
        assert re.search(r"loss: (cross_entropy|mse) \(mean over \d+ examples\) = \d", out), name
