"""Notebooks execute end to end on fresh result files (nbconvert, Debian's
python3 kernel)."""
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
