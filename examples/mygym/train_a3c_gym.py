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

        from recurrent_sim.commands.original.preparation import (
            check_args,
            prepare_outdir,
            prepare_simulator,
            prepare_training,
        )
        from recurrent_sim.commands.original.recipe import add_recipe_flag, parse_with_recipe
        from recurrent_sim.commands.original.runs import run_demo, run_training, run_training_in_sim
        from recurrent_sim.commands.validation import one_line_errors
        from recurrent_sim.envs import ENV, FRAME_BUFFER_LENGTH, FRAME_SIZE
        from recurrent_sim.models import ARCHITECTURE, HEADS, HIDDEN_SIZE, architecture_names
        from recurrent_sim.training.optimizers import LR, OPTIMIZER
        from recurrent_sim.training.run_settings import BATCH_SIZE
        from recurrent_sim.training.schemes import BPTT_CHUNKS, CURRICULUM, SCHEME
        from recurrent_sim.training.sequence_loss import OBS_DEP, PRED_DEP, UNROLL_DEP
        from recurrent_sim.training.trainer import BUFFER_SIZE, SAVING_STEPS, TRAINING_STEPS, WARM_UP_STEPS
        from recurrent_sim.utils.device import GPU, use_device
        from recurrent_sim.utils.failures import report_failure
        from recurrent_sim.utils.files import write_undecodable_names
        from recurrent_sim.utils.locks import FolderLock
        from recurrent_sim.utils.settings import (
            SEED,
            SETTINGS,
            SettingError,
            finite_float,
            non_negative_float,
            non_negative_int,
            positive_float,
            positive_int,
        )
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
    p.add_argument("processes", type=int,
                   help="number of game processes, each with its agent, that feed the one simulator (changed: "
                        "each process trained its own simulator); --demo plays in 1")
    ENV.add_to(p, help="gym id of a game with image frames (changed: was CartPole-v0, which has no frames)",
               show_default=False)
    p.add_argument("--arch", default="FFSoftmax", choices=["FFSoftmax"],
                   help="agent network: convolutional head, softmax policy and value")
    p.add_argument("--agent", default="acting", choices=["acting", "a3c"],
                   help="'acting': A3C that only acts (gathers samples, never learns); 'a3c': A3C that learns "
                        "and saves itself in the output folder")
    SEED.add_to(p, show_default=False)
    GPU.add_to(p, help="Chainer CUDA device id, -1 for the CPU", show_default=False)
    p.add_argument("--outdir", default="results",
                   help="output folder; each run writes into a new time-stamped sub-folder")
    p.add_argument("--t-max", type=positive_int, default=5, help="A3C rollout length, steps")
    p.add_argument("--beta", type=non_negative_float, default=1e-2, help="A3C entropy weight")
    p.add_argument("--profile", action="store_true", help="profile the run; writes profile.txt in the output folder")
    p.add_argument("--steps", type=positive_int, default=8 * 10 ** 7,
                   help="environment steps of a training run; Ctrl-C or SIGTERM stops it early after saving")
    p.add_argument("--eval-interval", type=non_negative_int, default=10 ** 5,
                   help="steps between evaluations of the agent on the real game during training")
    p.add_argument("--eval-n-runs", type=non_negative_int, default=10,
                   help="episodes per evaluation; in --demo, episodes played in the simulator")
    p.add_argument("--reward-scale-factor", type=positive_float, default=1e-2, help="the agent learns from reward x this")
    p.add_argument("--rmsprop-epsilon", type=positive_float, default=1e-1, help="A3C RMSProp epsilon")
    p.add_argument("--render", action="store_true",
                   help="in --demo, write the game's RGB frames as PNGs under OUTDIR/render (no window is opened)")
    p.add_argument("--lr", type=positive_float, default=7e-4, help="A3C learning rate")
    p.add_argument("--weight-decay", type=non_negative_float, default=0.0, help="A3C weight decay")
    p.add_argument("--demo", action="store_true",
                   help="play --eval-n-runs episodes inside the simulator loaded with --loadtosim")
    p.add_argument("--train-in-sim", action="store_true",
                   help="train the A3C agent (--agent a3c) only inside the simulated game of --loadtosim (a "
                        "simulator with heads gives reward and episode end; no emulator after each warm-up) and "
                        "score it on the real game every --eval-interval steps and at the end")
    p.add_argument("--sim-warmup-data", default=None, metavar="DATASET",
                   help="with --train-in-sim: dataset folder (recurrent-sim collect) whose episodes warm the "
                        "simulated game up at each reset (default: --sim-warmup-steps random steps of the real game)")
    p.add_argument("--sim-episode-len", type=positive_int, default=50,
                   help="with --train-in-sim: steps after which a simulated episode ends if the episode-end head "
                        "has not ended it")
    p.add_argument("--sim-reward", default="class", choices=["class", "expected"],
                   help="with --train-in-sim: the reward the agent gets, the reward head's first class (-1, 0, +1) "
                        "or its expected sign p(positive) - p(negative)")
    p.add_argument("--load", default="", help="agent folder to load (model.npz, written by a previous run)")
    p.add_argument("--logger-level", type=int, default=logging.INFO,
                   help="logging level, 10 = DEBUG, 20 = INFO (changed: was 10, DEBUG)")
    p.add_argument("--monitor", action="store_true",
                   help="record episode statistics with gym's Monitor under OUTDIR/monitor")
    p.add_argument("--max-episode-len", type=positive_int, default=None,
                   help="end every episode (training, evaluation and --demo) after this many steps "
                        "(default: the game's own limit)")
    FRAME_BUFFER_LENGTH.add_to(p, show_default=False)
    FRAME_SIZE.add_to(p, default=None, show_default=False,
                      help=f"{FRAME_SIZE.help} (default: {FRAME_SIZE.default}, or the loaded simulator's)")
    p.add_argument("--render-b2w", action="store_true",
                   help="in --demo, write real | simulated frames side by side as PNGs and an animated GIF per "
                        "episode under OUTDIR/b2w (changed: needed a display, now never does)")
    p.add_argument("--saliency-interval", type=non_negative_int, default=10,
                   help="in --demo, steps between guided-backprop saliency maps of the agent written under "
                        "OUTDIR/saliency; 0 writes none")
    p.add_argument("--gif-frames", type=non_negative_int, default=300, help="frames per episode in the --render-b2w GIF")
    p.add_argument("--min_reward", type=finite_float, default=None,
                   help="rewards below this become 0 for the agent (changed: the old default zeroed every "
                        "negative reward; now no reward is changed unless this is given)")
    p.add_argument("--loadtosim", default=None,
                   help="simulator folder to load: continues its training, or is played in --demo")
    p.add_argument("--pretrained-sim", default=None, metavar="NAME",
                   help="a simulator shipped with the package (blockworld) in place of --loadtosim")
    HEADS.add_to(p, "--sim-heads", dest="sim_heads", help="a new simulator gets reward, episode-end and error heads, "
                 "trained online with the frame loss (default weights of recurrent-sim train)", show_default=False)
    p.add_argument("--savesim", default=None,
                   help="folder for the best simulator so far, simulator.npz (changed: created when missing)")
    for setting in (UNROLL_DEP, OBS_DEP, PRED_DEP):
        setting.add_to(p, setting.original_flag, help=f"{setting.help}, in a training sequence",
                       show_default=False)
    p.add_argument("--sim-warmup-steps", type=non_negative_int, default=None,
                   help="in --demo, real transitions the simulator is warmed up on at the start of each episode "
                        "(default: --unroll_dep; changed: was a fixed 600)")
    BATCH_SIZE.add_to(p, BATCH_SIZE.original_flag, help="sequences per simulator update",
                      show_default=False)
    WARM_UP_STEPS.add_to(p, WARM_UP_STEPS.original_flag, type=non_negative_int, show_default=False)
    for setting in (TRAINING_STEPS, SAVING_STEPS):
        setting.add_to(p, setting.original_flag, type=positive_int, show_default=False)
    BUFFER_SIZE.add_to(p, BUFFER_SIZE.original_flag, dest="buffer_size_sim", type=positive_int, show_default=False)
    p.add_argument("--chain_period", type=non_negative_int, default=20,
                   help="in --demo, predicted steps between re-synchronisations with the real frame; 0: never")
    HIDDEN_SIZE.add_to(p, HIDDEN_SIZE.original_flag, dest="num_output_channels_sim", default=None,
                       help=f"{HIDDEN_SIZE.help} (default: {HIDDEN_SIZE.default}, or the loaded simulator's)",
                       show_default=False)
    LR.add_to(p, LR.original_flag, dest="lr_sim", help="simulator learning rate", show_default=False)
    p.add_argument("--overwrite", action="store_true",
                   help="replace the simulator a --savesim folder holds from another run even if this run's is "
                        "not better (changed: it was always replaced; now only by a better one on the same "
                        "measure unless this is given)")
    OPTIMIZER.add_to(p, OPTIMIZER.original_flag, dest="optimizer_sim", help=f"simulator optimiser: {OPTIMIZER.help}",
                     show_default=False)
    ARCHITECTURE.add_to(p, "--sim-architecture", dest="sim_architecture", choices=architecture_names(),
                        help="simulator network: paper (the paper's encoder -> action LSTM -> decoder), original "
                        "(the original repository's smaller layers) or skip (skips, action-conditioned decoder, "
                        "residual output: learns fastest, see docs/fidelity.md) (default: paper, or the loaded "
                        "simulator's)", show_default=False)
    SCHEME.add_to(p, help=SCHEME.help + " (default: the --obs_dep/--pred_dep split)", show_default=False)
    BPTT_CHUNKS.add_to(p, show_default=False)
    CURRICULUM.add_to(p, CURRICULUM.original_flag, default=None, show_default=False)
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
