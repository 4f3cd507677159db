#!/usr/bin/env python3
"""Loss table and loss-curve plot for bench/optimizers/quality.sh.

Reads blockscope.run/1 run files: /loss, /step_time and the held-out curve
/eval/step, /eval/loss. Quality is judged on the held-out loss: for each run
prints the final held-out loss, its ratio to the first run's (adamw), the
final training loss (mean of the last 50 steps, for reference only) and the
summed step time. Writes a PNG with the training loss (faint, 50-step moving
average) and the held-out loss (solid, markers) per run, log y axis, beside
each run's held-out loss divided by the first run's at the same steps, with
a ±1 % band.

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


def read(path):
    with h5py.File(path, "r") as f:
        if "eval" not in f or len(f["eval/loss"]) == 0:
            sys.exit(f"{path} has no held-out evaluation (train with --eval-fraction > 0)")
        return (f["loss"][()], f["eval/step"][()], f["eval/loss"][()], float(f["step_time"][()].sum()),
                int(f.attrs["eval_examples"]))


def main():
    png, runs = sys.argv[1], [arg.split(":", 2) for arg in sys.argv[2:]]
    fig, (ax, ratio_ax) = plt.subplots(1, 2, figsize=(13, 5))
    base_eval = None
    print(f"{'optimizer':<12} {'lr':>8} {'steps':>6} {'held-out loss':>14} {'vs ' + runs[0][0]:>10} "
          f"{'train loss':>11} {'Σ step time s':>14}")
    for label, lr, path in runs:
        loss, eval_step, eval_loss, seconds, eval_examples = read(path)
        final_train = float(loss[-WINDOW:].mean())
        final = float(eval_loss[-1])
        base_eval = (eval_step, eval_loss) if base_eval is None else base_eval
        print(f"{label:<12} {lr:>8} {len(loss):>6} {final:>14.4f} {final / base_eval[1][-1]:>10.4f} "
              f"{final_train:>11.4f} {seconds:>12.1f}")
        steps = np.arange(1, len(loss) + 1)
        if len(loss) >= WINDOW:
            smooth = np.convolve(loss, np.ones(WINDOW) / WINDOW, mode="valid")
            line, = ax.plot(steps[WINDOW - 1:], smooth, alpha=0.35, linewidth=0.8)
        else:
            line, = ax.plot(steps, loss, alpha=0.35, linewidth=0.8)
        ax.plot(eval_step, eval_loss, color=line.get_color(), marker="o", markersize=3,
                label=f"{label} (lr {lr}): held-out {final:.4f}")
        common, ours, theirs = np.intersect1d(eval_step, base_eval[0], return_indices=True)
        ratio_ax.plot(common, eval_loss[ours] / base_eval[1][theirs], color=line.get_color(), marker="o",
                      markersize=3, label=label)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=[1.0, 1.2, 1.4, 1.7, 2.0, 2.5, 3.0, 4.0, 5.0, 7.0]))
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.1f"))
    ax.yaxis.set_minor_locator(ticker.NullLocator())
    ax.set_xlabel("step")
    ax.set_ylabel(f"loss (solid: held-out, {eval_examples} examples; faint: training, {WINDOW}-step mean)")
    ax.set_title("gpt zoo model on the text corpus (legend: final held-out loss)")
    ax.legend()
    ratio_ax.axhspan(0.99, 1.01, color="0.9", label="±1 %")
    ratio_ax.axhline(1.0, color="0.5", linewidth=0.8)
    ratio_ax.set_ylim(0.9, 1.1)
    ratio_ax.set_xlabel("step")
    ratio_ax.set_ylabel(f"held-out loss / {runs[0][0]}'s")
    ratio_ax.set_title(f"held-out loss relative to {runs[0][0]}")
    ratio_ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
