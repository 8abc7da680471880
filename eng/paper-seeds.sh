#!/usr/bin/env bash
# Runs the paper's SmallCnn protocol for issue 18 §3 — every optimizer × seeds 0, 1, 2, plus the two
# frozen-policy PILOT runs (seeds 1 and 2 with the policy PILOT learned in seed 0) — at low CPU priority,
# so the machine stays usable while it runs. `pilot bench paper` skips runs already in the results file,
# so running this again resumes; a run that was interrupted starts over.
#
#   eng/paper-seeds.sh PILOT_BINARY RESULTS_JSON [DATA_DIR]
#
# One process with libtorch's default threads, not two processes with one thread each: on the 2-core
# machine one 2-thread run trained 1,895 img/s, two 1-thread runs 770 img/s each (1,540 together).
# Every run records the commit PILOT_BINARY was built from; build it once from one commit for all runs.
set -euo pipefail
pilot=$(realpath "$1"); results=$(realpath -m "$2"); data=${3:-/usr/share/datasets/fashion-mnist}
mkdir -p "$(dirname "$results")"
policy="${results%.json}.policies/SmallCnn-Pilot-seed0-cpu.json"

run() { # optimizer seed [extra args]
  local opt=$1 seed=$2; shift 2
  nice -n 19 "$pilot" bench paper --models SmallCnn --optimizers "$opt" --seeds "$seed" --epochs 30 \
    --device cpu --data "$data" --out "$results" "$@"
}

# Seed 0 of every optimizer first, so a partial sitting still compares all six.
for opt in Pilot Sophia AdamW Adam Lion AdaBelief; do run $opt 0; done
for seed in 1 2; do for opt in Pilot Sophia AdamW Adam Lion AdaBelief; do run $opt $seed; done; done
for seed in 1 2; do run Pilot $seed --policy "$policy" --freeze-policy; done
