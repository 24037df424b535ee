"""Train a recurrent simulator of an Atari game while an agent plays it, or
play a demo inside a trained simulator.

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
import time

try:  # Ctrl-C while the modules load (the first second): taken once they are loaded, one line as later on
    from recurrent_sim.utils.signals import signals_deferred

    with signals_deferred():
        from recurrent_sim.commands.validation import check_agent_frame_size, one_line_errors
        from recurrent_sim.envs import ENV, FRAME_BUFFER_LENGTH, FRAME_SIZE
        from recurrent_sim.models import ARCHITECTURE, HEADS, HIDDEN_SIZE, architecture_names
        from recurrent_sim.training.optimizers import LR, OPTIMIZER
        from recurrent_sim.training.run_settings import BATCH_SIZE
        from recurrent_sim.training.schemes import BPTT_CHUNKS, CURRICULUM, SCHEME
        from recurrent_sim.training.sequence_loss import OBS_DEP, PRED_DEP, UNROLL_DEP
        from recurrent_sim.training.trainer import BUFFER_SIZE, SAVING_STEPS, TRAINING_STEPS, WARM_UP_STEPS
        from recurrent_sim.utils.device import GPU, use_device
        from recurrent_sim.utils.errors import UserError
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
            offset_seed,
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
    return p


def check_args(args):
    """Refuse flag combinations that cannot work, in one line (single values are checked by the parser)."""
    if args.pretrained_sim is not None:
        from recurrent_sim.pretrained import pretrained_path

        if args.loadtosim:
            raise UserError("give --loadtosim or --pretrained-sim, not both")
        args.loadtosim = pretrained_path(args.pretrained_sim)
    if args.processes < 1:
        raise UserError(f"processes must be at least 1 (got {args.processes})")
    if (args.demo or args.train_in_sim) and args.processes > 1:
        raise UserError(f"processes must be 1 with {'--demo' if args.demo else '--train-in-sim'} "
                        f"(got {args.processes}): it plays one game")
    if not args.demo and not args.train_in_sim:  # the training split, before any folder is made
        from recurrent_sim.training import SequenceSchedule
        from recurrent_sim.training.schemes import training_split

        try:
            training_split(SequenceSchedule(args.unroll_dep, args.obs_dep, args.pred_dep), args.scheme,
                           args.bptt_chunks, args.curriculum)
        except ValueError as e:
            raise UserError(str(e)) from None
    if args.train_in_sim and (args.demo or not args.loadtosim or args.agent != "a3c" or args.savesim):
        raise UserError("--train-in-sim needs --loadtosim DIR and --agent a3c, and takes neither --demo nor --savesim")
    if args.demo and not args.loadtosim:
        raise UserError("--demo needs --loadtosim DIR, a simulator saved by a training run with --savesim DIR")
    if args.demo and args.eval_n_runs < 1:
        raise UserError("--demo needs --eval-n-runs >= 1 (episodes to play in the simulator)")
    if args.frame_size is not None:
        check_agent_frame_size(args.frame_size, "use a larger --frame-size")
    if os.path.exists(args.outdir) and not os.path.isdir(args.outdir):
        raise UserError(f"--outdir {args.outdir} exists and is not a folder")


def prepare_outdir(args, argv):
    """A new time-stamped folder under --outdir (chainerrl's: args.txt, command.txt, environ.txt, git
    state) with the run's config.json (every flag, package versions, git commit) and an empty scores.txt."""
    from chainerrl.experiments import prepare_output_dir

    from recurrent_sim.utils.run_folder import write_run_config

    from recurrent_sim.utils.files import display_path

    # chainerrl writes command.txt as UTF-8 text: names that are not UTF-8 go in as \xNN
    outdir = prepare_output_dir(args, args.outdir, argv=[sys.executable] + [display_path(a) for a in argv])
    write_run_config(outdir, vars(args), argv=[sys.executable] + list(argv))
    return outdir


class Scores:
    """chainerrl's ``scores.txt`` in the run folder: its header, then one row per set of the agent's returns."""

    def __init__(self, outdir, agent):
        from chainerrl.experiments import evaluator

        self.outdir = outdir
        self.agent = agent
        self.started = time.time()
        self.record_stats = evaluator.record_stats
        columns = evaluator._basic_columns + tuple(name for name, _ in agent.get_statistics())
        with open(os.path.join(outdir, "scores.txt"), "w") as f:
            print("\t".join(columns), file=f)

    def record(self, steps, returns):
        """Append a row (steps, episodes, elapsed, mean, median, stdev, max, min, agent statistics)."""
        from recurrent_sim.agents.play import summarize

        if not returns:
            return
        stats = summarize(returns)
        values = (steps, len(returns), time.time() - self.started, stats["mean"], stats["median"], stats["stdev"],
                  max(returns), min(returns)) + tuple(value for _, value in self.agent.get_statistics())
        self.record_stats(self.outdir, values)


def make_game(args, seed, outdir=None):
    """The preprocessed real game (gray square frames, stacked)."""
    import gym

    from recurrent_sim.envs import PreprocessedEnv, make_env
    from recurrent_sim.envs.image_games import check_image_observations, refuse_non_image_id

    refuse_non_image_id(args.env)  # a game without image frames, refused before gym imports it
    env = make_env(args.env, seed=seed)  # UserError for an unknown or broken id
    check_image_observations(env, args.env)
    if args.max_episode_len:
        env = gym.wrappers.TimeLimit(env, max_episode_steps=args.max_episode_len)
    if outdir is not None and args.monitor:
        env = gym.wrappers.Monitor(env, os.path.join(outdir, "monitor"), video_callable=False, force=True)
    size = args.frame_size or FRAME_SIZE.default
    return PreprocessedEnv(env, size=(size, size), n_frames=args.frame_buffer_length)


def probe_actions(args) -> int:
    """The game's number of actions, after refusing frame sizes whose agent cannot fit in memory."""
    from recurrent_sim.models.footprint import agent_bytes
    from recurrent_sim.utils.memory import check_fits

    size = args.frame_size or FRAME_SIZE.default
    obs_shape = (args.frame_buffer_length, size, size)
    check_fits(agent_bytes(obs_shape, 18, learning=args.agent == "a3c") + 4 * obs_shape[0] * size * size,
               f"the agent (--frame-size {size}, --frame-buffer-length {args.frame_buffer_length})",
               "lower --frame-size")
    probe = make_game(args, args.seed)
    n_actions = probe.action_space.n
    probe.close()
    return n_actions


def load_simulator(args, n_actions):
    """The --loadtosim checkpoint, checked against the game and the flags."""
    from recurrent_sim.training import CheckpointError
    from recurrent_sim.commands.validation import load_simulator_checkpoint

    frame_shape = None if args.frame_size is None else (args.frame_size, args.frame_size)
    checkpoint = load_simulator_checkpoint(args.loadtosim, "--loadtosim", frame_shape, n_actions)
    config = checkpoint.config
    if args.num_output_channels_sim is not None and args.num_output_channels_sim != config.hidden_size:
        raise CheckpointError(
            f"{checkpoint.path} has an LSTM of {config.hidden_size} units, "
            f"--num_output_channels_sim asks for {args.num_output_channels_sim}"
        )
    saved_env = checkpoint.metadata.get("env_id")
    if saved_env and saved_env != args.env:
        logging.getLogger(__name__).warning("%s was trained on %s, not %s", checkpoint.path, saved_env, args.env)
    args.frame_size = config.frame_shape[0]
    return checkpoint


def make_agent(args, n_actions, obs_shape, seed=None, gpu=None):
    from recurrent_sim.agents import make_acting_agent, make_learning_agent

    load = args.load or None
    seed = args.seed if seed is None else seed
    gpu = args.gpu if gpu is None else gpu
    if args.agent == "acting" or args.demo:
        return make_acting_agent(n_actions, obs_shape, load=load, seed=seed, gpu=gpu)
    return make_learning_agent(
        n_actions, obs_shape, load=load, seed=seed, gpu=gpu, lr=args.lr,
        rmsprop_epsilon=args.rmsprop_epsilon, weight_decay=args.weight_decay, t_max=args.t_max, beta=args.beta,
    )


def print_rates(steps, seconds, steps_of_game, updates):
    """The speed of a training run: environment steps/s (all games) and simulator updates/s."""
    seconds = max(seconds, 1e-9)
    print(f"{steps} steps in {seconds:.1f} s ({steps / seconds:.1f} steps/s; per game: "
          f"{', '.join(map(str, steps_of_game))}), {updates} simulator updates ({updates / seconds:.2f} updates/s)",
          flush=True)


def print_stats(stats, prefix=""):
    print(f"{prefix}n_runs: {stats['n_runs']} mean: {stats['mean']} median: {stats['median']} "
          f"stdev {stats['stdev']}", flush=True)


def prepare_demo(args) -> dict:
    """Every check of a demo, before anything is written: the loaded simulator, on its device."""
    from recurrent_sim.commands.validation import check_simulator_memory

    n_actions = probe_actions(args)
    checkpoint = load_simulator(args, n_actions)
    check_simulator_memory(checkpoint.config)
    simulator = checkpoint.build_simulator()
    if not simulator.has_mean_image:
        raise UserError(f"{checkpoint.path} holds a simulator that was never trained (no mean image)")
    use_device(args.gpu, simulator)
    return {"n_actions": n_actions, "checkpoint": checkpoint, "simulator": simulator}


def run_demo(args, outdir, prepared):
    from recurrent_sim.agents.play import DemoRecorder, run_episodes, summarize
    from recurrent_sim.envs.sim_env import SimEnvironment

    checkpoint, simulator = prepared["checkpoint"], prepared["simulator"]
    game = make_game(args, args.seed, outdir)
    warmup = args.unroll_dep if args.sim_warmup_steps is None else args.sim_warmup_steps
    env = SimEnvironment(game, simulator=simulator, warmup_steps=warmup, chain_period=args.chain_period)
    agent = make_agent(args, prepared["n_actions"], game.observation_space.shape)
    recorder = DemoRecorder(outdir, side_by_side_frames=args.render_b2w, saliency_interval=args.saliency_interval,
                            gif_frames=args.gif_frames, raw_frames=args.render)
    scores_file = Scores(outdir, agent)
    print(f"demo: {args.eval_n_runs} episodes in the simulator of {checkpoint.path} "
          f"(warm-up {warmup} real steps, re-sync every {args.chain_period} steps)", flush=True)
    scores = run_episodes(env, agent, args.eval_n_runs, recorder=recorder)
    env.close()
    scores_file.record(0, scores)
    for kind, folder in (("b2w", "b2w"), ("saliency", "saliency"), ("render", "render")):
        if recorder.written[kind]:
            print(f"{recorder.written[kind]} {kind} images in {os.path.join(outdir, folder)}")
    if recorder.written["gif"]:
        print(f"{recorder.written['gif']} animated GIFs in {os.path.join(outdir, 'b2w')}")
    print_stats(summarize(scores))
    return 0


def run_training_in_sim(args, outdir, prepared):
    """Train the A3C agent inside the simulated game only; score it on the real game."""
    from recurrent_sim.agents.play import RewardFilter, run_episodes, summarize, train
    from recurrent_sim.envs.simulated_game import SimulatedGame
    from recurrent_sim.envs.warmup_sources import DatasetWarmups, LiveWarmups
    from recurrent_sim.utils.signals import StopRequest

    simulator = prepared["simulator"]
    warmup = args.unroll_dep if args.sim_warmup_steps is None else args.sim_warmup_steps
    warmup = max(1, warmup)
    if args.sim_warmup_data:
        from recurrent_sim.data.episodes import EpisodeDataset

        source = DatasetWarmups(EpisodeDataset([args.sim_warmup_data]).episodes, warmup, seed=args.seed)
        origin = f"windows of {args.sim_warmup_data}"
    else:
        source = LiveWarmups(make_game(args, offset_seed(args.seed, 2)), warmup, seed=args.seed)
        origin = "random steps of the real game"
    game = SimulatedGame(simulator, n_frames=args.frame_buffer_length, max_episode_steps=args.sim_episode_len,
                         warmup_source=source, reward_mode=args.sim_reward)
    agent = make_agent(args, prepared["n_actions"], game.observation_space.shape)
    scores_file = Scores(outdir, agent)
    eval_game = make_game(args, offset_seed(args.seed, 1))

    def evaluate(step):
        returns = run_episodes(eval_game, agent, args.eval_n_runs, description="evaluation on the real game")
        scores_file.record(step, returns)
        print_stats(summarize(returns), prefix=f"evaluation on the real game at step {step}: ")

    heads = (f"reward ({args.sim_reward}) and episode end from its heads" if simulator.has_heads
             else "no heads: reward 0")
    print(f"training in the simulated game: {args.steps} steps ({heads}; warm-ups of {warmup} frames from "
          f"{origin}; simulated episodes of at most {args.sim_episode_len} steps)", flush=True)
    with StopRequest() as stop:
        returns = train(game, agent, args.steps, RewardFilter(args.min_reward, args.reward_scale_factor),
                        evaluate=evaluate if args.eval_n_runs and args.eval_interval else None,
                        eval_interval=args.eval_interval, stop=stop)
    if returns:
        print_stats(summarize(returns), prefix="returns inside the simulated game: ")
    if args.eval_n_runs and not (args.eval_interval and args.steps % args.eval_interval == 0):
        evaluate(args.steps)
    agent_dir = os.path.join(outdir, f"{args.steps}_{'except' if stop.requested else 'finish'}")
    agent.save(agent_dir)
    print(f"agent saved in {agent_dir}")
    return stop.exit_code


def prepare_training(args) -> dict:
    """Every check of a training run, before anything is written: the simulator (loaded or new, its
    memory estimated first), its optimizer, the sample buffer's size and what --savesim may replace."""
    import dataclasses

    from recurrent_sim.models import build_simulator, simulator_config
    from recurrent_sim.models.footprint import sample_buffer_bytes
    from recurrent_sim.training import SequenceSchedule, TrainingSchedule, make_optimizer
    from recurrent_sim.training.schemes import training_split
    from recurrent_sim.training.savesim import plan_savesim
    from recurrent_sim.utils.memory import check_fits
    from recurrent_sim.commands.validation import check_buffer_size, check_simulator_memory

    try:
        sequence = training_split(SequenceSchedule(args.unroll_dep, args.obs_dep, args.pred_dep),
                                  args.scheme, args.bptt_chunks, args.curriculum)
        schedule = TrainingSchedule(args.batch_size, args.warm_up_steps, args.training_steps, args.saving_steps)
    except ValueError as e:
        raise UserError(str(e)) from None
    check_buffer_size(args.buffer_size_sim // args.processes, sequence,
                      "--buffer_size_sim" if args.processes == 1 else f"--buffer_size_sim / processes")
    n_actions = probe_actions(args)
    checkpoint = load_simulator(args, n_actions) if args.loadtosim else None
    if checkpoint is not None:
        config = checkpoint.config
    else:
        size = args.frame_size or FRAME_SIZE.default
        try:
            config = simulator_config(args.sim_architecture, frame_shape=(size, size), n_actions=n_actions,
                                      hidden_size=args.num_output_channels_sim or HIDDEN_SIZE.default,
                                      heads=args.sim_heads)
        except ValueError as e:
            raise UserError(str(e)) from None
    h, w = config.frame_shape
    memory = check_simulator_memory(config, args.optimizer_sim, args.batch_size, sequence.sequence_length - 1,
                                    "--num_output_channels_sim, --frame-size or --batch_size")
    check_fits(memory + sample_buffer_bytes(args.buffer_size_sim, (h, w)),
               f"the simulator and its sample buffer of {args.buffer_size_sim} {h}x{w} frames",
               "lower --buffer_size_sim or --num_output_channels_sim")
    plan = None
    if args.savesim:
        plan = plan_savesim(args.savesim, config, args.env, dataclasses.asdict(sequence),
                            checkpoint.path if checkpoint else None, args.overwrite)
    simulator = checkpoint.build_simulator() if checkpoint is not None else build_simulator(config)
    use_device(args.gpu, simulator)
    optimizer = make_optimizer(simulator, args.optimizer_sim, lr=args.lr_sim)
    if checkpoint is not None and checkpoint.has_optimizer:
        try:
            checkpoint.restore_optimizer(optimizer)
        except UserError as e:
            logging.getLogger(__name__).warning("optimizer state not restored (%s); it starts afresh", e)
    return {"n_actions": n_actions, "simulator": simulator, "optimizer": optimizer, "sequence": sequence,
            "schedule": schedule, "plan": plan}


def make_trainer(args, outdir, prepared, buffer):
    """The simulator trainer on ``buffer``, saving to --savesim under the plan of what it may replace."""
    from recurrent_sim.training import SimulatorTrainer

    plan, size = prepared["plan"], buffer.frame_shape[0]
    settings = {"frame_size": size, "seed": args.seed}
    if args.processes > 1:
        settings["processes"] = args.processes
    metadata = {"env_id": args.env, "settings": settings}
    trainer = SimulatorTrainer(prepared["simulator"], prepared["optimizer"], buffer, prepared["sequence"],
                               prepared["schedule"], savesim=args.savesim, metadata=metadata, run_log=outdir)
    if plan is not None:
        trainer.best_error = plan.error_to_beat
        if plan.message:
            print(plan.message, flush=True)
    print(f"training: {args.steps} steps of {args.env}{f' in {args.processes} games' if args.processes > 1 else ''}; "
          f"simulator ({trainer.simulator.config.hidden_size} LSTM units, {size}x{size} frames) trains every "
          f"{args.training_steps} steps after {args.warm_up_steps}", flush=True)
    return trainer


def save_simulator(args, trainer, prepared):
    """The final save of a training run to --savesim (if it learnt and is the best), and what happened."""
    from recurrent_sim.training.savesim import not_saved_message

    plan, sequence = prepared["plan"], prepared["sequence"]
    if trainer.updates and trainer.last_saved_path is None:
        trainer.save_if_best(force=not plan.protected)
    else:
        trainer.save_if_best()
    if trainer.last_saved_path:
        outcome = plan.outcome()
        print(f"simulator saved in {trainer.last_saved_path} ({trainer.updates} updates, "
              f"best error {trainer.best_error:.6f}){'; ' + outcome if outcome else ''}")
    elif trainer.updates:
        print(not_saved_message(plan, trainer.last_error if trainer.last_error is not None else trainer.best_error))
    else:
        print(f"no simulator saved: it never trained ({trainer.steps} steps played, training starts after "
              f"--warm_up_steps {args.warm_up_steps} once sequences of {sequence.sequence_length} frames "
              "without an episode end are stored)")


def run_training(args, outdir, prepared):
    from recurrent_sim.agents.play import RewardFilter, run_episodes, summarize, train
    from recurrent_sim.data import SampleBuffer
    from recurrent_sim.utils.signals import StopRequest

    if args.processes > 1:
        return run_game_processes(args, outdir, prepared)
    game = make_game(args, args.seed, outdir)
    trainer = make_trainer(args, outdir, prepared, SampleBuffer(args.buffer_size_sim, game.frame_shape, seed=args.seed))
    agent = make_agent(args, prepared["n_actions"], game.observation_space.shape)
    scores_file = Scores(outdir, agent)

    evaluate = None
    if args.eval_n_runs > 0 and args.eval_interval > 0:
        eval_game = make_game(args, offset_seed(args.seed, 1))

        def evaluate(step):
            returns = run_episodes(eval_game, agent, args.eval_n_runs, description="evaluation")
            scores_file.record(step, returns)
            print_stats(summarize(returns), prefix=f"evaluation at step {step}: ")

    started = time.time()
    with StopRequest() as stop:
        returns = train(game, agent, args.steps, RewardFilter(args.min_reward, args.reward_scale_factor),
                        evaluate=evaluate, eval_interval=args.eval_interval, stop=stop, recorders=[trainer])
    interrupted = stop.requested
    trainer.close()
    print_rates(trainer.steps, time.time() - started, [trainer.steps], trainer.updates)
    scores_file.record(trainer.steps, returns)
    if interrupted:
        print(f"{stop.name} received after {trainer.steps} steps: saving what was learnt", file=sys.stderr)
    if args.savesim:
        save_simulator(args, trainer, prepared)
    if args.agent == "a3c":
        agent_dir = os.path.join(outdir, f"{trainer.steps}_{'except' if interrupted else 'finish'}")
        agent.save(agent_dir)
        print(f"agent saved in {agent_dir}")
    game.close()
    return stop.exit_code


def run_game_processes(args, outdir, prepared):
    """Training with ``processes`` N > 1: N games, each with its agent, feed this process's simulator."""
    from recurrent_sim.agents.game_processes import GameProcesses, train_from_games
    from recurrent_sim.agents.play import RewardFilter
    from recurrent_sim.data.game_buffers import MultiGameBuffer
    from recurrent_sim.utils.signals import StopRequest

    size = prepared["simulator"].config.frame_shape[0]
    buffer = MultiGameBuffer(args.buffer_size_sim, (size, size), args.processes, seed=args.seed)
    trainer = make_trainer(args, outdir, prepared, buffer)
    obs_shape = (args.frame_buffer_length, size, size)
    evaluating = args.eval_n_runs > 0 and args.eval_interval > 0
    games = GameProcesses(
        args.processes,
        # game i plays with seed --seed + 1000 i (game 0 as with one process), evaluations with one more
        # (modulo 2**32);
        # game 0 is the one --monitor records
        make_env=lambda i, test: make_game(args, offset_seed(args.seed, 1000 * i + int(test)),
                                           outdir if i == 0 and not test else None),
        # forked game processes cannot use the CUDA context of this one: their agents run on the CPU
        make_agent=lambda i: make_agent(args, prepared["n_actions"], obs_shape, seed=offset_seed(args.seed, 1000 * i),
                                        gpu=-1),
        steps=args.steps, outdir=outdir, reward_filter=RewardFilter(args.min_reward, args.reward_scale_factor),
        eval_interval=args.eval_interval if evaluating else None, eval_n_episodes=args.eval_n_runs,
        save_agent=args.agent == "a3c")
    with StopRequest() as stop:
        rates = train_from_games(games, trainer, stop)
    trainer.close()
    if stop.requested:
        print(f"{stop.name} received after {trainer.steps} steps: saving what was learnt", file=sys.stderr)
    print_rates(rates["steps"], rates["seconds"], rates["steps_of_game"], rates["updates"])
    if args.savesim:
        save_simulator(args, trainer, prepared)
    return stop.exit_code


def run(args, argv):
    """Check everything, then lock the folders written, create the run folder and run."""
    check_args(args)
    use_device(args.gpu)  # without CuPy or the device: one line, before anything is written
    import chainerrl.misc

    chainerrl.misc.set_random_seed(args.seed, gpus=(args.gpu,) if args.gpu >= 0 else ())
    with contextlib.ExitStack() as locks:
        if args.savesim and not args.demo:
            folder = os.path.dirname(os.path.abspath(args.savesim)) if args.savesim.endswith(".npz") else args.savesim
            locks.enter_context(FolderLock(folder, "--savesim"))
        prepared = prepare_demo(args) if args.demo or args.train_in_sim else prepare_training(args)
        outdir = prepare_outdir(args, argv)
        locks.enter_context(FolderLock(outdir, "--outdir"))
        print(f"outputs in {outdir}", flush=True)
        run_mode = run_demo if args.demo else run_training_in_sim if args.train_in_sim else run_training
        if not args.profile:
            return run_mode(args, outdir, prepared)
        profiler = cProfile.Profile()
        status = profiler.runcall(run_mode, args, outdir, prepared)
        with open(os.path.join(outdir, "profile.txt"), "w") as f:
            pstats.Stats(profiler, stream=f).sort_stats("cumulative").print_stats(40)
        print(f"profile in {os.path.join(outdir, 'profile.txt')}")
        return status


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    prog = os.path.basename(sys.argv[0]) or "train_a3c_gym.py"
    try:
        try:
            args = build_parser().parse_args(argv)
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
