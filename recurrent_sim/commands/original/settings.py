"""The settings that exist only on the original script (examples/mygym/train_a3c_gym.py).

Each one's ``original_flag`` is its spelling there and its name the
script's dest name (the key of the run's config.json and of a recipe's
``"original_script"`` object). The script's other flags come from the
library's settings (the agent's in :mod:`recurrent_sim.agents.settings`,
the simulator's beside the code that uses them) and from those of
``recurrent-sim`` (:mod:`recurrent_sim.commands.flags`), with the script's
own help where its meaning there is narrower.
"""
import logging

from recurrent_sim.utils.settings import Setting, finite_float, non_negative_int, positive_int

PROCESSES = Setting("processes", None, "number of game processes, each with its agent, that feed the one simulator "
                    "(changed: each process trained its own simulator); --demo plays in 1", int,
                    original_flag="processes")
ARCH = Setting("arch", "FFSoftmax", "agent network: convolutional head, softmax policy and value",
               choices=("FFSoftmax",), original_flag="--arch")
AGENT = Setting("agent", "acting", "'acting': A3C that only acts (gathers samples, never learns); 'a3c': A3C that "
                "learns and saves itself in the output folder", choices=("acting", "a3c"), original_flag="--agent")
OUTDIR = Setting("outdir", "results", "output folder; each run writes into a new time-stamped sub-folder",
                 original_flag="--outdir")
PROFILE = Setting("profile", False, "profile the run; writes profile.txt in the output folder", bool,
                  original_flag="--profile")
LOGGER_LEVEL = Setting("logger_level", logging.INFO, "logging level, 10 = DEBUG, 20 = INFO (changed: was 10, DEBUG)",
                       int, original_flag="--logger-level")
MONITOR = Setting("monitor", False, "record episode statistics with gym's Monitor under OUTDIR/monitor", bool,
                  original_flag="--monitor")

# training
STEPS = Setting("steps", 8 * 10 ** 7, "environment steps of a training run; Ctrl-C or SIGTERM stops it early after "
                "saving", positive_int, original_flag="--steps")
EVAL_INTERVAL = Setting("eval_interval", 10 ** 5, "steps between evaluations of the agent on the real game during "
                        "training", non_negative_int, original_flag="--eval-interval")
EVAL_N_RUNS = Setting("eval_n_runs", 10, "episodes per evaluation; in --demo, episodes played in the simulator",
                      non_negative_int, original_flag="--eval-n-runs")
MIN_REWARD = Setting("min_reward", None, "rewards below this become 0 for the agent (changed: the old default zeroed "
                     "every negative reward; now no reward is changed unless this is given)", finite_float,
                     original_flag="--min_reward")
SAVESIM = Setting("savesim", None, "folder for the best simulator so far, simulator.npz (changed: created when "
                  "missing)", original_flag="--savesim")
OVERWRITE = Setting("overwrite", False, "replace the simulator a --savesim folder holds from another run even if "
                    "this run's is not better (changed: it was always replaced; now only by a better one on the same "
                    "measure unless this is given)", bool, original_flag="--overwrite")

# --train-in-sim
TRAIN_IN_SIM = Setting("train_in_sim", False, "train the A3C agent (--agent a3c) only inside the simulated game of "
                       "--loadtosim (a simulator with heads gives reward and episode end; no emulator after each "
                       "warm-up) and score it on the real game every --eval-interval steps and at the end", bool,
                       original_flag="--train-in-sim")
SIM_WARMUP_DATA = Setting("sim_warmup_data", None, "with --train-in-sim: dataset folder (recurrent-sim collect) whose "
                          "episodes warm the simulated game up at each reset (default: --sim-warmup-steps random "
                          "steps of the real game)", metavar="DATASET", original_flag="--sim-warmup-data")

# --demo
DEMO = Setting("demo", False, "play --eval-n-runs episodes inside the simulator loaded with --loadtosim", bool,
               original_flag="--demo")
RENDER = Setting("render", False, "in --demo, write the game's RGB frames as PNGs under OUTDIR/render (no window is "
                 "opened)", bool, original_flag="--render")
RENDER_B2W = Setting("render_b2w", False, "in --demo, write real | simulated frames side by side as PNGs and an "
                     "animated GIF per episode under OUTDIR/b2w (changed: needed a display, now never does)", bool,
                     original_flag="--render-b2w")
SALIENCY_INTERVAL = Setting("saliency_interval", 10, "in --demo, steps between guided-backprop saliency maps of the "
                            "agent written under OUTDIR/saliency; 0 writes none", non_negative_int,
                            original_flag="--saliency-interval")
GIF_FRAMES = Setting("gif_frames", 300, "frames per episode in the --render-b2w GIF", non_negative_int,
                     original_flag="--gif-frames")
SIM_WARMUP_STEPS = Setting("sim_warmup_steps", None, "in --demo, real transitions the simulator is warmed up on at the "
                           "start of each episode (default: --unroll_dep; changed: was a fixed 600)", non_negative_int,
                           original_flag="--sim-warmup-steps")
CHAIN_PERIOD = Setting("chain_period", 20, "in --demo, predicted steps between re-synchronisations with the real "
                       "frame; 0: never", non_negative_int, original_flag="--chain_period")


def add_original_flags(parser, *settings, **overrides):
    """Add each setting's flag to the original script's ``parser``, spelt :attr:`Setting.original_flag`
    (else as on ``recurrent-sim``), with no default in its help (the script's help formatter appends
    it); ``overrides`` go to every :meth:`Setting.add_to` (``dest``, ``help``, ``default`` ...)."""
    for setting in settings:
        setting.add_to(parser, setting.original_flag or setting.flag, show_default=False, **overrides)
