"""`blockscope ablate`: a grid's cells equal standalone `train` runs of the same settings (the same core call),
the /cells table and curves, workers in parallel give the same numbers, a killed ablation resumes without
rerunning finished cells, a changed grid is refused, and bad grids are one clear error with nothing written."""
import json
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest
import torch

from test_bad_inputs import expect_error
from test_train_cli import Net

GRID = {"models": ["mlp"], "data": ["mixture"], "partitions": ["default", "per-tensor"],
        "optimizers": ["adam-mini", "gefen"], "lrs": [3e-3, 1e-2], "steps": 12, "batch_size": 16,
        "examples": 400, "eval_fraction": 0.2, "eval_every": 4}
CELLS = 8


def write_grid(path, **changes):
    path.write_text(json.dumps({**GRID, **changes}))
    return path


def table(path):
    with h5py.File(path) as f:
        return {k: [v.decode() if isinstance(v, bytes) else v for v in f["cells"][k][()]] for k in f["cells"]}


@pytest.fixture(scope="module")
def ablation(blockscope, tmp_path_factory):
    d = tmp_path_factory.mktemp("ablation")
    result = blockscope("ablate", "-c", write_grid(d / "grid.json"), "-o", d / "ab.h5", "--plots", d / "plots")
    return d, result


def test_cells_are_the_grid_product_and_equal_standalone_train_runs(blockscope, ablation, tmp_path):
    d, result = ablation
    cells = table(d / "ab.h5")
    expected = [(p, o, lr) for p in GRID["partitions"] for o in GRID["optimizers"] for lr in GRID["lrs"]]
    assert list(zip(cells["partition"], cells["optimizer"], cells["lr"])) == expected
    assert cells["index"] == list(range(CELLS)) and set(cells["model"]) == {"mlp"} and set(cells["seed"]) == {0}
    assert not any(cells["failed"]) and not any(cells["diverged"])
    # Ground truth: `blockscope train` with the cell's settings gives the same curves bitwise.
    for k in (3, 6):
        partition = [] if cells["partition"][k] == "default" else ["--partition", cells["partition"][k]]
        blockscope("train", "--model", "mlp", "--data", "mixture", "--optimizer", cells["optimizer"][k],
                   *partition, "--lr", cells["lr"][k], "--steps", 12, "--batch-size", 16, "--examples", 400,
                   "--eval-fraction", 0.2, "--eval-every", 4, "--out", tmp_path / f"train{k}.h5")
        with h5py.File(tmp_path / f"train{k}.h5") as t, h5py.File(d / "ab.h5") as a:
            curve = a["curves"][f"{k}"]
            assert np.array_equal(curve["loss"][()], t["loss"][()])
            assert np.array_equal(curve["eval_loss"][()], t["eval/loss"][()])
            assert list(curve["eval_step"][()]) == [4, 8, 12]
            assert cells["final_eval_loss"][k] == t["eval/loss"][-1]
            assert cells["best_eval_loss"][k] == t["eval/loss"][()].min()
            assert cells["final_train_loss"][k] == pytest.approx(t["loss"][-1:].mean(), rel=1e-12)  # last 10 %: 1
            for part in ("m", "v", "scales", "codebook", "weight_correction", "total"):
                assert cells[f"state_bytes_{part}"][k] == t["state_bytes"].attrs[part], part
            assert cells["v_blocks"][k] == t.attrs["v_blocks"]
            # tokens/s: positions per second of the cell's own step times (mlp: one class per example)
            with h5py.File(d / "ab.h5.cells" / f"cell-{k}.h5") as c:
                assert cells["tokens_per_second"][k] == pytest.approx(16 / c["step_time"][()].mean(), rel=1e-12)
    # Every cell sees the same data: the first step's loss (before any update) is the same in all.
    with h5py.File(d / "ab.h5") as a:
        first = {a["curves"][k]["loss"][0] for k in a["curves"]}
    assert len(first) == 1
    assert all(r > 50e6 for r in cells["peak_rss_bytes"]), "a worker's peak resident set holds at least libtorch"
    assert "optimizer" in result.stdout and "held-out" in result.stdout and f"{CELLS} cells" in result.stdout
    assert sorted(p.name for p in (d / "plots").iterdir()) == ["ablation_curves.png", "ablation_lr.png",
                                                               "ablation_pareto.png"]


def test_workers_in_parallel_give_the_same_numbers(blockscope, ablation, tmp_path):
    d, _ = ablation
    blockscope("ablate", "-c", write_grid(tmp_path / "grid.json"), "-o", tmp_path / "ab.h5", "--jobs", 2)
    one, two = table(d / "ab.h5"), table(tmp_path / "ab.h5")
    assert one["final_eval_loss"] == two["final_eval_loss"] and one["final_train_loss"] == two["final_train_loss"]
    assert set(two["threads"]) == {max(1, os.cpu_count() // 2)}


def test_killed_ablation_resumes_and_keeps_finished_cells(blockscope, ablation, tmp_path):
    d, _ = ablation
    grid = write_grid(tmp_path / "grid.json", steps=40, eval_every=10)
    out, cells_dir = tmp_path / "ab.h5", tmp_path / "ab.h5.cells"
    binary = blockscope("--version").args[0]
    job = subprocess.Popen([binary, "ablate", "-c", grid, "-o", out], start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (cells_dir / "cell-2.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)  # the whole job, workers included, as a killed batch job
    job.wait()
    assert not out.exists(), "no ablation file from a killed run"
    finished = {p.name: p.stat().st_mtime_ns for p in cells_dir.glob("cell-*.h5") if p.with_suffix(".json").exists()}
    assert 3 <= len(finished) < CELLS
    result = blockscope("ablate", "-c", grid, "-o", out)
    assert f"resuming: {len(finished)} of {CELLS} cells done" in result.stderr
    assert {n: (cells_dir / n).stat().st_mtime_ns for n in finished} == finished, "finished cells are not rerun"
    blockscope("ablate", "-c", grid, "-o", tmp_path / "straight.h5")
    resumed, straight = table(out), table(tmp_path / "straight.h5")
    assert resumed["final_eval_loss"] == straight["final_eval_loss"]


def test_an_unreadable_finished_cell_runs_again(blockscope, ablation, tmp_path):
    d, _ = ablation
    grid = write_grid(tmp_path / "grid.json", partitions=["default"], optimizers=["adam-mini"])
    blockscope("ablate", "-c", grid, "-o", tmp_path / "ab.h5")
    (tmp_path / "ab.h5.cells" / "cell-0.json").write_text("")  # as a crash while writing it would leave it
    result = blockscope("ablate", "-c", grid, "-o", tmp_path / "ab.h5")
    assert "resuming: 1 of 2 cells done" in result.stderr
    assert table(tmp_path / "ab.h5")["final_eval_loss"] == table(d / "ab.h5")["final_eval_loss"][:2]


def test_a_grid_holds_out_a_tenth_unless_told(blockscope, tmp_path):
    (tmp_path / "grid.json").write_text(json.dumps({"models": ["mlp"], "steps": 2, "batch_size": 8,
                                                    "examples": 40}))
    blockscope("ablate", "-c", tmp_path / "grid.json", "-o", tmp_path / "ab.h5")
    with h5py.File(tmp_path / "ab.h5.cells" / "cell-0.h5") as f:
        assert (f.attrs["eval_fraction"], f.attrs["eval_examples"]) == (0.1, 4)  # mixture: train's default is 0


def test_a_partition_the_optimizer_ignores_is_named(blockscope, tmp_path):
    (tmp_path / "grid.json").write_text(json.dumps({"models": ["mlp"], "optimizers": ["flash-adamw"],
                                                    "partitions": ["default", "whole-model"], "steps": 2,
                                                    "batch_size": 8, "examples": 40}))
    result = blockscope("ablate", "-c", tmp_path / "grid.json", "-o", tmp_path / "ab.h5")
    assert "optimizer flash-adamw reads no partition (no shared v, no codebook m): partition whole-model" \
        in result.stderr
    cells = table(tmp_path / "ab.h5")
    assert cells["final_eval_loss"][0] == cells["final_eval_loss"][1]


def test_a_changed_grid_is_refused_and_changes_nothing(blockscope, ablation):
    d, _ = ablation
    before = (d / "ab.h5").stat().st_mtime_ns
    expect_error(blockscope, ["ablate", "-c", write_grid(d / "changed.json", lrs=[1e-3]), "-o", d / "ab.h5"],
                 "holds an ablation of another grid (it differs in lrs): give another --out, or remove")
    assert (d / "ab.h5").stat().st_mtime_ns == before


@pytest.mark.parametrize("grid, fragment", [
    ({**GRID, "learning_rate": 1}, "'learning_rate' is not a grid key (valid: models, data, partitions"),
    ({**GRID, "steps": [10, 20]}, "'steps' is a shared setting, one value for every cell"),
    ({k: v for k, v in GRID.items() if k != "models"}, "'models' is required"),
    ({**GRID, "lrs": "1e-3"}, "'lrs' must be a non-empty list"),
    ({**GRID, "batch_size": 1.5}, "'batch_size' must be an integer (got 1.5)"),
    ({**GRID, "lrs": [1e-3, -1]}, "'lrs' entries must be finite and ≥ 0 (got -1)"),
    ({**GRID, "optimizers": ["adamw", "adagrad"]}, "cell 2 (model mlp, data mixture, partition default, optimizer adagrad"),
    ({**GRID, "partitions": ["nowhere.h5"]}, "nowhere.h5"),
    ({**GRID, "models": ["mlp", "nosuchmodel"]}, "nosuchmodel"),
    ({**GRID, "steps": 0}, "--steps must be positive, got 0"),
    ({**GRID, "steps": 18446744073709551615}, "'steps' is too large (got 18446744073709551615)"),
    ({**GRID, "steps": {"a": {"b": 1}}}, "'steps' must be an integer (got object)"),
    ({**GRID, "eval_fraction": -1}, "'eval_fraction' must lie in [0, 1) (got -1)"),
    # a strategy that needs no measurement is built in the check: adam-mini's heads must divide q's rows
    ({**GRID, "models": ["gpt"], "data": ["markov"], "n_heads": 3},
     "split per attention head, but the heads are not known"),
])
def test_bad_grids_are_one_error_and_write_nothing(blockscope, tmp_path, grid, fragment):
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    expect_error(blockscope, ["ablate", "-c", tmp_path / "grid.json", "-o", tmp_path / "ab.h5"], fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.json"]


def test_unreadable_configs_are_one_error(blockscope, tmp_path):
    expect_error(blockscope, ["ablate", "-c", tmp_path / "missing.json"], "cannot be read (give a GRID.json path)")
    (tmp_path / "bad.json").write_text('{"models": ["mlp"],')
    expect_error(blockscope, ["ablate", "-c", tmp_path / "bad.json"], "bad.json is not valid JSON")
    expect_error(blockscope, ["ablate"], "ablate needs --config GRID.json")


def test_a_torchscript_model_on_a_data_file(blockscope, tmp_path):
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(Net()), str(tmp_path / "net.pt"))
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["inputs"], f["targets"] = rng.standard_normal((100, 6)).astype(np.float32), rng.integers(0, 3, 100)
    grid = {"models": [str(tmp_path / "net.pt")], "data": [str(tmp_path / "data.h5")],
            "optimizers": ["adamw", "gefen"], "seeds": [0, 1], "steps": 6, "batch_size": 10}
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    result = blockscope("ablate", "-c", tmp_path / "grid.json", "-o", tmp_path / "ab.h5")
    cells = table(tmp_path / "ab.h5")
    assert list(zip(cells["optimizer"], cells["seed"])) == [("adamw", 0), ("adamw", 1), ("gefen", 0), ("gefen", 1)]
    assert all(np.isfinite(cells["final_eval_loss"])) and "4 cells" in result.stdout
    with h5py.File(tmp_path / "ab.h5") as f:
        assert f.attrs["schema"] == "blockscope.ablation/1" and json.loads(f.attrs["config"])["seeds"] == [0, 1]
        assert f["curves/0/eval_step"][-1] == 6  # the file's default held-out tenth, evaluated at the end
