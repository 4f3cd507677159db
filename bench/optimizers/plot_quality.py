#!/usr/bin/env python3
"""Loss table and loss-curve plot for bench/optimizers/quality.sh.

Reads /loss and /step_time (blockscope.run/1 run files). For each run prints
the final loss (mean of the last 50 steps, or of all steps if fewer), its
ratio to the first run's (adamw), and the summed step time; writes a PNG with
the raw per-step loss (faint) and its 50-step moving average, log y axis,
beside each run's moving average divided by the first run's, with a ±2 % band.

Usage: /usr/bin/python3 plot_quality.py OUT.png LABEL:LR:RUN.h5 [...]
"""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np

WINDOW = 50


def main():
    png, runs = sys.argv[1], [arg.split(":", 2) for arg in sys.argv[2:]]
    fig, (ax, ratio_ax) = plt.subplots(1, 2, figsize=(13, 5))
    base = base_smooth = None
    print(f"{'optimizer':<12} {'lr':>8} {'steps':>6} {'final loss':>11} {'vs ' + runs[0][0]:>10} {'Σ step time s':>14}")
    for label, lr, path in runs:
        with h5py.File(path, "r") as f:
            loss = f["loss"][()]
            seconds = float(f["step_time"][()].sum())
        final = float(loss[-WINDOW:].mean())
        base = final if base is None else base
        print(f"{label:<12} {lr:>8} {len(loss):>6} {final:>11.4f} {final / base:>10.4f} {seconds:>12.1f}")
        name = f"{label} (lr {lr}): {final:.4f}"
        steps = np.arange(1, len(loss) + 1)
        line, = ax.plot(steps, loss, alpha=0.2, linewidth=0.5)
        if len(loss) >= WINDOW:
            smooth = np.convolve(loss, np.ones(WINDOW) / WINDOW, mode="valid")
            ax.plot(steps[WINDOW - 1:], smooth, color=line.get_color(), label=name)
            base_smooth = smooth if base_smooth is None else base_smooth
            n = min(len(smooth), len(base_smooth))
            ratio_ax.plot(steps[WINDOW - 1:WINDOW - 1 + n], smooth[:n] / base_smooth[:n], color=line.get_color(),
                          label=label)
        else:
            line.set_label(name)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=[1.0, 1.2, 1.4, 1.7, 2.0, 2.5, 3.0, 4.0, 5.0, 7.0]))
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.1f"))
    ax.yaxis.set_minor_locator(ticker.NullLocator())
    ax.set_xlabel("step")
    ax.set_ylabel(f"training loss (faint: per step; solid: {WINDOW}-step mean)")
    ax.set_title("gpt zoo model on the text corpus (legend: final loss)")
    ax.legend()
    ratio_ax.axhspan(0.98, 1.02, color="0.9", label="±2 %")
    ratio_ax.axhline(1.0, color="0.5", linewidth=0.8)
    ratio_ax.set_ylim(0.9, 1.1)
    ratio_ax.set_xlabel("step")
    ratio_ax.set_ylabel(f"{WINDOW}-step mean loss / {runs[0][0]}'s")
    ratio_ax.set_title(f"relative to {runs[0][0]}")
    ratio_ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
