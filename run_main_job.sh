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
# rollouts stay stable; phase 2 plays 2 500 steps before it trains, so that
# its buffer holds varied play. With the sizes below the training takes
# 13 processor-minutes on one thread (under 15 minutes on 2 CPU cores). The
# original script's own defaults are still the paper's network and split.
set -euo pipefail

# Every size below can be set from the environment, e.g. PHASE2_UPDATES=200 bash run_main_job.sh
PHASE1_UPDATES="${PHASE1_UPDATES:-200}"    # simulator updates of phase 1 (motion: 10 observed + 5 predicted steps)
PHASE2_UPDATES="${PHASE2_UPDATES:-68}"     # simulator updates of phase 2 (long rollouts: 20 observed + 40 predicted steps)
WARM_UP_STEPS="${WARM_UP_STEPS:-1000}"     # game steps played before phase 1's first update (fills the sample buffer)
PHASE2_WARM_UP_STEPS="${PHASE2_WARM_UP_STEPS:-2500}"  # the same for phase 2: its 71-frame sequences need varied play
TRAINING_STEPS="${TRAINING_STEPS:-4}"      # game steps between simulator updates (each transition is reused in many batches)
SAVING_STEPS="${SAVING_STEPS:-200}"        # game steps between saves of the best simulator so far
PHASE2_BATCH_SIZE="${PHASE2_BATCH_SIZE:-32}"  # sequences per simulator update, phase 2 (per processor-second, larger batches made long rollouts steadier)
LR_SIM2="${LR_SIM2:-2.5e-4}"               # Adam step size of phase 2
# The rest of phase 1 (Breakout-v0, the non-learning agent's settings, the skip simulator with LSTM 512, scheme 33,
# 10 warm-up frames, Adam 5e-4, batches of 16) is the recipe recurrent_sim/recipes/main-job.json; these, when set,
# override it in both phases: BATCH_SIZE (phase 1), UNROLL_DEP, ARCHITECTURE (--sim-architecture), LR_SIM (phase 1),
# LSTM_SIZE (--num_output_channels_sim).
EVAL_SEQUENCES="${EVAL_SEQUENCES:-50}"     # held-out sequences of 10 warm-up + 100 predicted frames measured at the end
DEMO_EPISODES="${DEMO_EPISODES:-1}"        # episodes played inside the simulator
DEMO_MAX_STEPS="${DEMO_MAX_STEPS:-1000}"   # bound on a demo episode's length
CHAIN_PERIOD="${CHAIN_PERIOD:-100}"        # demo: predicted steps between re-synchronisations with the real game
OUT="${MAIN_JOB_OUT:-runs/main_job}"  # everything this job writes, relative to the repository root

source "$(dirname "${BASH_SOURCE[0]}")/scripts/job_setup.sh"
python="$root/.venv/bin/python"

mkdir -p "$OUT"
simulator_dir="$OUT/break"
# The demo plays with the recipe's agent and game settings (not its training ones: the demo keeps the default
# --unroll_dep 15 for its warm-up).
demo_flags=(1 --env Breakout-v0 --outdir "$OUT/outdir" --t-max 5 --lr 7e-4 --min_reward -500 --beta 1e-2
            --reward-scale-factor 1.0 --logger-level 20 --rmsprop-epsilon 1e-1 --eval-interval 10000000
            --num_output_channels_sim "${LSTM_SIZE:-512}")
overrides=(${UNROLL_DEP:+--unroll_dep "$UNROLL_DEP"} ${ARCHITECTURE:+--sim-architecture "$ARCHITECTURE"}
           ${LSTM_SIZE:+--num_output_channels_sim "$LSTM_SIZE"})

phase1_dir="$OUT/break_phase1"
phase1_steps=$(( WARM_UP_STEPS + PHASE1_UPDATES * TRAINING_STEPS ))
phase2_steps=$(( PHASE2_WARM_UP_STEPS + PHASE2_UPDATES * TRAINING_STEPS ))
echo "== 2/4 training the simulator: $phase1_steps + $phase2_steps game steps, $PHASE1_UPDATES + $PHASE2_UPDATES updates (log: $OUT/train.log)"
t0=$(date +%s)
"$python" examples/mygym/train_a3c_gym.py 1 --recipe main-job --outdir "$OUT/outdir" --savesim "$phase1_dir" \
  "${overrides[@]}" ${BATCH_SIZE:+--batch_size "$BATCH_SIZE"} ${LR_SIM:+--lr-sim "$LR_SIM"} \
  --steps "$phase1_steps" --warm_up_steps "$WARM_UP_STEPS" --training_steps "$TRAINING_STEPS" \
  --saving_steps "$SAVING_STEPS" 2>&1 | tee "$OUT/train.log"
"$python" examples/mygym/train_a3c_gym.py 1 --recipe main-job --outdir "$OUT/outdir" --loadtosim "$phase1_dir" \
  --savesim "$simulator_dir" "${overrides[@]}" --scheme 67 --bptt-chunks 4 --lr-sim "$LR_SIM2" \
  --steps "$phase2_steps" --warm_up_steps "$PHASE2_WARM_UP_STEPS" --training_steps "$TRAINING_STEPS" \
  --saving_steps "$SAVING_STEPS" --batch_size "$PHASE2_BATCH_SIZE" --seed 1 2>&1 | tee -a "$OUT/train.log"
train_dir=$(sed -n 's/^outputs in //p' "$OUT/train.log" | tail -1)
train_s=$(( $(date +%s) - t0 ))

echo "== 3/4 demo: $DEMO_EPISODES episode(s) inside the simulator (log: $OUT/demo.log)"
t0=$(date +%s)
"$python" examples/mygym/train_a3c_gym.py "${demo_flags[@]}" --eval-n-runs "$DEMO_EPISODES" --loadtosim "$simulator_dir" \
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
  error curve, rollout          $OUT/evaluation/error_curve.png, object_curve.png, rollout.gif, rollout_frames.png
  score                         $(grep '^n_runs:' "$OUT/demo.log" | tail -1)
EOF
