#!/usr/bin/env bash
# Plays 10 episodes of Breakout inside the simulator saved in ./break (see
# training_script_breakout.sh), the agent seeing the simulator's frames: the
# test command of the original README. Real | simulated frames side by side,
# an animated GIF per episode and the agent's saliency maps are written under
# outdir/<time stamp>/; the last line is "n_runs: N mean: M median: D stdev S".
# Extra arguments are appended, e.g. `bash test_script_breakout.sh --eval-n-runs 1`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [ -x .venv/bin/python ]; then
  PATH="$PWD/.venv/bin:$PATH"
fi

OMP_NUM_THREADS=1 python examples/mygym/train_a3c_gym.py 1 --env Breakout-v0 --outdir outdir --t-max 5 --lr 7e-4 --min_reward -500 --beta 1e-2 --reward-scale-factor 1.0 --logger-level 20 --rmsprop-epsilon 1e-1 --eval-interval 10000000 --eval-n-runs 10 --loadtosim break --demo --render-b2w --chain_period 100 --num_output_channels_sim 512 "$@"
