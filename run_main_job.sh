#!/usr/bin/env bash
# The main job, from a fresh clone: sets up .venv, trains a simulator of
# Breakout while a non-learning A3C agent plays, saves it, plays one demo
# episode inside it (no display needed), measures its predictions over 100
# steps against the real game (recurrent-sim evaluate) and says where every
# output is.
#
#   bash run_main_job.sh
#
# The training uses the recipe of docs/fidelity.md, online: the skip
# simulator (skips, action-conditioned decoder, residual output) learns the
# motion with the paper's 33% scheme (10 warm-up frames, then 10 observed and
# 5 predicted steps), then goes on from that simulator with 67% of
# prediction-dependent steps over truncated BPTT(15, 4) so that long
# rollouts stay stable. With the sizes below the training takes about 15
# minutes on 2 CPU cores. The original script's own defaults are still the
# paper's network and split.
set -euo pipefail

PHASE1_STEPS=2200       # environment steps of phase 1 (motion)
PHASE2_STEPS=960        # environment steps of phase 2 (long rollouts)
WARM_UP_STEPS=600       # steps played before the simulator starts training, in each phase
TRAINING_STEPS=4        # steps between simulator updates (each transition is reused in many batches)
PHASE2_TRAINING_STEPS=4 # the same in phase 2 (its sequences are 71 frames, 3x the cost of phase 1's)
SAVING_STEPS=200        # steps between saves of the best simulator so far
BATCH_SIZE=16           # sequences per simulator update
UNROLL_DEP=10           # warm-up frames of a training sequence (no backprop)
ARCHITECTURE=skip       # --sim-architecture
LR_SIM=5e-4             # Adam step size of phase 1
LR_SIM2=2.5e-4          # Adam step size of phase 2
LSTM_SIZE=512           # --num_output_channels_sim, as in the original training script
EVAL_SEQUENCES=50       # held-out sequences of 10 warm-up + 100 predicted frames measured at the end
DEMO_EPISODES=1         # episodes played inside the simulator
DEMO_MAX_STEPS=1000     # bound on a demo episode's length
CHAIN_PERIOD=100        # demo: predicted steps between re-synchronisations with the real game
OUT="${MAIN_JOB_OUT:-runs/main_job}"  # everything this job writes, relative to the repository root

source "$(dirname "${BASH_SOURCE[0]}")/scripts/job_setup.sh"
python="$root/.venv/bin/python"

mkdir -p "$OUT"
simulator_dir="$OUT/break"
common=(1 --env Breakout-v0 --outdir "$OUT/outdir" --t-max 5 --lr 7e-4 --min_reward -500 --beta 1e-2
        --reward-scale-factor 1.0 --logger-level 20 --rmsprop-epsilon 1e-1 --eval-interval 10000000
        --num_output_channels_sim "$LSTM_SIZE")

phase1_dir="$OUT/break_phase1"
updates1=$(( (PHASE1_STEPS - WARM_UP_STEPS) / TRAINING_STEPS ))
updates2=$(( (PHASE2_STEPS - WARM_UP_STEPS) / PHASE2_TRAINING_STEPS ))
echo "== 2/4 training the simulator: $PHASE1_STEPS + $PHASE2_STEPS steps, $updates1 + $updates2 updates (log: $OUT/train.log)"
t0=$(date +%s)
"$python" examples/mygym/train_a3c_gym.py "${common[@]}" --eval-n-runs 0 --savesim "$phase1_dir" --overwrite \
  --sim-architecture "$ARCHITECTURE" --scheme 33 --unroll_dep "$UNROLL_DEP" --lr-sim "$LR_SIM" \
  --steps "$PHASE1_STEPS" --warm_up_steps "$WARM_UP_STEPS" --training_steps "$TRAINING_STEPS" \
  --saving_steps "$SAVING_STEPS" --batch_size "$BATCH_SIZE" 2>&1 | tee "$OUT/train.log"
"$python" examples/mygym/train_a3c_gym.py "${common[@]}" --eval-n-runs 0 --loadtosim "$phase1_dir" \
  --savesim "$simulator_dir" --overwrite --scheme 67 --bptt-chunks 4 --unroll_dep "$UNROLL_DEP" \
  --lr-sim "$LR_SIM2" --steps "$PHASE2_STEPS" --warm_up_steps "$WARM_UP_STEPS" \
  --training_steps "$PHASE2_TRAINING_STEPS" --saving_steps "$SAVING_STEPS" --batch_size "$BATCH_SIZE" \
  --seed 1 2>&1 | tee -a "$OUT/train.log"
train_dir=$(sed -n 's/^outputs in //p' "$OUT/train.log" | tail -1)
train_s=$(( $(date +%s) - t0 ))

echo "== 3/4 demo: $DEMO_EPISODES episode(s) inside the simulator (log: $OUT/demo.log)"
t0=$(date +%s)
"$python" examples/mygym/train_a3c_gym.py "${common[@]}" --eval-n-runs "$DEMO_EPISODES" --loadtosim "$simulator_dir" \
  --demo --render-b2w --chain_period "$CHAIN_PERIOD" --max-episode-len "$DEMO_MAX_STEPS" 2>&1 | tee "$OUT/demo.log"
demo_dir=$(sed -n 's/^outputs in //p' "$OUT/demo.log" | tail -1)
demo_s=$(( $(date +%s) - t0 ))

echo "== 4/4 evaluation: $EVAL_SEQUENCES held-out sequences, 100 predicted steps each (log: $OUT/evaluate.log)"
t0=$(date +%s)
"$root/.venv/bin/recurrent-sim" evaluate --loadtosim "$simulator_dir" --env Breakout-v0 \
  --sequences "$EVAL_SEQUENCES" --seed 0 --out "$OUT/evaluation" 2>&1 | tee "$OUT/evaluate.log"
eval_s=$(( $(date +%s) - t0 ))

cat <<EOF

== done in $(( $(date +%s) - started )) s (training ${train_s} s, demo ${demo_s} s, evaluation ${eval_s} s). Outputs:
  simulator checkpoint          $simulator_dir/simulator.npz
  training run (flags, command) $train_dir
  training log                  $OUT/train.log
  demo run (flags, command)     $demo_dir
  real | simulated frames       $demo_dir/b2w/episode_NNN/step_NNNNN.png
  animations                    $demo_dir/b2w/episode_NNN.gif
  agent saliency maps           $demo_dir/saliency/episode_NNN/step_NNNNN.png
  demo log (n_runs line last)   $OUT/demo.log
  prediction errors per step    $OUT/evaluation/metrics.csv, summary.json
  error curve, rollout          $OUT/evaluation/error_curve.png, rollout.gif, rollout_frames.png
  score                         $(grep '^n_runs:' "$OUT/demo.log" | tail -1)
EOF
