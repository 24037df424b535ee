"""The real game, the agent and the loaded simulator of the original script, from its flags (``args``)."""
import logging
import os

import gym

from recurrent_sim.agents import make_acting_agent, make_learning_agent
from recurrent_sim.commands.validation import load_simulator
from recurrent_sim.envs import FRAME_SIZE, PreprocessedEnv, make_env
from recurrent_sim.envs.image_games import check_image_observations, refuse_non_image_id
from recurrent_sim.models.footprint import agent_bytes
from recurrent_sim.training import CheckpointError
from recurrent_sim.utils.memory import check_fits

logger = logging.getLogger(__name__)


def frame_size(args) -> int:
    """The side of the square frames, pixels: --frame-size, or the default."""
    return args.frame_size or FRAME_SIZE.default


def make_game(args, seed, outdir=None) -> PreprocessedEnv:
    """The preprocessed real game: (--frame-buffer-length, size, size) uint8 stacked gray frames.

    --max-episode-len ends episodes early; with ``outdir`` and --monitor,
    gym's Monitor records episode statistics under ``outdir/monitor``.
    """
    refuse_non_image_id(args.env)  # a game without image frames, refused before gym imports it
    env = make_env(args.env, seed=seed)  # UserError for an unknown or broken id
    check_image_observations(env, args.env)
    if args.max_episode_len:
        env = gym.wrappers.TimeLimit(env, max_episode_steps=args.max_episode_len)
    if outdir is not None and args.monitor:
        env = gym.wrappers.Monitor(env, os.path.join(outdir, "monitor"), video_callable=False, force=True)
    size = frame_size(args)
    return PreprocessedEnv(env, size=(size, size), n_frames=args.frame_buffer_length)


def probe_actions(args) -> int:
    """The game's number of actions, after refusing frame sizes whose agent cannot fit in memory."""
    size = frame_size(args)
    obs_shape = (args.frame_buffer_length, size, size)
    check_fits(agent_bytes(obs_shape, 18, learning=args.agent == "a3c") + 4 * obs_shape[0] * size * size,
               f"the agent (--frame-size {size}, --frame-buffer-length {args.frame_buffer_length})",
               "lower --frame-size")
    probe = make_game(args, args.seed)
    n_actions = probe.action_space.n
    probe.close()
    return n_actions


def load_loadtosim(args, n_actions):
    """The --loadtosim checkpoint, checked against the game and the flags; sets --frame-size to its frames'."""
    frame_shape = None if args.frame_size is None else (args.frame_size, args.frame_size)
    checkpoint, _ = load_simulator(args.loadtosim, "--loadtosim", frame_shape, n_actions)
    config = checkpoint.config
    if args.num_output_channels_sim is not None and args.num_output_channels_sim != config.hidden_size:
        raise CheckpointError(
            f"{checkpoint.path} has an LSTM of {config.hidden_size} units, "
            f"--num_output_channels_sim asks for {args.num_output_channels_sim}"
        )
    saved_env = checkpoint.metadata.get("env_id")
    if saved_env and saved_env != args.env:
        logger.warning("%s was trained on %s, not %s", checkpoint.path, saved_env, args.env)
    args.frame_size = config.frame_shape[0]
    return checkpoint


def make_agent(args, n_actions, obs_shape, seed=None, gpu=None):
    """The agent of --agent (a learning A3C, or one that only acts; always acting in --demo), --load restored."""
    load = args.load or None
    seed = args.seed if seed is None else seed
    gpu = args.gpu if gpu is None else gpu
    if args.agent == "acting" or args.demo:
        return make_acting_agent(n_actions, obs_shape, load=load, seed=seed, gpu=gpu)
    return make_learning_agent(
        n_actions, obs_shape, load=load, seed=seed, gpu=gpu, lr=args.lr,
        rmsprop_epsilon=args.rmsprop_epsilon, weight_decay=args.weight_decay, t_max=args.t_max, beta=args.beta,
    )
