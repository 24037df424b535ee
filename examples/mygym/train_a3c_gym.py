"""Train a recurrent simulator of an Atari game while an agent plays it, or
play a demo inside a trained simulator.

This script declares the flags; what they build and run lives in
:mod:`recurrent_sim.commands.original` (the agent plays in chainerrl's
``train_agent`` loop; a game wrapper hands every transition to the
simulator's trainer, step hooks evaluate the agent and stop on a signal).

Training (the agent sees the real game; every transition feeds the
simulator, which trains every --training_steps steps after
--warm_up_steps and is saved to --savesim every --saving_steps steps when
its error is the best so far)::

    python examples/mygym/train_a3c_gym.py 1 --env Breakout-v0 --savesim break \\
        --num_output_channels_sim 512 --steps 3000 --warm_up_steps 200

With ``processes`` N > 1, N game processes, each with its agent (A3C agents
learn asynchronously through chainerrl's ``train_agent_async``), feed their
transitions to this process, which trains the one simulator on all of them
(:mod:`recurrent_sim.agents.game_processes`)::

    python examples/mygym/train_a3c_gym.py 2 --env Breakout-v0 --savesim break --steps 6000

Demo (the agent sees the simulator's frames; reward and episode end come
from the real game running alongside)::

    python examples/mygym/train_a3c_gym.py 1 --env Breakout-v0 --loadtosim break \\
        --demo --render-b2w --chain_period 100 --eval-n-runs 1

Training an agent only inside a simulator with heads, scored on the real
game (reward and episode end come from the simulator's heads)::

    python examples/mygym/train_a3c_gym.py 1 --env BlockWorld-v1 --agent a3c --train-in-sim \
        --pretrained-sim blockworld --steps 40000 --eval-interval 40000 --eval-n-runs 50

``--recipe NAME`` takes a job's flags from a shipped recipe
(``recurrent_sim/recipes/NAME.json``; ``--recipe main-job`` is phase 1 of
run_main_job.sh); flags given on the line override it.

Errors a user can cause are reported in one line (exit status 2), and so
are failures of the machine (disk full, read-only folder: exit status 1).
Every check runs before anything is written: a refused run leaves no
folder behind. While it runs, the run folder and the --savesim folder are
locked against a second writer. A --savesim folder holding a simulator of
another run is only replaced by a better one on the same measure, or with
--overwrite. Nothing that is not finite is ever saved or loaded.
"""
import argparse
import contextlib
import cProfile
import logging
import os
import pstats
import sys

try:  # Ctrl-C while the modules load (the first second): taken once they are loaded, one line as later on
    from recurrent_sim.utils.signals import signals_deferred

    with signals_deferred():
        import chainerrl.misc

        from recurrent_sim.agents.settings import (
            AGENT_LR, BETA, LOAD, LR_DECAY, REWARD_SCALE_FACTOR, RMSPROP_EPSILON, T_MAX, WEIGHT_DECAY,
        )
        from recurrent_sim.commands.original.preparation import (
            check_args,
            prepare_outdir,
            prepare_simulator,
            prepare_training,
        )
        from recurrent_sim.commands.original.recipe import add_recipe_flag, parse_with_recipe
        from recurrent_sim.commands.original.settings import (
            AGENT, ARCH, CHAIN_PERIOD, DEMO, EVAL_INTERVAL, EVAL_N_RUNS, GIF_FRAMES, LOGGER_LEVEL, MIN_REWARD, MONITOR,
            OUTDIR, OVERWRITE, PROCESSES, PROFILE, RENDER, RENDER_B2W, SALIENCY_INTERVAL, SAVESIM, SIM_WARMUP_DATA,
            SIM_WARMUP_STEPS, STEPS, TRAIN_IN_SIM, add_original_flags,
        )
        from recurrent_sim.commands.original.runs import run_demo, run_training, run_training_in_sim
        from recurrent_sim.commands.validation import one_line_errors
        from recurrent_sim.envs import ENV, FRAME_BUFFER_LENGTH, FRAME_SIZE
        from recurrent_sim.envs.batched_simulated_game import SIM_EPISODE_LEN, SIM_REWARD
        from recurrent_sim.envs.preprocessing import MAX_EPISODE_STEPS
        from recurrent_sim.models import ARCHITECTURE, HEADS, HIDDEN_SIZE, architecture_names
        from recurrent_sim.pretrained import LOADTOSIM, PRETRAINED
        from recurrent_sim.training.optimizers import LR, OPTIMIZER
        from recurrent_sim.training.run_settings import BATCH_SIZE
        from recurrent_sim.training.schemes import BPTT_CHUNKS, CURRICULUM, SCHEME
        from recurrent_sim.training.sequence_loss import OBS_DEP, PRED_DEP, UNROLL_DEP
        from recurrent_sim.training.trainer import BUFFER_SIZE, SAVING_STEPS, TRAINING_STEPS, WARM_UP_STEPS
        from recurrent_sim.utils.device import GPU, use_device
        from recurrent_sim.utils.failures import report_failure
        from recurrent_sim.utils.files import write_undecodable_names
        from recurrent_sim.utils.locks import FolderLock
        from recurrent_sim.utils.settings import SEED, SETTINGS, SettingError, non_negative_int, positive_int
except KeyboardInterrupt:
    print(f"{os.path.basename(sys.argv[0]) or 'train_a3c_gym.py'}: interrupted", file=sys.stderr)
    sys.exit(130)


def build_parser():
    p = one_line_errors(argparse.ArgumentParser(
        description=(
            "Learn a recurrent simulator of a game from an A3C agent's play, or (--demo) let the agent "
            "play inside a saved simulator. Changes from the original script are marked 'changed:'."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    ))
    add_original_flags(p, PROCESSES)
    add_original_flags(p, ENV, help="gym id of a game with image frames (changed: was CartPole-v0, which has no "
                       "frames)")
    add_original_flags(p, ARCH, AGENT, SEED)
    add_original_flags(p, GPU, help="Chainer CUDA device id, -1 for the CPU")
    add_original_flags(p, OUTDIR, T_MAX, BETA, PROFILE, STEPS, EVAL_INTERVAL, EVAL_N_RUNS, REWARD_SCALE_FACTOR,
                       RMSPROP_EPSILON, RENDER)
    add_original_flags(p, AGENT_LR, dest="lr", help="A3C learning rate")
    add_original_flags(p, LR_DECAY, help=f"{LR_DECAY.help}; one game process only")
    add_original_flags(p, WEIGHT_DECAY, DEMO, TRAIN_IN_SIM, SIM_WARMUP_DATA)
    add_original_flags(p, SIM_EPISODE_LEN, help=f"with --train-in-sim: {SIM_EPISODE_LEN.help}")
    add_original_flags(p, SIM_REWARD, help="with --train-in-sim: the reward the agent gets, the reward head's first "
                       "class (-1, 0, +1) or its expected sign p(positive) - p(negative)")
    add_original_flags(p, LOAD, default="", metavar=None,
                       help="agent folder to load (model.npz, written by a previous run)")
    add_original_flags(p, LOGGER_LEVEL, MONITOR)
    add_original_flags(p, MAX_EPISODE_STEPS, dest="max_episode_len", help="end every episode (training, evaluation "
                       "and --demo) after this many steps (default: the game's own limit)")
    add_original_flags(p, FRAME_BUFFER_LENGTH)
    add_original_flags(p, FRAME_SIZE, default=None,
                       help=f"{FRAME_SIZE.help} (default: {FRAME_SIZE.default}, or the loaded simulator's)")
    add_original_flags(p, RENDER_B2W, SALIENCY_INTERVAL, GIF_FRAMES, MIN_REWARD)
    add_original_flags(p, LOADTOSIM, metavar=None,
                       help="simulator folder to load: continues its training, or is played in --demo")
    add_original_flags(p, PRETRAINED, dest="pretrained_sim",
                       help="a simulator shipped with the package (blockworld) in place of --loadtosim")
    HEADS.add_to(p, "--sim-heads", dest="sim_heads", help="a new simulator gets reward, episode-end and error heads, "
                 "trained online with the frame loss (default weights of recurrent-sim train)", show_default=False)
    add_original_flags(p, SAVESIM)
    for setting in (UNROLL_DEP, OBS_DEP, PRED_DEP):
        add_original_flags(p, setting, help=f"{setting.help}, in a training sequence")
    add_original_flags(p, SIM_WARMUP_STEPS)
    add_original_flags(p, BATCH_SIZE, help="sequences per simulator update")
    add_original_flags(p, WARM_UP_STEPS, type=non_negative_int)
    add_original_flags(p, TRAINING_STEPS, SAVING_STEPS, type=positive_int)
    add_original_flags(p, BUFFER_SIZE, dest="buffer_size_sim", type=positive_int)
    add_original_flags(p, CHAIN_PERIOD)
    add_original_flags(p, HIDDEN_SIZE, dest="num_output_channels_sim", default=None,
                       help=f"{HIDDEN_SIZE.help} (default: {HIDDEN_SIZE.default}, or the loaded simulator's)")
    add_original_flags(p, LR, dest="lr_sim", help="simulator learning rate")
    add_original_flags(p, OVERWRITE)
    add_original_flags(p, OPTIMIZER, dest="optimizer_sim", help=f"simulator optimiser: {OPTIMIZER.help}")
    ARCHITECTURE.add_to(p, "--sim-architecture", dest="sim_architecture", choices=architecture_names(),
                        help="simulator network: paper (the paper's encoder -> action LSTM -> decoder), original "
                        "(the original repository's smaller layers) or skip (skips, action-conditioned decoder, "
                        "residual output: learns fastest, see docs/fidelity.md) (default: paper, or the loaded "
                        "simulator's)", show_default=False)
    add_original_flags(p, SCHEME, help=SCHEME.help + " (default: the --obs_dep/--pred_dep split)")
    add_original_flags(p, BPTT_CHUNKS)
    add_original_flags(p, CURRICULUM, default=None)
    add_recipe_flag(p)
    return p


def run(args, argv):
    """Check everything, then lock the folders written, create the run folder and run the mode."""
    check_args(args)
    use_device(args.gpu)  # without CuPy or the device: one line, before anything is written
    chainerrl.misc.set_random_seed(args.seed, gpus=(args.gpu,) if args.gpu >= 0 else ())
    with contextlib.ExitStack() as locks:
        if args.savesim and not args.demo:
            folder = os.path.dirname(os.path.abspath(args.savesim)) if args.savesim.endswith(".npz") else args.savesim
            locks.enter_context(FolderLock(folder, "--savesim"))
        setup = prepare_simulator(args) if args.demo or args.train_in_sim else prepare_training(args)
        outdir = prepare_outdir(args, argv)
        locks.enter_context(FolderLock(outdir, "--outdir"))
        print(f"outputs in {outdir}", flush=True)
        run_mode = run_demo if args.demo else run_training_in_sim if args.train_in_sim else run_training
        if not args.profile:
            return run_mode(args, outdir, setup)
        profiler = cProfile.Profile()
        status = profiler.runcall(run_mode, args, outdir, setup)
        with open(os.path.join(outdir, "profile.txt"), "w") as f:
            pstats.Stats(profiler, stream=f).sort_stats("cumulative").print_stats(40)
        print(f"profile in {os.path.join(outdir, 'profile.txt')}")
        return status


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    prog = os.path.basename(sys.argv[0]) or "train_a3c_gym.py"
    try:
        try:
            args = parse_with_recipe(build_parser(), argv)
        except SystemExit as e:  # --help, or a bad flag already reported in one line
            return e.code
        logging.basicConfig(level=args.logger_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        write_undecodable_names()  # an --outdir whose name is not UTF-8 is printed, not a crash
        return run(args, [sys.argv[0]] + list(argv))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except SettingError as e:  # named by the library; this script's spelling for the user
        setting = SETTINGS[e.setting]
        print(f"{prog}: error: {e.message_for(setting.original_flag or setting.flag)}", file=sys.stderr)
        return 2
    except Exception as e:
        return report_failure(prog, e)


if __name__ == "__main__":
    sys.exit(main())
