#!/usr/bin/env bash
# Optimizer quality check, one run per preset, same everything else:
# `blockscope train` on the gpt zoo model (defaults: 2 layers, d_model 64,
# 127 616 parameters) over the real text corpus (--data text: Debian's
# license texts as byte tokens, 3708 windows of 64 tokens, 3337 trained on), batch 32 in fixed
# order, seed 0, cosine schedule with linear warm-up, weight decay WD
# (decoupled; adamw and flash-adamw decay every tensor as torch.optim.AdamW on
# a full parameter list, adam-mini and gefen exclude norms and biases, as
# their references do), each preset with its default partition (adamw,
# flash-adamw per-element; adam-mini its name rules; gefen periods from the
# first batch's gradients).
# Learning rates (peak): adamw 1e-3, adam-mini 1e-3, gefen 1e-3,
# flash-adamw 1e-3 (override with LR_ADAMW, LR_ADAM_MINI, LR_GEFEN, LR_FLASH).
# The last 10 % of the windows are held out (train's default for the text
# corpus) and evaluated 20 times over the run; quality is judged on the final
# held-out loss, never on training loss.
# Prints each run's wall time, then a table of final held-out losses with the
# ratio to adamw (and the final training loss, mean of the last 50 steps, for
# reference), and writes loss_curves.png (plot_quality.py).
# Environment: STEPS (default 2000), WARMUP (default STEPS/20), WD (default
# 0.1), OUT (default a fresh temporary directory). Builds into build/ first.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/build blockscope >/dev/null
steps=${STEPS:-2000}
warmup=${WARMUP:-$((steps / 20))}
wd=${WD:-0.1}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
declare -A lr=([adamw]=${LR_ADAMW:-1e-3} [adam-mini]=${LR_ADAM_MINI:-1e-3} [gefen]=${LR_GEFEN:-1e-3}
               [flash-adamw]=${LR_FLASH:-1e-3})
echo "gpt on text: $steps steps, cosine schedule, warm-up $warmup, weight decay $wd, seed 0; runs in $out"
runs=()
for preset in adamw adam-mini gefen flash-adamw; do
  SECONDS=0
  ./build/blockscope train --model gpt --data text --optimizer "$preset" --lr "${lr[$preset]}" --steps "$steps" \
    --schedule cosine --warmup "$warmup" --weight-decay "$wd" --seed 0 --out "$out/$preset.h5" \
    > "$out/$preset.log" 2> "$out/$preset.err" || { cat "$out/$preset.err"; exit 1; }
  printf "%-12s wall %d s  (%s)\n" "$preset" "$SECONDS" \
    "$(sed -n 's/^optimizer: //p' "$out/$preset.log")"
  runs+=("$preset:${lr[$preset]}:$out/$preset.h5")
done
echo
/usr/bin/python3 bench/optimizers/plot_quality.py "$out/loss_curves.png" "${runs[@]}"
