#!/usr/bin/env bash
# CPU optimizer step benchmark, one run, side by side (contract in
# cpu_step_bench.cpp):
#   1. python3-torch torch.optim.AdamW(foreach=True) on the same synthetic
#      GPT-2-like shapes, at 1 thread and at all cores, per size;
#   2. bench_optimizer_step: memcpy bandwidth, torch::optim::AdamW (C++) and
#      blockscope's adamw, adam-mini, gefen, flash-adamw at the same thread
#      counts, printing ms/step, GB/s, % of memcpy and the speed-ups against
#      both AdamWs.
# Environment: SIZES (millions of parameters, default 10,50,100), STEPS (timed
# steps per median, default 10), WARMUP (default 3). Memory at 100M: about
# 3 GB. Builds with BLOCKSCOPE_BENCH=ON into build/ first.
set -euo pipefail
cd "$(dirname "$0")/../.."
BLOCKSCOPE_CMAKE_ARGS="-DBLOCKSCOPE_BENCH=ON ${BLOCKSCOPE_CMAKE_ARGS:-}" bash scripts/build bench_optimizer_step >/dev/null
sizes=${SIZES:-10,50,100}
steps=${STEPS:-10}
warmup=${WARMUP:-3}
cores=$(nproc)
bench=./build/bench/optimizers/bench_optimizer_step
out=$(mktemp -d)
"$bench" --write-shapes "$out" --sizes "$sizes"
echo "python3-torch default threads: $(/usr/bin/python3 -c 'import torch; print(torch.get_num_threads())')"
for size in ${sizes//,/ }; do
  for threads in 1 "$cores"; do
    /usr/bin/python3 bench/optimizers/optimizer_step_reference.py "$out/shapes_${size}M.txt" "$size" "$threads" \
      "$steps" "$warmup" >> "$out/python.txt"
  done
done
"$bench" --sizes "$sizes" --threads "1,$cores" --steps "$steps" --warmup "$warmup" --python "$out/python.txt" \
  | tee "$out/table.txt"
echo "(raw files in $out)"
