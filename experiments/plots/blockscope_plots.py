"""Figures from blockscope result files (HDF5), shared by the CLI (through
embedded Python) and the notebooks. Matplotlib with the Agg backend.

plot_result(kind, path, outdir) -> list of PNG paths written.
"""
import os

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _short(name, width=28):
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _title(f, what):
    a = f.attrs
    model = a.get("model_spec", a.get("model", ""))
    sigma = f"σ={a['sigma']:g} ({a['sigma_mode']})" if "sigma" in a else ""
    return f"{what} — {model}\n{sigma}, m={a.get('lanczos_steps', '?')}, n_v={a.get('probes', '?')}"


def plot_densities(f, outdir):
    grid = f["density/grid"][()]
    values = f["density/values"][()]
    names = [n.decode() if isinstance(n, bytes) else n for n in f["blocks/names"][()]]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    cmap = plt.get_cmap("viridis", max(len(names), 2))
    floor = 1e-12 * values.max()
    for i, (name, density) in enumerate(zip(names, values)):
        ax.semilogy(grid, np.maximum(density, floor), color=cmap(i), lw=1.0,
                    label=_short(name) if len(names) <= 30 else None)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("spectral density (log)")
    ax.set_ylim(bottom=max(floor, 1e-8 * values.max()))
    ax.set_title(_title(f, "Per-block Hessian spectral densities"), fontsize=10)
    if len(names) <= 30:
        ax.legend(fontsize=6, ncol=2, loc="upper right")
    fig.tight_layout()
    path = os.path.join(outdir, "densities.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _heatmap(matrix, names, title, label, path, vmin=None, vmax=None):
    fig, ax = plt.subplots(figsize=(8, 7))
    im = ax.imshow(matrix, cmap="magma", vmin=vmin, vmax=vmax)
    if len(names) <= 40:
        ax.set_xticks(range(len(names)))
        ax.set_yticks(range(len(names)))
        ax.set_xticklabels([_short(n, 20) for n in names], rotation=90, fontsize=6)
        ax.set_yticklabels([_short(n, 20) for n in names], fontsize=6)
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_js(f, outdir):
    names = [n.decode() if isinstance(n, bytes) else n for n in f["blocks/names"][()]]
    js = f["js/matrix"][()]
    title = _title(f, f"Jensen–Shannon distance between block spectra (mean {f.attrs.get('mean_js', np.nan):.3f})")
    return _heatmap(js, names, title, "JS distance (log2, bounded)", os.path.join(outdir, "js_heatmap.png"), 0.0, 1.0)


def plot_coupling(f, outdir):
    names = [n.decode() if isinstance(n, bytes) else n for n in f["blocks/names"][()]]
    ratio = f["coupling/ratio"][()]
    title = f"Block coupling r_ab = ‖H_ab‖F / sqrt(‖H_aa‖F ‖H_bb‖F) — {f.attrs.get('model_spec', '')}"
    return _heatmap(ratio, names, title, "r_ab", os.path.join(outdir, "coupling_heatmap.png"), 0.0, None)


def plot_result(kind, path, outdir):
    os.makedirs(outdir, exist_ok=True)
    written = []
    with h5py.File(path, "r") as f:
        if kind in ("spectrum",):
            if "density/values" in f:
                written.append(plot_densities(f, outdir))
            if "js/matrix" in f and f["js/matrix"].shape[0] > 1:
                written.append(plot_js(f, outdir))
        if "coupling/ratio" in f:
            written.append(plot_coupling(f, outdir))
    return written
