#!/usr/bin/env bash
# Hessian engine benchmark, one run, side by side:
#   1. bench_hvp: gradient vs HVP cost on mlp, cnn, gpt; per-tensor Lanczos
#      step time on 1 thread and on all cores (dumps gpt for step 2);
#   2. the Python reference (python3-torch, same LibTorch version) doing the
#      same per-tensor Lanczos steps on the same gpt, at 1 thread and at all
#      cores; prints the speed-ups.
# Builds with BLOCKSCOPE_BENCH=ON into build/ first.
set -euo pipefail
cd "$(dirname "$0")/../.."
BLOCKSCOPE_CMAKE_ARGS="-DBLOCKSCOPE_BENCH=ON ${BLOCKSCOPE_CMAKE_ARGS:-}" bash scripts/build bench_hvp blockscope >/dev/null
out=$(mktemp -d)
./build/bench/hessian/bench_hvp --reps "${REPS:-5}" --dump "$out" | tee "$out/cpp.txt"
steps=${STEPS:-5}
cores=$(nproc)
echo
for threads in 1 "$cores"; do
  /usr/bin/python3 bench/hessian/hessian_spectrum_reference.py "$out/gpt_bench.h5" "$steps" "$threads" | tee "$out/py_$threads.txt"
done
python_1=$(sed -n 's/.*seconds_per_lanczos_step=\([0-9.]*\).*/\1/p' "$out/py_1.txt")
python_n=$(sed -n 's/.*seconds_per_lanczos_step=\([0-9.]*\).*/\1/p' "$out/py_$cores.txt")
read -r ours_1 ours_n < <(awk '$1 == "gpt" {print $(NF-2)/1000, $(NF-1)/1000}' "$out/cpp.txt")
echo
awk -v o1="$ours_1" -v on="$ours_n" -v p1="$python_1" -v pn="$python_n" -v cores="$cores" 'BEGIN {
  print "per-tensor Lanczos step on gpt (25 blocks, batch 8x64 tokens):"
  printf "  equal threads (1):  blockscope %.3f s   python reference %.3f s   speed-up %.2fx\n", o1, p1, p1 / o1
  printf "  all %d cores:        blockscope %.3f s   python reference %.3f s   speed-up %.2fx\n", cores, on, pn, pn / on
  printf "  blockscope default (all cores) vs python default (1 thread): %.2fx\n", p1 / on
  printf "  full spectrum at m=100, n_v=10 (1000 such steps): blockscope %.1f min, python %.1f min\n", on * 1000 / 60, p1 * 1000 / 60
}'
