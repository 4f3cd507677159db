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


def _save(fig, path):
    """Lays out, writes (120 dpi) and closes the figure; returns the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
    return _save(fig, os.path.join(outdir, "densities.png"))


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
    return _save(fig, path)


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


def _partition_groups(f):
    groups = f["partitions"]
    return [groups[k] for k in sorted(groups, key=int)]


def _partition_label(g):
    name = os.path.splitext(os.path.basename(str(g.attrs["file"])))[0]
    strategy = str(g.attrs["strategy"])
    label = strategy if name == strategy else f"{strategy} ({name})"
    return f"{label}: {int(g.attrs['num_blocks'])} blocks, mean|v/v̄−1| {g.attrs['mean_abs_dev']:.3f}"


def _diagnostics_title(f, what):
    a = f.attrs
    source = a.get("model_spec", a.get("gradient_source", ""))
    return f"{what} — {source}\nv ≈ E[g²] over {a.get('minibatches', '?')} minibatches"


def plot_log_ratio_histograms(f, outdir):
    edges = f["histogram_edges"][()]
    centres = 0.5 * (edges[1:] + edges[:-1])
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for g in _partition_groups(f):
        counts = g["histogram"][()].astype(float)
        total = counts.sum()
        if total > 0:
            ax.step(centres, counts / total, where="mid", lw=1.2, label=_partition_label(g))
    ax.set_yscale("log")
    ax.set_xlabel("ln(v_i / v̄_b)   (v_i > 0; end bins hold everything beyond)")
    ax.set_ylabel("fraction of elements")
    ax.axvline(0.0, color="grey", lw=0.6)
    ax.set_title(_diagnostics_title(f, "Per-element second moment against its block mean"), fontsize=10)
    ax.legend(fontsize=7)
    return _save(fig, os.path.join(outdir, "log_ratio_histogram.png"))


def plot_block_cv(f, outdir):
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for g in _partition_groups(f):
        size = g["blocks/size"][()]
        cv = g["blocks/cv"][()][size > 1]
        if cv.size == 0:
            continue
        cv = np.sort(cv)[::-1]
        ax.plot(np.arange(1, cv.size + 1) / cv.size, cv, lw=1.2, label=_partition_label(g))
    ax.set_xlabel("blocks with ≥ 2 elements, ranked by CV (fraction)")
    ax.set_ylabel("coefficient of variation of v within the block")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_title(_diagnostics_title(f, "CV of E[g²] per block"), fontsize=10)
    ax.legend(fontsize=7)
    return _save(fig, os.path.join(outdir, "block_cv.png"))


def plot_tensor_deviation(f, outdir):
    groups = _partition_groups(f)
    names = [n.decode() if isinstance(n, bytes) else n for n in groups[0]["tensors/names"][()]]
    fig, ax = plt.subplots(figsize=(max(8, 0.35 * len(names) * len(groups) ** 0.5), 5.5))
    width = 0.8 / len(groups)
    for i, g in enumerate(groups):
        order = {(n.decode() if isinstance(n, bytes) else n): k for k, n in enumerate(g["tensors/names"][()])}
        dev = g["tensors/mean_abs_dev"][()]
        ax.bar(np.arange(len(names)) + i * width, [dev[order[n]] for n in names], width,
               label=_partition_label(g))
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2)
    ax.set_xticklabels([_short(n, 24) for n in names], rotation=90, fontsize=6)
    ax.set_ylabel("mean |v_i / v̄_b − 1| over the tensor")
    ax.set_title(_diagnostics_title(f, "Error of replacing v by its block mean, per tensor"), fontsize=10)
    ax.legend(fontsize=7)
    return _save(fig, os.path.join(outdir, "tensor_deviation.png"))


def plot_result(kind, path, outdir):
    os.makedirs(outdir, exist_ok=True)
    written = []
    with h5py.File(path, "r") as f:
        if kind in ("spectrum",):
            if "density/values" in f:
                written.append(plot_densities(f, outdir))
            if "js/matrix" in f and f["js/matrix"].shape[0] > 1:
                written.append(plot_js(f, outdir))
        if kind == "diagnostics" and "partitions" in f:
            written.append(plot_log_ratio_histograms(f, outdir))
            written.append(plot_block_cv(f, outdir))
            written.append(plot_tensor_deviation(f, outdir))
        if "coupling/ratio" in f:
            written.append(plot_coupling(f, outdir))
    return written


def plot_comparison(paths, outdir):
    """Mean JS between weight blocks per model, and each block's λ_max."""
    os.makedirs(outdir, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    labels, values, errors = [], [], []
    for i, path in enumerate(paths):
        with h5py.File(path, "r") as f:
            label = str(f.attrs.get("model_spec", os.path.basename(path)))
            ndim = f["blocks/ndim"][()]
            js, se = f["js/matrix"][()], f["js/stderr"][()]
            keep = np.where(ndim >= 2)[0]
            pairs = [(a, b) for ai, a in enumerate(keep) for b in keep[ai + 1:]]
            labels.append(label)
            values.append(np.mean([js[a, b] for a, b in pairs]) if pairs else np.nan)
            errors.append(np.mean([se[a, b] for a, b in pairs]) if pairs else 0.0)
            if "top_eigenvalues" in f:
                top = f["top_eigenvalues"][()][:, 0]
                shown = top[(ndim >= 2) & np.isfinite(top) & (top > 0)]
                right.scatter(np.full(shown.size, i), shown, s=14, alpha=0.7)
    left.bar(labels, values, yerr=errors, capsize=4, color="tab:purple")
    left.set_ylabel("mean pairwise JS distance (weight blocks)")
    left.set_ylim(0, 1)
    left.set_title("Block spectrum heterogeneity", fontsize=10)
    right.set_yscale("log")
    right.set_xticks(range(len(labels)))
    right.set_xticklabels(labels)
    right.set_ylabel("λ_max of each weight block")
    right.set_title("Curvature scale of each block", fontsize=10)
    return [_save(fig, os.path.join(outdir, "heterogeneity_comparison.png"))]
