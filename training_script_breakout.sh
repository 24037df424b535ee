#!/usr/bin/env bash
# Trains a simulator of Breakout while a non-learning A3C agent plays, and
# saves the best one so far in ./break (created when missing): the training
# command of the original README. Runs until --steps (8e7 by default; stop
# it with Ctrl-C, what was learnt is saved). Extra arguments are appended:
#
#   bash training_script_breakout.sh --steps 3000 --warm_up_steps 200 --saving_steps 1000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [ -x .venv/bin/python ]; then
  PATH="$PWD/.venv/bin:$PATH"
fi

OMP_NUM_THREADS=1 python examples/mygym/train_a3c_gym.py 1 --env Breakout-v0 --outdir outdir --t-max 5 --lr 7e-4 --min_reward -500 --beta 1e-2 --reward-scale-factor 1.0 --logger-level 20 --rmsprop-epsilon 1e-1 --eval-interval 10000000 --eval-n-runs 0 --savesim break --warm_up_steps 600  --saving_steps 3000  --obs_dep 10 --pred_dep 15 --num_output_channels_sim 512 --batch_size 16 "$@"
