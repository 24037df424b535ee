#!/usr/bin/env bash
# The long job: the best recipe for about two CPU-hours. Records episodes of
# BreakoutDeterministic-v4 (the paper's setting: frameskip 4, no sticky
# actions) played by the non-learning agent, trains the skip simulator
# offline on them in two phases (PHASE1_MINUTES + PHASE2_MINUTES, about two
# hours of training), and measures it on held-out
# games with `recurrent-sim evaluate` (10 warm-up frames, 100 predicted
# steps, 50 sequences).
#
#   bash run_long_job.sh                 # or: ENV=Pong-v0 bash run_long_job.sh
#
# Stopped (Ctrl-C, kill, crash)? Run it again: the collection continues its
# folder and the unfinished training phase resumes from its newest
# checkpoint with a fresh budget (see docs/persistence.md). Nothing here is specific
# to Breakout: ENV may be any game id.
set -euo pipefail

ENV="${ENV:-BreakoutDeterministic-v4}"   # the game
EPISODES=300            # episodes recorded for training and validation
# The training settings (skip simulator, LSTM 512, 10 warm-up frames, batches of 16, Adam 5e-4, scheme 33,
# checkpoints and validations every 100 updates) are the recipe recurrent_sim/recipes/long-job.json.
LR2=2.5e-4              # Adam step size of phase 2
PHASE1_MINUTES="${PHASE1_MINUTES:-45}"   # phase 1 budget (scheme 33), minutes
PHASE2_MINUTES="${PHASE2_MINUTES:-70}"   # phase 2 budget (scheme 67, BPTT(15, 4)), minutes
EVAL_SEQUENCES=50       # held-out sequences measured at the end
OUT="${LONG_JOB_OUT:-runs/long_job}"     # everything this job writes

source "$(dirname "${BASH_SOURCE[0]}")/scripts/job_setup.sh"
sim="$root/.venv/bin/recurrent-sim"
mkdir -p "$OUT"

echo "== 2/4 recording $EPISODES episodes of $ENV (log: $OUT/collect.log)"
"$sim" collect --env "$ENV" --episodes "$EPISODES" --out "$OUT/data" --seed 1 2>&1 | tee "$OUT/collect.log"

has_checkpoint() { compgen -G "$1/checkpoints/checkpoint_*.npz" >/dev/null; }
echo "== 3/4 training the skip simulator: $PHASE1_MINUTES + $PHASE2_MINUTES minutes (log: $OUT/train.log)"
t0=$(date +%s)
# Phase 1: the paper's 33% scheme (10 observed, then 5 predicted steps): the motion.
if [ ! -f "$OUT/train/phase.done" ]; then
  if has_checkpoint "$OUT/train"; then
    "$sim" train --out "$OUT/train" --resume --max-minutes "$PHASE1_MINUTES" 2>&1 | tee -a "$OUT/train.log"
  else
    "$sim" train "$OUT/data" --out "$OUT/train" --recipe long-job --max-minutes "$PHASE1_MINUTES" 2>&1 \
      | tee "$OUT/train.log"
  fi
  touch "$OUT/train/phase.done"
fi
# Phase 2: 67% prediction-dependent steps over truncated BPTT(15, 4), 60 steps: long rollouts stay stable.
if has_checkpoint "$OUT/train2"; then
  "$sim" train --out "$OUT/train2" --resume --max-minutes "$PHASE2_MINUTES" 2>&1 | tee -a "$OUT/train.log"
else
  "$sim" train "$OUT/data" --out "$OUT/train2" --loadtosim "$OUT/train" --recipe long-job --scheme 67 \
    --bptt-chunks 4 --lr "$LR2" --max-minutes "$PHASE2_MINUTES" 2>&1 | tee -a "$OUT/train.log"
fi
train_s=$(( $(date +%s) - t0 ))

echo "== 4/4 evaluation: $EVAL_SEQUENCES held-out sequences, 100 predicted steps each (log: $OUT/evaluate.log)"
"$sim" evaluate --loadtosim "$OUT/train2" --env "$ENV" --sequences "$EVAL_SEQUENCES" --seed 0 \
  --out "$OUT/evaluation" 2>&1 | tee "$OUT/evaluate.log"

cat <<EOF

== done in $(( $(date +%s) - started )) s (training ${train_s} s). Outputs:
  episodes                      $OUT/data
  training runs (log.csv, checkpoints, best simulator.npz)  $OUT/train, $OUT/train2 (the final simulator)
  prediction error per step     $OUT/evaluation/metrics.csv, summary.json
  error curve, rollout          $OUT/evaluation/error_curve.png, object_curve.png, rollout.gif, rollout_frames.png
EOF
