#!/usr/bin/env python3
"""Python reference for the CPU optimizer step benchmark.

Times torch.optim.AdamW(foreach=True) from python3-torch on the synthetic
GPT-2-like shapes that `bench_optimizer_step --write-shapes DIR` wrote, with
the same settings as the C++ side: parameters N(0, 0.02^2), fixed gradients
N(0, 1e-3^2), lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
Median of STEPS timed steps after WARMUP steps, at THREADS torch threads.

Usage: /usr/bin/python3 optimizer_step_reference.py SHAPES.txt SIZE_M THREADS STEPS WARMUP
Prints one line "SIZE_M THREADS MS" (read by bench_optimizer_step --python);
the thread count torch reports goes to stderr.
"""
import statistics
import sys
import time

import torch


def main():
    shapes_path, size, threads, steps, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    params = []
    with open(shapes_path) as f:
        for line in f:
            shape = [int(d) for d in line.split()[1:]]
            p = torch.randn(shape) * 0.02
            p.grad = torch.randn(shape) * 1e-3
            params.append(p)
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, foreach=True)
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        opt.step()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    print(f"python torch {torch.__version__}: {sum(p.numel() for p in params)} parameters, "
          f"torch.get_num_threads() {torch.get_num_threads()}", file=sys.stderr)
    print(f"{size} {threads} {statistics.median(times):.3f}")


if __name__ == "__main__":
    main()
