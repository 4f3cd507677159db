"""Figures from blockscope result files (HDF5), shared by the CLI (through
embedded Python) and the notebooks. Matplotlib with the Agg backend.

plot_result(kind, path, outdir) -> list of PNG paths written.
plot_comparison(paths, outdir)  -> [path of heterogeneity_comparison.png].

Readability rules kept by every figure: names are shortened by
`short_labels` (which keeps the layer index and the leaf, and keeps
different names different), legends sit outside the axes (constrained
layout makes room for them, `_save` writes with a tight bounding box), and
figures stay at most about 1600 px wide at 120 dpi.
"""
import os
import re

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

DPI = 120
MAX_WIDTH_IN = 13.0          # 1560 px at 120 dpi
MAX_DEVIATION_TENSORS = 50   # tensor_deviation.png shows at most this many tensors
MAX_PANELS = 48              # densities.png: one panel per block up to this many blocks

# Called as _on_save(fig, path) just before a figure is written (tests hook it).
_on_save = None


def _figure(width, height, **kwargs):
    """A figure with constrained layout (which leaves room for legends outside the axes)."""
    return plt.subplots(figsize=(min(width, MAX_WIDTH_IN), height), layout="constrained", **kwargs)


def _save(fig, path):
    """Lays out, writes (120 dpi) and closes the figure; returns the path."""
    if not fig.get_constrained_layout():
        fig.tight_layout()
    if _on_save is not None:
        _on_save(fig, path)
    # A tight bounding box keeps legends and long tick labels inside the image.
    fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
    return path


def _legend_outside(ax, fontsize=7, **kwargs):
    """Legend to the right of the axes, top-aligned, outside the data area."""
    return ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     frameon=False, **kwargs)


def _legend_overlaps(fig):
    """Pairs (axes, legend) of the figure whose legend overlaps an axes' data
    area, after drawing; empty when every legend sits outside the axes."""
    fig.canvas.draw()
    legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None] + list(fig.legends)
    return [(ax, leg) for leg in legends for ax in fig.axes
            if ax.get_visible() and leg.get_window_extent().overlaps(ax.get_window_extent())]


# ----------------------------------------------------------------- names

_LAYER = re.compile(r"(^|\.)(?:layers|layer|blocks|block|h|encoder\.layer|decoder\.layers)\.(\d+)\.")
_LEAF = re.compile(r"\.(weight|bias)((?:\[[^\]]*\])?)$")
_LEAF_ABBREVIATION = {"weight": "w", "bias": "b"}


def _abbreviate(name):
    """'layers.0.attn.q_proj.weight' → 'L0.attn.q_proj.w' (a slice suffix '[a:b]' is kept)."""
    name = _LAYER.sub(lambda m: f"{m.group(1)}L{m.group(2)}.", name)
    return _LEAF.sub(lambda m: f".{_LEAF_ABBREVIATION[m.group(1)]}{m.group(2)}", name)


def _common_prefix(names):
    """Leading dot-separated components shared by all names (never a whole
    name, and never one that leaves a bare index such as '0.w' behind)."""
    if len(names) < 2:
        return ""
    parts = [n.split(".") for n in names]
    prefix = []
    for column in zip(*parts):
        if len(set(column)) != 1:
            break
        prefix.append(column[0])
    prefix = prefix[:min(len(p) for p in parts) - 1]
    while prefix and any(p[len(prefix)].split("[")[0].isdigit() for p in parts):
        prefix.pop()
    return ".".join(prefix) + "." if prefix else ""


_SLICE = re.compile(r"(\[[^\]]*\])$")


def _elide_middle(name, width):
    """Shortens to about `width` characters by dropping middle components:
    keeps the first component (e.g. 'L3'), the leaf (the last component,
    with its module when that is only 'w' / 'b') and a slice suffix '[a:b]'
    whole, even when these alone are longer than `width`."""
    if len(name) <= width:
        return name
    match = _SLICE.search(name)
    suffix = match.group(1) if match else ""
    base = name[:len(name) - len(suffix)]
    parts = base.split(".")
    leaf = 2 if parts[-1] in _LEAF_ABBREVIATION.values() and len(parts) >= 3 else 1
    if len(parts) >= leaf + 2:
        head, tail = parts[0], parts[-leaf:]
        for part in reversed(parts[1:-leaf]):  # add trailing components while they fit
            if len(head) + 1 + len(".".join([part] + tail)) + len(suffix) > width:
                break
            tail.insert(0, part)
        return head + "…" + ".".join(tail) + suffix
    # too few components: characters from the middle of the base, keeping both ends
    keep = max(width - len(suffix) - 1, 6)
    if len(base) <= keep + 1:
        return name
    front = keep // 2
    return base[:front] + "…" + base[len(base) - (keep - front):] + suffix


def short_labels(names, width=24):
    """Short, distinct labels for parameter / block names.

    Drops a prefix shared by all names, writes 'layers.<i>.' (or 'blocks.<i>.',
    'h.<i>.') as 'L<i>.', 'weight'/'bias' as 'w'/'b', and only then elides
    from the middle, keeping the layer index and the leaf. Names that
    would collide after eliding keep their unelided abbreviation, and
    names whose abbreviations collide keep their full form."""
    names = [str(n) for n in names]
    prefix = _common_prefix(names)
    abbreviated = [_abbreviate(n[len(prefix):]) for n in names]
    if len(set(abbreviated)) < len(set(names)):
        abbreviated = [_abbreviate(n) for n in names]
    for i, a in enumerate(abbreviated):
        if abbreviated.count(a) > 1 and names.count(names[i]) != abbreviated.count(a):
            abbreviated[i] = names[i]
    labels = [_elide_middle(a, width) for a in abbreviated]
    for i, label in enumerate(labels):
        if labels.count(label) > 1 and abbreviated.count(abbreviated[i]) != labels.count(label):
            labels[i] = abbreviated[i]
    # A full abbreviation may now equal another's elided label; keep those unelided too.
    clashes = {label for label in labels if labels.count(label) > 1}
    return [abbreviated[i] if labels[i] in clashes else labels[i] for i in range(len(labels))]


def _short(name, width=28):
    """One name, shortened as by short_labels (no shared prefix to drop)."""
    return short_labels([name], width)[0]


def _names(dataset):
    return [n.decode() if isinstance(n, bytes) else str(n) for n in dataset[()]]


# ----------------------------------------------------------------- spectra

def _title(f, what):
    a = f.attrs
    model = a.get("model_spec", a.get("model", ""))
    sigma = f"σ={a['sigma']:g} ({a['sigma_mode']})" if "sigma" in a else ""
    return f"{what} — {model}\n{sigma}, m={a.get('lanczos_steps', '?')}, n_v={a.get('probes', '?')}"


def plot_densities(f, outdir):
    """Per-block spectral densities as small multiples, as the papers draw them: one panel per block (model
    order, titled by its short name) on a shared log-density axis, each panel's eigenvalue axis cropped to
    where its density lies. More blocks than MAX_PANELS: one panel of lines coloured by block index."""
    grid = f["density/grid"][()]
    values = f["density/values"][()]
    names = _names(f["blocks/names"])
    floor = 1e-12 * values.max()
    bottom = max(floor, 1e-8 * values.max())
    labels = short_labels(names, 24)
    title = _title(f, f"Per-block Hessian spectral densities ({len(names)} blocks)")
    if len(names) > MAX_PANELS:
        fig, ax = _figure(10, 6)
        cmap = plt.get_cmap("viridis", max(len(names), 2))
        for i, density in enumerate(values):
            ax.semilogy(grid, np.maximum(density, floor), color=cmap(i), lw=1.0)
        ax.set_xlabel("eigenvalue")
        ax.set_ylabel("spectral density (log)")
        ax.set_ylim(bottom=bottom)
        ax.set_title(title, fontsize=10)
        mappable = matplotlib.cm.ScalarMappable(cmap=cmap, norm=matplotlib.colors.Normalize(0, len(names) - 1))
        fig.colorbar(mappable, ax=ax, label=f"block index (model order; more than {MAX_PANELS} blocks for panels)")
        return _save(fig, os.path.join(outdir, "densities.png"))
    cols = min(len(names), 5 if len(names) > 16 else 4)
    rows = -(-len(names) // cols)
    fig, axes = _figure(2.6 * cols, 1.9 * rows + 0.8, nrows=rows, ncols=cols, sharey=True, squeeze=False)
    top = values.max() * 2
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.set_visible(False)
            continue
        density = values[i]
        support = np.nonzero(density > 1e-6 * density.max())[0] if density.max() > 0 else np.arange(len(grid))
        lo, hi = grid[support[0]], grid[support[-1]]
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * (grid[-1] - grid[0])
        ax.semilogy(grid, np.maximum(density, floor), color="tab:blue", lw=1.0)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(bottom, top)
        ax.set_title(labels[i], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(3))
    for ax in axes[:, 0]:
        ax.set_ylabel("density (log)", fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel("eigenvalue", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, os.path.join(outdir, "densities.png"))


def _heatmap(matrix, names, title, label, path, vmin=None, vmax=None):
    fig, ax = _figure(9, 8)
    im = ax.imshow(matrix, cmap="magma", vmin=vmin, vmax=vmax)
    if len(names) <= 40:
        labels = short_labels(names, 24)
        fontsize = 7 if len(names) <= 30 else 6
        ax.set_xticks(range(len(names)))
        ax.set_yticks(range(len(names)))
        ax.set_xticklabels(labels, rotation=90, fontsize=fontsize)
        ax.set_yticklabels(labels, fontsize=fontsize)
    else:
        ax.set_xlabel(f"block index ({len(names)} blocks, model order)")
        ax.set_ylabel("block index")
    fig.colorbar(im, ax=ax, label=label, shrink=0.85)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_js(f, outdir):
    names = _names(f["blocks/names"])
    js = f["js/matrix"][()]
    title = _title(f, f"Jensen–Shannon distance between block spectra (mean {f.attrs.get('mean_js', np.nan):.3f})")
    return _heatmap(js, names, title, "JS distance (log2, bounded)", os.path.join(outdir, "js_heatmap.png"), 0.0, 1.0)


def plot_coupling(f, outdir):
    names = _names(f["blocks/names"])
    ratio = f["coupling/ratio"][()]
    title = f"Block coupling r_ab = ‖H_ab‖F / sqrt(‖H_aa‖F ‖H_bb‖F) — {f.attrs.get('model_spec', '')}"
    return _heatmap(ratio, names, title, "r_ab", os.path.join(outdir, "coupling_heatmap.png"), 0.0, None)


# ----------------------------------------------------------------- diagnostics

def _partition_groups(f):
    groups = f["partitions"]
    return [groups[k] for k in sorted(groups, key=int)]


def _partition_label(g):
    name = os.path.splitext(os.path.basename(str(g.attrs["file"])))[0]
    strategy = str(g.attrs["strategy"])
    label = strategy if name == strategy else f"{strategy} ({name})"
    return f"{label}:\n{int(g.attrs['num_blocks'])} blocks, mean|v/v̄−1| {g.attrs['mean_abs_dev']:.3f}"


def _diagnostics_title(f, what):
    a = f.attrs
    source = a.get("model_spec", a.get("gradient_source", ""))
    return f"{what} — {source}\nv ≈ E[g²] over {a.get('minibatches', '?')} minibatches"


def plot_log_ratio_histograms(f, outdir):
    edges = f["histogram_edges"][()]
    centres = 0.5 * (edges[1:] + edges[:-1])
    fig, ax = _figure(12, 5.5)
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
    _legend_outside(ax, labelspacing=0.9)
    return _save(fig, os.path.join(outdir, "log_ratio_histogram.png"))


def plot_block_cv(f, outdir):
    fig, ax = _figure(12, 5.5)
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
    if ax.get_legend_handles_labels()[0]:
        _legend_outside(ax, labelspacing=0.9)
    return _save(fig, os.path.join(outdir, "block_cv.png"))


def plot_tensor_deviation(f, outdir):
    """Horizontal bars: one row per tensor (model order, top to bottom), one
    bar per partition; at most MAX_DEVIATION_TENSORS rows (those with the
    largest deviation under any partition)."""
    groups = _partition_groups(f)
    names = _names(groups[0]["tensors/names"])
    devs = np.full((len(groups), len(names)), np.nan)
    for i, g in enumerate(groups):
        order = {n: k for k, n in enumerate(_names(g["tensors/names"]))}
        dev = g["tensors/mean_abs_dev"][()]
        devs[i] = [dev[order[n]] if n in order else np.nan for n in names]
    shown = np.arange(len(names))
    title = _diagnostics_title(f, "Error of replacing v by its block mean, per tensor")
    if len(names) > MAX_DEVIATION_TENSORS:
        worst = np.nan_to_num(np.nanmax(np.where(np.isnan(devs), -np.inf, devs), axis=0), nan=-np.inf)
        shown = np.sort(np.argsort(-worst, kind="stable")[:MAX_DEVIATION_TENSORS])
        title += f"\nshowing the {len(shown)} of {len(names)} tensors with the largest deviation (model order)"
    labels = short_labels(names, 26)
    rows = len(shown)
    bar = 0.8 / len(groups)
    height = min(2.2 + rows * max(0.16, 0.07 * len(groups)), 16.0)
    fig, ax = _figure(11, height)
    y = np.arange(rows)
    for i, g in enumerate(groups):
        ax.barh(y - 0.4 + (i + 0.5) * bar, devs[i, shown], bar, label=_partition_label(g))
    ax.set_yticks(y)
    ax.set_yticklabels([labels[k] for k in shown], fontsize=7)
    ax.set_ylim(rows - 0.5, -0.5)  # first tensor on top
    ax.set_xlabel("mean |v_i / v̄_b − 1| over the tensor")
    ax.grid(axis="x", lw=0.4, alpha=0.5)
    ax.set_title(title, fontsize=10)
    _legend_outside(ax, labelspacing=0.9)
    return _save(fig, os.path.join(outdir, "tensor_deviation.png"))


# ------------------------------------------------------------------ ablation

def _ablation_cells(f):
    """The /cells table as a dict of numpy arrays (strings decoded)."""
    cells = {}
    for key, ds in f["cells"].items():
        values = ds[()]
        cells[key] = np.array([v.decode() if isinstance(v, bytes) else v for v in values]) \
            if values.dtype.kind in "OS" else values
    return cells


def _ablation_groups(cells):
    """(model, data) pairs in grid order, with the row indices of each."""
    groups = {}
    for i, key in enumerate(zip(cells["model"], cells["data"])):
        groups.setdefault(key, []).append(i)
    return list(groups.items())


def _series_label(cells, i, with_lr=True):
    partition, optimizer = cells["partition"][i], cells["optimizer"][i]
    label = optimizer if partition == "default" else f"{optimizer} · {_short(partition, 24)}"
    return f"{label} · lr {cells['lr'][i]:g}" if with_lr else label


def _ablation_panels(groups, height=4.2):
    n = len(groups)
    fig, axes = _figure(5.2 * n + 3.5, height, ncols=n, squeeze=False)
    return fig, axes[0]


def plot_ablation_curves(f, outdir):
    cells = _ablation_cells(f)
    groups = _ablation_groups(cells)
    fig, axes = _ablation_panels(groups)
    for ax, ((model, data), rows) in zip(axes, groups):
        cmap = plt.get_cmap("tab20" if len(rows) > 10 else "tab10")
        for j, i in enumerate(rows):
            curve = f["curves"][sorted(f["curves"])[i]]
            if cells["failed"][i] or len(curve["eval_loss"]) == 0:
                continue
            seed = f" · seed {cells['seed'][i]}" if len(set(cells["seed"])) > 1 else ""
            ax.plot(curve["eval_step"][()], curve["eval_loss"][()], color=cmap(j % cmap.N), lw=1.2,
                    ls="--" if cells["diverged"][i] else "-", label=_series_label(cells, i) + seed)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("held-out loss (log)")
        ax.set_title(f"{_short(model, 30)} on {_short(data, 20)}", fontsize=10)
    _legend_outside(axes[-1], fontsize=7)
    fig.suptitle("Held-out loss during training (dashed: diverged)", fontsize=11)
    return _save(fig, os.path.join(outdir, "ablation_curves.png"))


def _pareto_front(points):
    """Indices of the points (x, y) no other point beats in both: fewer bytes and a lower loss."""
    order = sorted(range(len(points)), key=lambda k: (points[k][0], points[k][1]))
    front, best = [], np.inf
    for k in order:
        if points[k][1] < best:
            front.append(k)
            best = points[k][1]
    return front


def plot_ablation_pareto(f, outdir):
    cells = _ablation_cells(f)
    groups = _ablation_groups(cells)
    fig, axes = _ablation_panels(groups)
    for ax, ((model, data), rows) in zip(axes, groups):
        ok = [i for i in rows if not cells["failed"][i] and np.isfinite(cells["final_eval_loss"][i])]
        # Each (optimizer, partition) at its best learning rate, averaged over seeds.
        best = {}
        for i in ok:
            key = (cells["optimizer"][i], cells["partition"][i])
            by_lr = best.setdefault(key, {})
            by_lr.setdefault(cells["lr"][i], []).append(i)
        points, labels = [], []
        for key, by_lr in best.items():
            lr, members = min(by_lr.items(), key=lambda kv: np.mean(cells["final_eval_loss"][kv[1]]))
            points.append((float(np.mean(cells["state_bytes_per_param"][members])),
                           float(np.mean(cells["final_eval_loss"][members]))))
            labels.append(f"{_series_label(cells, members[0], with_lr=False)} (best lr {lr:g})")
        ax.scatter(cells["state_bytes_per_param"][ok], cells["final_eval_loss"][ok], s=12, color="0.75",
                   label="every cell", zorder=1)
        front = _pareto_front(points)
        cmap = plt.get_cmap("tab10")
        for k, ((x, y), label) in enumerate(zip(points, labels)):
            on_front = k in front
            ax.scatter([x], [y], s=60 if on_front else 35, color=cmap(k % 10), edgecolor="black" if on_front else
                       "none", linewidth=1.2, zorder=3, label=label + (" — Pareto front" if on_front else ""))
        if front:
            xs, ys = zip(*sorted(points[k] for k in front))
            ax.step(xs, ys, where="post", color="black", lw=0.8, zorder=2)
        ax.set_xlabel("optimizer state, bytes per parameter")
        ax.set_ylabel("final held-out loss")
        ax.set_title(f"{_short(model, 30)} on {_short(data, 20)}", fontsize=10)
    _legend_outside(axes[-1], fontsize=7)
    fig.suptitle("Final held-out loss against optimizer-state memory (outlined: Pareto front)", fontsize=11)
    return _save(fig, os.path.join(outdir, "ablation_pareto.png"))


def plot_ablation_lr(f, outdir):
    cells = _ablation_cells(f)
    groups = _ablation_groups(cells)
    fig, axes = _ablation_panels(groups)
    for ax, ((model, data), rows) in zip(axes, groups):
        series = {}
        for i in rows:
            series.setdefault((cells["optimizer"][i], cells["partition"][i]), []).append(i)
        finite = [cells["final_eval_loss"][i] for i in rows if np.isfinite(cells["final_eval_loss"][i])]
        ceiling = max(finite) * 1.05 if finite else 1.0
        cmap = plt.get_cmap("tab10")
        for k, members in enumerate(series.values()):
            lrs = sorted(set(cells["lr"][members]))
            losses = [np.mean([cells["final_eval_loss"][i] for i in members if cells["lr"][i] == lr]) for lr in lrs]
            shown = [min(v, ceiling) if np.isfinite(v) else ceiling for v in losses]
            ax.plot(lrs, shown, marker="o", color=cmap(k % 10), label=_series_label(cells, members[0], False))
            for lr, v in zip(lrs, losses):
                if not np.isfinite(v) or v > ceiling:
                    ax.scatter([lr], [ceiling], marker="x", s=50, color=cmap(k % 10), zorder=3)
        ax.set_xscale("log")
        ax.set_xlabel("peak learning rate")
        ax.set_ylabel("final held-out loss (×: diverged or off the axis)")
        ax.set_title(f"{_short(model, 30)} on {_short(data, 20)}", fontsize=10)
    _legend_outside(axes[-1], fontsize=7)
    fig.suptitle("Learning-rate robustness: final held-out loss per learning rate", fontsize=11)
    return _save(fig, os.path.join(outdir, "ablation_lr.png"))


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
        if kind == "ablation" and "cells" in f:
            written.append(plot_ablation_curves(f, outdir))
            written.append(plot_ablation_pareto(f, outdir))
            if len(set(f["cells/lr"][()])) > 1:
                written.append(plot_ablation_lr(f, outdir))
        if "coupling/ratio" in f:
            written.append(plot_coupling(f, outdir))
    return written


# ----------------------------------------------------------------- comparison

def _file_labels(paths, models):
    """The model spec per file; files that share it are told apart by the file name."""
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    labels = []
    for i, model in enumerate(models):
        if models.count(model) == 1:
            labels.append(model)
        elif [s for m, s in zip(models, stems) if m == model].count(stems[i]) == 1:
            labels.append(f"{model}\n({stems[i]})")
        else:
            labels.append(f"{model}\n({paths[i]})")
    return ["\n".join(_wrap(part, 28) for part in label.split("\n")) for label in labels]


def _wrap(text, width):
    """Lines of about `width` characters, broken after ',', ':', '/' or a space (never dropping text)."""
    lines, line = [], ""
    for token in re.split(r"(?<=[,:/ ])", text):
        if line and len(line) + len(token) > width:
            lines.append(line.rstrip())
            line = ""
        line += token
    return "\n".join(lines + [line.rstrip()])


def plot_comparison(paths, outdir):
    """Mean JS between weight blocks per model, and each block's λ_max."""
    os.makedirs(outdir, exist_ok=True)
    models, values, errors, tops = [], [], [], []
    for path in paths:
        with h5py.File(path, "r") as f:
            models.append(str(f.attrs.get("model_spec", os.path.basename(path))))
            ndim = f["blocks/ndim"][()]
            js, se = f["js/matrix"][()], f["js/stderr"][()]
            keep = np.where(ndim >= 2)[0]
            pairs = [(a, b) for ai, a in enumerate(keep) for b in keep[ai + 1:]]
            values.append(np.mean([js[a, b] for a, b in pairs]) if pairs else np.nan)
            errors.append(np.mean([se[a, b] for a, b in pairs]) if pairs else 0.0)
            top = None
            if "top_eigenvalues" in f and f["top_eigenvalues"].ndim == 2 and f["top_eigenvalues"].shape[1] > 0:
                first = f["top_eigenvalues"][()][:, 0]
                top = first[(ndim >= 2) & np.isfinite(first) & (first > 0)]
            tops.append(top)
    labels = _file_labels(list(map(str, paths)), models)
    x = np.arange(len(paths))
    width = min(MAX_WIDTH_IN, max(12.0, 2.0 + 1.6 * len(paths)))
    fig, (left, right) = _figure(width, 5.5, ncols=2)
    rotation = 0 if len(paths) <= 4 else 30
    align = "center" if rotation == 0 else "right"

    left.bar(x, np.nan_to_num(values, nan=0.0), yerr=errors, capsize=4, color="tab:purple")
    for xi, v in zip(x, values):
        if np.isnan(v):
            left.text(xi, 0.02, "n/a\n(< 2 weight blocks)", ha="center", va="bottom", fontsize=7)
    left.set_ylabel("mean pairwise JS distance (weight blocks)")
    left.set_ylim(0, 1)
    left.set_title("Block spectrum heterogeneity", fontsize=10)

    missing = [labels[i].replace("\n", " ") for i, t in enumerate(tops) if t is None]
    plotted = False
    for i, top in enumerate(tops):
        if top is not None and top.size:
            right.scatter(np.full(top.size, i), top, s=14, alpha=0.7, color=f"C{i % 10}")
            plotted = True
    if plotted:
        right.set_yscale("log")
    else:
        right.set_yticks([])
    if missing:
        note = "no top-k eigenvalues in: " + ", ".join(missing)
        right.text(0.5, 0.5 if not plotted else 0.03, _wrap(note, 48) +
                   "\n(spectrum was run with --top-k 0)", transform=right.transAxes,
                   ha="center", va="center" if not plotted else "bottom", fontsize=8, color="0.25",
                   bbox=dict(boxstyle="round", fc="white", ec="0.7"))
    right.set_xlim(-0.5, len(paths) - 0.5)
    right.set_ylabel("λ_max of each weight block")
    right.set_title("Curvature scale of each block", fontsize=10)
    for ax in (left, right):
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=rotation, ha=align, fontsize=8)
    return [_save(fig, os.path.join(outdir, "heterogeneity_comparison.png"))]
