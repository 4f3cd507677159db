"""Plots a reader can read: short tick/legend labels that keep layers apart,
figures of a bounded size, legends outside the data, and the comparison
figure saying when a file has no top eigenvalues. Small result files are
made with the CLI; the figures are checked through blockscope_plots'
`_on_save` hook (the figure just before it is written) or from the PNG."""
import shutil
import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "experiments" / "plots"))
import blockscope_plots  # noqa: E402

WIDE_GPT = "gpt:n_layer=12"
TINY_GPT = "gpt:n_layer=2,d_model=32,d_ff=64,n_head=2,n_kv_head=1,head_dim=16,context=16"
TINY_SPECTRUM = ["--lanczos-steps", "4", "--probes", "1", "--bootstrap", "4"]


def _png_size(path):
    """(width, height) in pixels, from the IHDR chunk of a PNG file."""
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


@pytest.fixture
def saved_figures(monkeypatch):
    """Calls of blockscope_plots' _save hook: (figure file name, figure), drawn."""
    seen = []

    def hook(fig, path):
        fig.canvas.draw()
        seen.append((Path(path).name, fig))

    monkeypatch.setattr(blockscope_plots, "_on_save", hook)
    return seen


@pytest.fixture(scope="module")
def wide_diagnostics(blockscope, tmp_path_factory):
    """diagnose of gpt:n_layer=12 (125 tensors) with three partitions, plots by the CLI."""
    tmp = tmp_path_factory.mktemp("wide")
    partitions = []
    for strategy in ["per-tensor", "adam-mini", "gefen"]:
        out = tmp / f"{strategy}.h5"
        blockscope("partition", "--strategy", strategy, "--model", WIDE_GPT, "--out", out)
        partitions += ["-p", out]
    out = tmp / "diag.h5"
    blockscope("diagnose", "--model", WIDE_GPT, "-k", "2", "--batch-size", "4", *partitions,
               "--out", out, "--plots", tmp / "plots")
    return out, tmp / "plots"


@pytest.fixture(scope="module")
def spectra(blockscope, tmp_path_factory):
    """Small spectrum files: a tiny gpt (25 blocks, no top-k), mlp with top-1, cnn with --top-k 0."""
    tmp = tmp_path_factory.mktemp("spectra")
    files = {}
    for key, model, top_k in [("gpt", TINY_GPT, "0"), ("mlp", "mlp", "1"), ("cnn", "cnn", "0")]:
        files[key] = tmp / f"{key}.h5"
        blockscope("spectrum", "--model", model, "--batch-size", "2", *TINY_SPECTRUM, "--top-k", top_k,
                   "--out", files[key])
    return files


def _gpt12_names(blockscope):
    lines = blockscope("info", "--model", WIDE_GPT).stdout.splitlines()
    names = [line.split()[0] for line in lines if line.startswith(("wte", "wpe", "layers.", "final_", "lm_head"))]
    assert len(names) == 125
    return names


def test_short_labels_keep_layers_apart(blockscope):
    names = _gpt12_names(blockscope)
    for width in (16, 20, 24, 28):
        labels = blockscope_plots.short_labels(names, width)
        assert len(set(labels)) == len(names), width
    labels = dict(zip(names, blockscope_plots.short_labels(names, 24)))
    assert labels["layers.0.attn.q_proj.weight"] == "L0.attn.q_proj.w"
    assert labels["layers.11.mlp.down_proj.weight"] == "L11.mlp.down_proj.w"
    # the layer index and the leaf survive for every layer's tensors
    for i in range(12):
        label = labels[f"layers.{i}.attn.q_proj.weight"]
        assert label.startswith(f"L{i}.") and "q_proj" in label
    # block names of a partition (slices of one tensor) stay distinct and keep the slice
    sliced = [f"layers.{i}.mlp.down_proj.weight[{a}:{a + 256}]" for i in (0, 1) for a in (0, 2816, 11008)]
    short = blockscope_plots.short_labels(sliced, 20)
    assert len(set(short)) == len(sliced)
    assert all(s.startswith(f"L{n[7]}…down_proj.w") and s.endswith(n[n.index("["):]) for s, n in zip(short, sliced))
    # a shared prefix is dropped, a bare index is not left behind
    assert blockscope_plots.short_labels(["model.layers.0.q.weight", "model.layers.1.q.weight"]) == ["L0.q.w", "L1.q.w"]
    assert blockscope_plots.short_labels(["linear.0.weight", "linear.1.bias"]) == ["linear.0.w", "linear.1.b"]


def test_tensor_deviation_png_stays_readable_size(wide_diagnostics):
    _, plots = wide_diagnostics
    width, height = _png_size(plots / "tensor_deviation.png")
    assert width <= 1600 and height <= 2000, (width, height)
    for name in ["log_ratio_histogram.png", "block_cv.png"]:
        assert _png_size(plots / name)[0] <= 1600


def test_tensor_deviation_names_tensors_on_y_axis(wide_diagnostics, saved_figures, tmp_path):
    diag, _ = wide_diagnostics
    blockscope_plots.plot_result("diagnostics", str(diag), str(tmp_path))
    fig = dict(saved_figures)["tensor_deviation.png"]
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == blockscope_plots.MAX_DEVIATION_TENSORS and len(set(labels)) == len(labels)
    assert min(t.get_fontsize() for t in ax.get_yticklabels()) >= 7
    assert "of 125 tensors" in ax.get_title()


def _check_legends_outside(saved):
    checked = 0
    for name, fig in saved:
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        if not legends:
            continue
        assert not blockscope_plots._legend_overlaps(fig), name
        figure_box = fig.bbox
        for legend in legends:
            box = legend.get_window_extent()
            # inside the figure (the saved image) as laid out
            assert box.x0 >= figure_box.x0 - 1 and box.x1 <= figure_box.x1 + 1, name
            assert box.y0 >= figure_box.y0 - 1 and box.y1 <= figure_box.y1 + 1, name
        checked += 1
    return checked


def test_legends_do_not_cover_data(wide_diagnostics, spectra, saved_figures, tmp_path):
    diag, _ = wide_diagnostics
    blockscope_plots.plot_result("diagnostics", str(diag), str(tmp_path / "d"))
    blockscope_plots.plot_result("spectrum", str(spectra["gpt"]), str(tmp_path / "s"))
    names = [name for name, _ in saved_figures]
    assert {"log_ratio_histogram.png", "block_cv.png", "tensor_deviation.png", "densities.png"} <= set(names)
    assert _check_legends_outside(saved_figures) == 3  # densities.png has panels, not a legend


def test_heatmap_ticks_keep_layers_apart(spectra, saved_figures, tmp_path):
    blockscope_plots.plot_result("spectrum", str(spectra["gpt"]), str(tmp_path))
    fig = dict(saved_figures)["js_heatmap.png"]
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(ticks) == 25 and len(set(ticks)) == 25
    assert {"L0.attn.q_proj.w", "L1.attn.q_proj.w", "L0.mlp.down_proj.w", "L1.mlp.down_proj.w"} <= set(ticks)
    # densities.png: small multiples, one panel per block titled with the same short name, in model order
    panels = [ax.get_title() for ax in dict(saved_figures)["densities.png"].axes if ax.get_visible()]
    assert panels == ticks


def test_comparison_says_which_files_lack_top_eigenvalues(spectra, saved_figures, tmp_path):
    twin = tmp_path / "mlp_again.h5"
    shutil.copy(spectra["mlp"], twin)  # same model twice: the labels must still differ
    files = [str(spectra["mlp"]), str(twin), str(spectra["cnn"])]
    written = blockscope_plots.plot_comparison(files, str(tmp_path / "cmp"))
    assert [Path(p).name for p in written] == ["heterogeneity_comparison.png"]
    assert _png_size(written[0])[0] <= 1600
    fig = dict(saved_figures)["heterogeneity_comparison.png"]
    left, right = fig.axes[:2]
    notes = " ".join(t.get_text() for t in right.texts).replace("\n", " ")
    assert "no top-k eigenvalues in: cnn" in notes and "mlp" not in notes
    assert len(right.collections) == 2  # λ_max points of the two mlp files
    for ax in (left, right):
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert len(labels) == 3 and len(set(labels)) == 3 and all("…" not in label for label in labels)
        assert all(label.split("\n")[0] in ("mlp", "cnn") for label in labels)
        # every tick label lies inside the figure, untruncated
        renderer = fig.canvas.get_renderer()
        for t in ax.get_xticklabels():
            box = t.get_window_extent(renderer)
            assert box.x0 >= fig.bbox.x0 - 1 and box.x1 <= fig.bbox.x1 + 1


def test_comparison_of_files_without_top_eigenvalues(spectra, saved_figures, tmp_path):
    blockscope_plots.plot_comparison([str(spectra["cnn"]), str(spectra["gpt"])], str(tmp_path))
    right = dict(saved_figures)["heterogeneity_comparison.png"].axes[1]
    notes = " ".join(t.get_text() for t in right.texts).replace("\n", " ")
    assert "no top-k eigenvalues in: cnn, gpt" in notes
