"""Notebooks execute end to end on fresh result files (nbconvert, Debian's
python3 kernel)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--lanczos-steps", "6", "--probes", "2", "--bootstrap", "4", "--top-k", "1", "--sigma", "0.01"]


def test_heterogeneity_notebook_runs(blockscope, tmp_path):
    files = []
    for model in ["mlp", "cnn"]:
        out = tmp_path / f"{model}.h5"
        blockscope("spectrum", "--model", model, *FAST, "--out", out)
        files.append(str(out))
    env = dict(os.environ, BLOCKSCOPE_ROOT=str(ROOT), BLOCKSCOPE_SPECTRA=":".join(files),
               BLOCKSCOPE_FIGURES=str(tmp_path / "figures"))
    executed = tmp_path / "executed.ipynb"
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
                    "--ExecutePreprocessor.timeout=300", "--output", str(executed),
                    str(ROOT / "notebooks" / "heterogeneity.ipynb")], check=True, env=env, capture_output=True)
    nb = nbformat.read(executed, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert (tmp_path / "figures" / "heterogeneity_comparison.png").stat().st_size > 10_000
    assert (tmp_path / "figures" / "cnn" / "densities.png").exists()


def _execute(notebook, env, tmp_path):
    executed = tmp_path / "executed.ipynb"
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
                    "--ExecutePreprocessor.timeout=300", "--output", str(executed), str(ROOT / "notebooks" / notebook)],
                   check=True, env=env, capture_output=True)
    nb = nbformat.read(executed, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_partition_ablation_notebook_runs_on_a_small_grid_and_on_the_committed_result(blockscope, tmp_path):
    grid = {"models": ["gpt:n_layer=1,n_head=2,n_kv_head=1,head_dim=4,d_model=8,d_ff=16"], "data": ["markov"],
            "partitions": ["per-element", "per-tensor"], "optimizers": ["adam-mini"], "lrs": [1e-3, 1e-2],
            "steps": 4, "batch_size": 8, "examples": 64, "eval_fraction": 0.25, "eval_every": 2}
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    blockscope("ablate", "-c", tmp_path / "grid.json", "-o", tmp_path / "small.h5")
    env = dict(os.environ, BLOCKSCOPE_ROOT=str(ROOT), BLOCKSCOPE_ABLATION=str(tmp_path / "small.h5"),
               BLOCKSCOPE_FIGURES=str(tmp_path / "small"))
    text = _execute("partition_ablation.ipynb", env, tmp_path)
    assert "per-tensor" in text and "4 cells" in text
    assert (tmp_path / "small" / "ablation_pareto.png").stat().st_size > 10_000
    committed = ROOT / "experiments" / "studies" / "partition_ablation" / "result.h5"
    env = dict(os.environ, BLOCKSCOPE_ROOT=str(ROOT), BLOCKSCOPE_FIGURES=str(tmp_path / "committed"))
    text = _execute("partition_ablation.ipynb", env, tmp_path)
    assert f"{committed}: 15 cells" in text
    assert (tmp_path / "committed" / "ablation_lr.png").stat().st_size > 10_000
